"""The step interpreter: plays a concrete case's steps on an adapter.

The same function runs the reference (to get the expected outcome) and every
target (to get the actual one), so both see exactly the same calls. Each step
yields one observation:

    {"ok": value}          the step returned (None for steps that return nothing)
    {"raised": {...}}      the implementation raised: type name, its bases, message
    {"unsupported": why}   the adapter cannot express this step; the case stops
    {"skipped": why}       not run, because the layer could not be created
"""

from conformance.targets.base import Unsupported


def run_steps(adapter, case):
    observations = []
    have_layer = True
    for step in case["steps"]:
        if not have_layer:
            observations.append({"skipped": "the layer could not be created"})
            continue
        try:
            value = getattr(adapter, step["op"])(**step["args"])
            observations.append({"ok": value})
        except Unsupported as exc:
            observations.append({"unsupported": str(exc) or step["op"]})
            break
        except Exception as exc:  # noqa: BLE001 - the implementation's own errors are observations
            observations.append({"raised": exception_info(exc)})
            if step["op"] == "create":
                have_layer = False
    return observations


def exception_info(exc):
    names = [cls.__name__ for cls in type(exc).__mro__ if cls not in (object, BaseException)]
    message = str(exc).strip().splitlines()
    return {"type": type(exc).__name__, "types": names, "message": message[0] if message else ""}

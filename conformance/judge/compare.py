"""Comparison: the one place where a verdict is made.

`judge` walks a case's steps side by side: the reference's observations
(expected), the target's (actual), and the case's literal `expect:` blocks.
Arrays are compared by shape, then dtype, then NaN/Inf pattern, then values
under the tolerance policy. A step whose `expect` has `any_of` passes when
one variant does, and the verdict names that variant.
"""

import math
import re
from dataclasses import asdict, dataclass, field

import numpy as np

from conformance.judge import checks
from conformance.judge import tolerance
from conformance.arrays import Observed

# The constructor arguments both pages list: what get_config must carry over.
CONFIG_KEYS = (
    "units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer",
    "bias_initializer", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
    "activity_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint",
    "dropout", "recurrent_dropout", "return_sequences", "return_state", "go_backwards",
    "stateful", "unroll")


@dataclass
class Verdict:
    status: str  # pass | fail | error | unsupported   (crash and timeout come from the runner)
    message: str = ""
    step: int | None = None
    op: str | None = None
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    variant: str | None = None
    tolerance: dict | None = None
    details: list = field(default_factory=list)

    def to_dict(self):
        return {k: v for k, v in asdict(self).items() if v not in (None, [], "")}


class _Metrics:
    def __init__(self):
        self.max_abs = None
        self.max_rel = None

    def add(self, abs_err, rel_err):
        self.max_abs = abs_err if self.max_abs is None else max(self.max_abs, abs_err)
        self.max_rel = rel_err if self.max_rel is None else max(self.max_rel, rel_err)


def judge(case, expected, actual, variant_expected=None):
    """Verdict for one case.

    case: the concrete case (its steps carry `expect`); expected / actual: lists of
    observations; variant_expected: {variant name: observations} for variants whose
    expected values the reference computes with other implementation-defined choices.
    """
    variant_expected = variant_expected or {}
    steps = case["steps"]
    timesteps = max([s["args"]["inputs"].shape[1] for s in steps
                     if s["op"] == "call" and s["args"]["inputs"].ndim == 3] or [1])
    metrics = _Metrics()
    variants_taken = []
    tol_used = {}
    for index, step in enumerate(steps):
        if index >= len(actual):
            return Verdict("error", "the target returned fewer observations than there are steps",
                           index, step["op"])
        act = actual[index]
        if "unsupported" in act:
            return Verdict("unsupported", act["unsupported"], index, step["op"])
        expect = step.get("expect") or {}
        options = expect.get("any_of") or [None]
        failures = []
        for option in options:
            merged = {k: v for k, v in expect.items() if k != "any_of"}
            name = None
            if option is not None:
                name = option["variant"]
                merged.update({k: v for k, v in option.items() if k not in ("variant", "description", "reference")})
            exp = (variant_expected.get(name) or expected)[index] if name else expected[index]
            problem = _check_step(step, merged, exp, act, timesteps, case, metrics, tol_used)
            if problem is None:
                if name:
                    variants_taken.append(f"step {index}: {name}")
                break
            failures.append((name, problem))
        else:
            kind, message = failures[0][1]
            if len(failures) > 1:
                kind = "error" if all(p[0] == "error" for _, p in failures) else "fail"
                message = "; ".join(f"[{n}] {p[1]}" for n, p in failures)
            return Verdict(kind, message, index, step["op"], metrics.max_abs, metrics.max_rel,
                           tolerance=tol_used or None)
    return Verdict("pass", "", None, None, metrics.max_abs, metrics.max_rel,
                   variant="; ".join(variants_taken) or None, tolerance=tol_used or None)


def _check_step(step, expect, exp, act, timesteps, case, metrics, tol_used):
    """None when the step conforms, else (kind, message) with kind 'fail' or 'error'."""
    op = step["op"]
    if "skipped" in act or "skipped" in exp:
        return None if "skipped" in act and "skipped" in exp else ("fail", f"skipped: {act.get('skipped') or 'expected to be skipped'}")
    wanted = expect.get("raises")
    if wanted is None and "raised" in exp:
        wanted = {"type": exp["raised"]["type"]}
    if wanted is not None:
        if "raised" not in act:
            return ("fail", f"expected {_names(wanted['type'])} to be raised, but {op} returned")
        names = wanted["type"] if isinstance(wanted["type"], list) else [wanted["type"]]
        raised = act["raised"]
        if not set(names) & set(raised.get("types", [raised["type"]])):
            return ("fail", f"expected {_names(names)}, got {raised['type']}: {raised['message']}")
        if wanted.get("match") and not re.search(wanted["match"], raised["message"]):
            return ("fail", f"{raised['type']} message {raised['message']!r} does not match {wanted['match']!r}")
        return None
    if "raised" in act:
        raised = act["raised"]
        return ("error", f"{op} raised {raised['type']}: {raised['message']}")
    value = act["ok"]
    dtype = _layer_dtype(exp.get("ok"))
    rtol, atol = tolerance.tolerance(dtype, timesteps, case.get("tolerance"))
    if "tolerance" in expect:  # an implementation-defined variant computing at another precision
        rtol, atol = expect["tolerance"]["rtol"], expect["tolerance"]["atol"]
    if exp.get("ok") is not None:
        tol_used.setdefault(dtype, {"rtol": rtol, "atol": atol})
    problems = []
    context = _mask_context(step, case)
    if expect.get("compare", True):
        # A literal `dtype:` replaces the reference's dtype; the values are still compared.
        problems += compare_values(exp["ok"], value, rtol, atol, metrics, op=op, dtypes="dtype" not in expect,
                                   context=context)
    if "shape" in expect:
        got = _shapes_of(value)
        if got != expect["shape"]:
            problems.append(f"shape {got}, expected {expect['shape']}")
    if "dtype" in expect:
        allowed = expect["dtype"] if isinstance(expect["dtype"], list) else [expect["dtype"]]
        got = _dtypes_of(value)
        if any(d not in allowed for d in got):
            problems.append(f"dtype {got}, expected {' or '.join(allowed)}")
    if "equals" in expect:
        problems += compare_values(expect["equals"], value, rtol, atol, metrics, op=op, literal=True, context=context)
    for spec in expect.get("checks", []):
        problem = checks.run(spec, value, step, case)
        if problem:
            problems.append(problem)
    return ("fail", "; ".join(problems[:5])) if problems else None


def compare_values(expected, actual, rtol, atol, metrics, op=None, path="", literal=False, dtypes=True,
                   context=None):
    """A list of differences (empty when the values conform); dtypes=False leaves dtypes unchecked.

    Messages name the tensor (`output`, `state`, `kernel`, `inputs`, ...: see `tensor_name`);
    `context` ({"mask", "go_backwards"} of the step) lets them say when a differing step was masked.
    """
    if op == "get_config":
        return _compare_configs(expected, actual, rtol, atol, metrics)
    if op == "losses" and isinstance(expected, list) and isinstance(actual, list):
        expected, actual = sorted(expected), sorted(actual)
    where = f" at {path}" if path else ""
    if isinstance(expected, Observed) or (literal and isinstance(expected, list) and _is_numeric_nest(expected)
                                          and isinstance(actual, Observed)):
        return _compare_arrays(expected, actual, rtol, atol, metrics, path, dtypes, context)
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"expected a mapping{where}, got {_brief(actual)}"]
        problems = []
        for key in expected:
            if key not in actual:
                problems.append(f"missing key {key!r}{where}")
            else:
                problems += compare_values(expected[key], actual[key], rtol, atol, metrics, path=f"{path}.{key}",
                                           dtypes=dtypes, context=context)
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"expected a list of {len(expected)}{where}, got {_brief(actual)}"]
        if len(expected) != len(actual):
            return [f"expected {len(expected)} items{where}, got {len(actual)}"]
        problems = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            where_i = tensor_name(op, i, len(expected)) if not path and op else f"{path}[{i}]"
            problems += compare_values(e, a, rtol, atol, metrics, path=where_i, literal=literal,
                                       dtypes=dtypes, context=context)
        return problems
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return [] if actual == expected and type(actual) is type(expected) else [f"expected {expected!r}{where}, got {_brief(actual)}"]
    if isinstance(expected, (int, float)):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            return [f"expected {expected!r}{where}, got {_brief(actual)}"]
        if isinstance(expected, int) and isinstance(actual, int):
            return [] if expected == actual else [f"expected {expected}{where}, got {actual}"]
        err = abs(float(actual) - float(expected))
        if math.isnan(expected) and math.isnan(actual):
            return []
        metrics.add(err, err / abs(expected) if expected else err)
        return [] if err <= atol + rtol * abs(expected) else [f"expected {expected!r}{where}, got {actual!r}"]
    return [] if expected == actual else [f"expected {expected!r}{where}, got {_brief(actual)}"]


def tensor_name(op, index, count):
    """What the index-th value a step returned is, for messages: `output` and `state` for a call,
    `kernel`, `recurrent_kernel`, `bias` for weights, `output[i]` otherwise."""
    if op == "call" and count <= 2:
        return ("output", "state")[index]
    if op == "get_weights" and count <= 3:
        return ("kernel", "recurrent_kernel", "bias")[index]
    return f"output[{index}]"


def _mask_context(step, case):
    mask = (step.get("args") or {}).get("mask") if step["op"] in ("call", "gradients") else None
    if mask is None:
        return None
    return {"mask": np.asarray(mask).astype(bool), "go_backwards": bool(case.get("config", {}).get("go_backwards"))}


def _masked_note(first, name, shape, context):
    """' (a masked step: ...)' when the first differing value belongs to a masked step, else ''."""
    if context is None or not first:
        return ""
    mask = context["mask"]
    if mask.ndim != 2 or first[0] >= mask.shape[0]:
        return ""
    sample = first[0]
    if len(shape) == 3 and shape[1] == mask.shape[1]:
        # A sequence: the output is in processing order (reversed with go_backwards), the
        # gradient with respect to the inputs in input order.
        t = first[1]
        step = mask.shape[1] - 1 - t if context["go_backwards"] and name.startswith("output") else t
        if not mask[sample, step]:
            return f" (timestep {step} of sample {sample} is masked)"
        return ""
    masked = int((~mask[sample]).sum())
    if len(shape) == 2 and masked:
        return f" (sample {sample} has {masked} masked timestep{'s' if masked > 1 else ''})"
    return ""


def _compare_arrays(expected, actual, rtol, atol, metrics, path="", dtypes=True, context=None):
    name = path.lstrip(".")
    where = f" in {name}" if name else ""
    if not isinstance(actual, Observed):
        return [f"expected an array{where}, got {_brief(actual)}"]
    if isinstance(expected, Observed):
        e, edtype = expected.array.astype(np.float64), expected.dtype
    else:
        e, edtype = np.asarray(expected, dtype=np.float64), None
    a = actual.array.astype(np.float64)
    if list(e.shape) != list(a.shape):
        return [f"shape {list(a.shape)}, expected {list(e.shape)}{where}"]
    problems = []
    if dtypes and edtype is not None and actual.dtype != edtype:
        problems.append(f"dtype {actual.dtype}, expected {edtype}{where}")
    enan, anan = np.isnan(e), np.isnan(a)
    if (enan != anan).any():
        problems.append(f"NaN at {_positions(enan != anan)}{where} differs from the reference")
    einf, ainf = np.isinf(e), np.isinf(a)
    if (einf != ainf).any() or (np.sign(e[einf]) != np.sign(a[einf])).any():
        problems.append(f"Inf at {_positions(einf != ainf)}{where} differs from the reference")
    finite = np.isfinite(e) & np.isfinite(a)
    e, a = np.where(finite, e, 0.0), np.where(finite, a, 0.0)  # NaN and Inf were compared above
    if finite.any():
        diff = np.abs(a[finite] - e[finite])
        abs_err = float(diff.max())
        rel_err = float((diff / np.maximum(np.abs(e[finite]), 1e-30)).max())
        metrics.add(abs_err, rel_err)
        bad = np.abs(a - e) > atol + rtol * np.abs(e)
        bad &= finite
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            problems.append(
                f"{int(bad.sum())} of {e.size} values differ{where} (max abs error {abs_err:.3g}, "
                f"rtol {rtol:.2g}, atol {atol:.2g}); first at {list(first)}: "
                f"expected {e[first]:.8g}, got {a[first]:.8g}{_masked_note(first, name, e.shape, context)}")
    return problems


def normalize_config(value):
    """A config value in a comparable form: serialized objects as {class_name, config} with
    None entries dropped, dtype policies as their names, `{"callable": f}` as f's name."""
    if isinstance(value, dict):
        if "class_name" in value:
            if value["class_name"] in ("DTypePolicy", "Policy", "FloatDTypePolicy"):
                return value.get("config", {}).get("name")
            config = {k: normalize_config(v) for k, v in (value.get("config") or {}).items() if v is not None}
            return {"class_name": value["class_name"], "config": config}
        if set(value) == {"callable"}:
            return value["callable"]
        return {k: normalize_config(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_config(v) for v in value]
    return value


def _compare_configs(expected, actual, rtol, atol, metrics):
    if not isinstance(actual, dict):
        return [f"get_config returned {_brief(actual)}, not a mapping"]
    problems = []
    for key in CONFIG_KEYS:
        if key not in actual:
            problems.append(f"get_config lacks {key!r}")
            continue
        problems += compare_values(normalize_config(expected.get(key)), normalize_config(actual[key]),
                                   rtol, atol, metrics, path=key)
    return problems


def _layer_dtype(value):
    """The dtype the layer computes in, read from the expected observation."""
    if isinstance(value, Observed):
        return value.dtype
    if isinstance(value, dict):  # a gradients step: {"inputs": Observed, "kernel": Observed, ...}
        value = list(value.values())
    if isinstance(value, list):
        for v in value:
            d = _layer_dtype(v)
            if d:
                return d
    return "float32"


def _shapes_of(value):
    if isinstance(value, Observed):
        return value.shape
    if isinstance(value, list):
        return [_shapes_of(v) for v in value]
    return value


def _dtypes_of(value):
    if isinstance(value, Observed):
        return [value.dtype]
    if isinstance(value, dict):  # a gradients step
        value = list(value.values())
    if isinstance(value, list):
        return [d for v in value for d in _dtypes_of(v)]
    return []


def _is_numeric_nest(value):
    if isinstance(value, list):
        return all(_is_numeric_nest(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positions(mask):
    return [list(map(int, p)) for p in np.argwhere(mask)[:3]]


def _names(types):
    return " or ".join(types) if isinstance(types, list) else types


def _brief(value):
    if isinstance(value, Observed):
        return f"an array of shape {value.shape}"
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."

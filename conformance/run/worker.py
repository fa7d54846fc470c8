"""The worker: one process per target, importing its framework once.

Run as `python -m conformance.run.worker`. It speaks the protocol of
protocol.py on its stdin and on a private copy of its stdout; anything the
implementation itself prints goes to stderr, so it cannot garble the protocol.
"""

import gc
import os
import sys
import time
import traceback

from conformance.run import protocol
from conformance.arrays import from_wire, to_wire
from conformance.targets.steps import run_steps


def main():
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(message):
        channel.write(protocol.dumps(message))
        channel.flush()

    adapter = None
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            message = protocol.loads(line)
            kind = message.get("type")
            if kind == "run":
                case = from_wire(message["case"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            send({"type": "fatal", "message": f"malformed message: {type(exc).__name__}: {exc}"})
            return 1
        if kind == "start":
            try:
                from conformance.targets import load_adapter

                adapter = load_adapter(message["target"])
                # The framework's own objects stay for the life of the worker: keep them out of
                # the garbage collector's scans, which would otherwise grow with every import.
                gc.collect()
                gc.freeze()
                send({"type": "started", "protocol": protocol.PROTOCOL_VERSION,
                      "implementation": {"name": adapter.name, "profile": adapter.profile,
                                         "versions": adapter.versions()},
                      "unsupported": sorted(adapter.unsupported_features)})
            except Exception as exc:  # noqa: BLE001 - reported to the runner, which records it
                traceback.print_exc()
                send({"type": "fatal", "message": f"cannot start target: {type(exc).__name__}: {exc}"})
                return 1
        elif kind == "run":
            missing = sorted(set(case.get("features", [])) & set(adapter.unsupported_features))
            if missing:
                send({"type": "result", "seq": message["seq"],
                      "unsupported": f"{adapter.name} declares unsupported: {', '.join(missing)}"})
                continue
            started = time.perf_counter()
            try:
                observations = run_steps(adapter, case)
                elapsed = time.perf_counter() - started
                line = protocol.dumps({"type": "result", "seq": message["seq"], "steps": to_wire(observations),
                                       "elapsed_s": elapsed})
            except Exception as exc:  # noqa: BLE001 - e.g. a target returning a generator: its fault, one case
                traceback.print_exc()
                send({"type": "result", "seq": message["seq"],
                      "error": f"{type(exc).__name__}: {exc} (while encoding its results)"})
                continue
            channel.write(line)
            channel.flush()
        elif kind == "stop":
            return 0
        else:
            send({"type": "fatal", "message": f"unknown message type {kind!r}"})
            return 1
    return 0


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    # Skip the interpreter's teardown: with a framework loaded it can take a second or more,
    # and the runner would wait for it after the last case.
    os._exit(code)

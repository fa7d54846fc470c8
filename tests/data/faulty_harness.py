"""An `exec:` harness that misbehaves on purpose, for tests/test_faults_run.py.

    python faulty_harness.py MODE PIDFILE

It speaks the worker protocol (docs/protocol.md) well enough: `start` is answered
`started`, a `run` is answered `unsupported` (a valid verdict), except where MODE
says otherwise for the case with 5 units (tests/data/three.yaml's second case):

  list-run     answers that case with `[1, 2, 3]` (JSON, not an object)
  silent       never answers `start`
  fork-exit3   forks a child that calls setsid and sleeps holding the pipes, then exits with status 3
  endless      writes an endless line without a newline
  flood        writes 80 MiB to stderr before answering each case; exits with status 1 on that case
  block        forks a setsid child that sleeps, then sleeps itself (a case that never ends)
  memory       allocates 1 GiB, then answers
  linger       forks a setsid child that sleeps when it starts, then behaves (the child outlives `stop`)
  bad-array    answers that case with an observation whose array has a negative shape (breaks result.json)

Every process it starts appends its PID to PIDFILE (one a line), so that a test can
check that none is left alive.
"""

import json
import os
import sys
import time

MODE, PIDFILE = sys.argv[1], sys.argv[2]


def note_pid():
    with open(PIDFILE, "a", encoding="utf-8") as out:
        out.write(f"{os.getpid()}\n")


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def setsid_child():
    """A child in a session of its own that keeps stdout and stderr open, sleeping; returns
    once the child has its session and has noted its PID."""
    ready, told = os.pipe()
    if os.fork() == 0:
        os.close(ready)
        os.setsid()
        note_pid()
        os.write(told, b"x")
        os.close(told)
        time.sleep(3600)
        os._exit(0)
    os.close(told)
    os.read(ready, 1)
    os.close(ready)


def main():
    note_pid()
    for line in sys.stdin:
        message = json.loads(line)
        if message["type"] == "start":
            if MODE == "silent":
                time.sleep(3600)
            if MODE == "linger":
                setsid_child()
            send({"type": "started", "protocol": 1, "unsupported": [],
                  "implementation": {"name": f"faulty-{MODE}", "profile": "keras3", "versions": {}}})
        elif message["type"] == "run":
            faulty = message["case"]["config"].get("units") == 5
            if MODE == "flood":
                chunk = b"x" * (1 << 20)
                for _ in range(80):
                    os.write(2, chunk)
                if faulty:
                    os._exit(1)  # the runner now explains the crash with the end of stderr
            if faulty and MODE == "list-run":
                sys.stdout.write("[1, 2, 3]\n")
                sys.stdout.flush()
                continue
            if faulty and MODE == "fork-exit3":
                setsid_child()
                os._exit(3)
            if faulty and MODE == "endless":
                chunk = "x" * (1 << 16)
                while True:
                    sys.stdout.write(chunk)
            if MODE == "block" and faulty:
                setsid_child()
                with open(PIDFILE + ".blocked", "w", encoding="utf-8") as out:
                    out.write("blocked\n")
                time.sleep(3600)
            if faulty and MODE == "bad-array":
                array = {"__ndarray__": {"dtype": "float32", "shape": [-1, 2], "data": ""}}
                send({"type": "result", "seq": message["seq"], "steps": [{"ok": array}]})
                continue
            if MODE == "memory" and faulty:
                hog = bytes(1 << 30)  # calloc: no page is touched when it succeeds
                del hog
            send({"type": "result", "seq": message["seq"], "unsupported": f"faulty harness ({MODE})"})
        elif message["type"] == "stop":
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

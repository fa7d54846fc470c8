"""The worker protocol: JSON lines between the runner and one implementation.

Every target, in Python or any other language, is a program that reads one
JSON object a line on stdin and answers one a line on stdout:

  -> {"type": "start", "protocol": 1, "target": {...}}
  <- {"type": "started", "protocol": 1, "implementation": {"name", "profile", "versions"},
      "unsupported": [feature, ...]}
  -> {"type": "run", "seq": N, "case": {"id", "config", "steps": [{"op", "args"}], "features"}}
  <- {"type": "result", "seq": N, "steps": [observation, ...]}
     or {"type": "result", "seq": N, "unsupported": "reason"}
     or {"type": "result", "seq": N, "error": "message"}   (no observations: the target's fault)
  -> {"type": "stop"}                      (the program exits)
  <- {"type": "fatal", "message": "..."}   (any time: the program cannot go on)

Arrays travel as {"__ndarray__": {"dtype", "wire_dtype", "shape", "data"}},
data being base64 of little-endian bytes. An observation is {"ok": value},
{"raised": {"type", "types", "message"}}, {"unsupported": reason} or
{"skipped": reason}. docs/protocol.md describes it for implementers.
"""

import json

PROTOCOL_VERSION = 1
OBSERVATION_KEYS = ("ok", "raised", "unsupported", "skipped")  # an observation has exactly one


def dumps(message):
    return json.dumps(message, separators=(",", ":"), allow_nan=True) + "\n"


def loads(line):
    return json.loads(line)

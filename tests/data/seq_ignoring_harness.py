"""A harness that speaks the protocol but answers every run with seq 1 (and declares every
case unsupported): what a harness written for lockstep, one-case-at-a-time use might do."""

import json
import sys

for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "start":
        reply = {"type": "started", "protocol": 1, "unsupported": [],
                 "implementation": {"name": "seq-ignoring", "profile": "keras3", "versions": {}}}
    elif message["type"] == "run":
        reply = {"type": "result", "seq": 1, "unsupported": "this harness plays nothing"}
    else:
        break
    print(json.dumps(reply), flush=True)

"""`conformance smoke --target T`: does a harness speak the worker protocol?

A few small checks of the protocol itself (docs/protocol.md), not of SimpleRNN
semantics, each printed as one line, so that someone writing a harness in
another language sees at once what is wrong:

  handshake        `start` is answered by `started` with a protocol version,
                   an implementation {name, profile, versions} and a list of
                   unsupported features
  version          the version is the runner's (PROTOCOL_VERSION)
  trivial case     a one-step case (create, call) is answered by a `result` with
                   one observation per step, arrays decodable, the right shape
  queued runs      three `run` messages sent at once are answered one by one, in
                   order, each result echoing its `seq` (the runner queues cases)
  unknown op       a step the harness does not know gives an observation
                   ({"unsupported": ...} or {"raised": ...}), not a dead process
  malformed array  a case whose array does not decode is answered by a one-line
                   `fatal`, not silence or a confident result (run in a fresh process)
  stop             `stop` makes the program exit, status 0, within 10 s

Every message the harness sends is validated against the protocol's JSON Schemas
(run/schemas, run/schema.py); a message that breaks its schema fails the check that
received it, naming the first violation's field.

Exit status 0 when every check passes, 1 otherwise.
"""

import subprocess

import numpy as np

from conformance.arrays import ArraySpecError, from_wire, to_wire
from conformance.run import protocol
from conformance.run.transport import Worker, WorkerFailure
from conformance.targets import resolve

OK, FAIL, WARN = "ok", "FAIL", "warn"


class Session:
    """One process of the target on the runner's own transport (run/transport.Worker: the
    same keeper, bounds and messages), read a message at a time with a deadline. Each check
    receives plain messages, so that each can be validated on its own."""

    def __init__(self, spec):
        self.spec = spec
        self.worker = Worker(spec)
        self.worker.launch(handshake=False)
        self.process = self.worker.process
        self.sent_ops = {}  # seq -> the ops of the case sent, to check each result's values

    def send_raw(self, text):
        return self.worker.try_send(text.encode("utf-8"))

    def send(self, message):
        if message.get("type") == "run":
            self.sent_ops[message.get("seq")] = [step.get("op") for step in message["case"]["steps"]]
        return self.send_raw(protocol.dumps(message))

    def receive(self, timeout):
        """(message, problem): the next line as a JSON object, or why there is none (a message
        that breaks its schema is a problem too)."""
        try:
            message = self.worker.receive(timeout)
        except WorkerFailure as exc:
            return None, exc.message
        problem = schema_problem(message, self.sent_ops.get(message.get("seq")))
        return (None, problem) if problem else (message, None)

    def close(self):
        self.worker.kill()


# --------------------------------------------------------------------------- the schemas (run/schemas)

SCHEMA_BROKEN = "message breaks its schema"


def schema_problem(message, ops=None):
    """None when a message a harness sent conforms to its schema (run/schemas: started, result,
    fatal; a result's values checked against its case's ops), else one line naming the first
    violation's field. Messages of other types are left to the checks."""
    from conformance.run.schema import violation

    kind = message.get("type") if isinstance(message, dict) else None
    if kind not in ("started", "result", "fatal"):
        return None
    problem = violation(message, kind, ops=ops if kind == "result" else None)
    return None if problem is None else f"the `{kind}` {SCHEMA_BROKEN} at {problem} (schema {kind}.json)"


def trivial_case():
    x = np.linspace(-1, 1, 2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    return {"id": "smoke/trivial", "config": {"units": 2},
            "steps": [{"op": "create", "args": {"layer": {"units": 2}}},
                      {"op": "call", "args": {"inputs": x, "mask": None, "training": None, "initial_state": None}}],
            "features": ["activation:tanh", "dtype:float32", "input_dtype:float32", "op:call", "op:create"]}


def _handshake(session, spec, startup_timeout, results):
    if not session.send({"type": "start", "protocol": protocol.PROTOCOL_VERSION, "target": spec.to_message()}):
        results.append((FAIL, "handshake", "the program does not read its stdin (it may have exited at once)"))
        return None
    reply, problem = session.receive(startup_timeout)
    if problem:
        results.append((FAIL, "handshake", problem if SCHEMA_BROKEN in problem
                        else f"no `started` answer to `start`: {problem}"))
        return None
    if reply.get("type") == "fatal":
        results.append((FAIL, "handshake", f"the target refused to start: {reply.get('message')}"))
        return None
    if reply.get("type") != "started":
        results.append((FAIL, "handshake", f"expected type \"started\", got {str(reply)[:120]}"))
        return None
    impl = reply.get("implementation")
    missing = [k for k in ("name", "profile", "versions") if not isinstance(impl, dict) or k not in impl]
    if missing:
        results.append((FAIL, "handshake", f"`implementation` lacks {', '.join(missing)}"))
    elif not isinstance(reply.get("unsupported", []), list):
        results.append((FAIL, "handshake", "`unsupported` must be a list of feature names"))
    else:
        results.append((OK, "handshake", f"started {impl['name']} (profile {impl['profile']}, "
                                         f"{', '.join(f'{k} {v}' for k, v in impl['versions'].items()) or 'no versions'})"))
    version = reply.get("protocol")
    if version == protocol.PROTOCOL_VERSION:
        results.append((OK, "version", f"protocol {version}"))
    else:
        results.append((FAIL, "version", f"the target says protocol {version!r}, the runner speaks {protocol.PROTOCOL_VERSION}"))
    return reply


def _run_case(session, case, seq, timeout):
    wire = to_wire(case)
    if not session.send({"type": "run", "seq": seq, "case": wire}):
        return None, "the program no longer reads its stdin"
    return session.receive(timeout)


def _check_trivial(session, timeout, results):
    reply, problem = _run_case(session, trivial_case(), 1, timeout)
    if problem:
        results.append((FAIL, "trivial case", problem))
        return
    if reply.get("type") != "result":
        results.append((FAIL, "trivial case", f"expected type \"result\", got {str(reply)[:120]}"))
        return
    if reply.get("seq") != 1:
        results.append((FAIL, "trivial case", f"the result carries seq {reply.get('seq')!r}, the run had 1 "
                                              "(echo `seq`: the runner matches results by it)"))
        return
    if "unsupported" in reply:
        results.append((WARN, "trivial case", f"the target declares the trivial case unsupported: {reply['unsupported']}"))
        return
    steps = reply.get("steps")
    if not isinstance(steps, list) or len(steps) != 2:
        results.append((FAIL, "trivial case", f"expected `steps` with 2 observations (create, call), got {str(steps)[:120]}"))
        return
    for index, obs in enumerate(steps):
        if not isinstance(obs, dict) or len(set(obs) & set(protocol.OBSERVATION_KEYS)) != 1:
            results.append((FAIL, "trivial case", f"observation {index} must have exactly one of ok/raised/unsupported/skipped: {str(obs)[:120]}"))
            return
    if "ok" not in steps[1]:
        results.append((FAIL, "trivial case", f"the call did not return: {str(steps[1])[:160]}"))
        return
    try:
        value = from_wire(steps[1]["ok"], observed=True)
    except (ArraySpecError, KeyError, TypeError, ValueError) as exc:
        results.append((FAIL, "trivial case", f"the call's arrays do not decode: {exc}"))
        return
    if not isinstance(value, list) or not value or not hasattr(value[0], "array"):
        results.append((FAIL, "trivial case", f"a call observation is a list of arrays ([output] or [output, state]), got {str(steps[1]['ok'])[:120]}"))
        return
    if list(value[0].array.shape) != [2, 2]:
        results.append((FAIL, "trivial case", f"output shape {list(value[0].array.shape)}, expected [2, 2] (batch 2, units 2)"))
        return
    if not np.all(np.isfinite(value[0].array)) or np.abs(value[0].array).max() > 1:
        results.append((FAIL, "trivial case", "the tanh output is not finite or not in [-1, 1] (little-endian base64?)"))
        return
    results.append((OK, "trivial case", f"create + call answered, output {value[0].dtype} {list(value[0].array.shape)}"))


def _check_queued(session, timeout, results):
    """Three runs sent before any answer: three results, in order, each with its own seq."""
    for seq in (11, 12, 13):
        if not session.send({"type": "run", "seq": seq, "case": to_wire(trivial_case())}):
            results.append((FAIL, "queued runs", "the program no longer reads its stdin"))
            return False
    for seq in (11, 12, 13):
        reply, problem = session.receive(timeout)
        if problem:
            results.append((FAIL, "queued runs", f"waiting for the result of run {seq}: {problem}"))
            return False
        if reply.get("type") != "result" or reply.get("seq") != seq:
            results.append((FAIL, "queued runs", f"expected the result of run {seq}, got {str(reply)[:120]} "
                                                 "(answer queued runs one at a time, in order)"))
            return False
    results.append((OK, "queued runs", "three runs sent at once were answered in order"))
    return True


def _check_unknown_op(session, timeout, results):
    case = trivial_case()
    case["steps"] = [case["steps"][0], {"op": "smoke_unknown_op", "args": {}}]
    reply, problem = _run_case(session, case, 2, timeout)
    if problem:
        results.append((FAIL, "unknown op", problem) if SCHEMA_BROKEN in problem else
                       (WARN, "unknown op", f"a step with an unknown op: {problem} "
                                            "(answer it with {\"unsupported\": ...} instead)"))
        return False
    steps = reply.get("steps") if isinstance(reply, dict) else None
    if reply.get("type") == "result" and isinstance(steps, list) and len(steps) == 2 and (
            "unsupported" in steps[1] or "raised" in steps[1]):
        results.append((OK, "unknown op", f"answered {next(iter(steps[1]))}"))
        return True
    if reply.get("type") == "result" and "unsupported" in reply:
        results.append((OK, "unknown op", "the case declared unsupported"))
        return True
    results.append((WARN, "unknown op", f"expected a result whose second observation is unsupported or raised, "
                                        f"got {str(reply)[:120]}"))
    return reply.get("type") == "result"


def _check_stop(session, results):
    if not session.send({"type": "stop"}):
        results.append((FAIL, "stop", "the program no longer reads its stdin"))
        return
    try:
        code = session.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        results.append((FAIL, "stop", "the program did not exit within 10 s of `stop`"))
        return
    if code == 0:
        results.append((OK, "stop", "exited with status 0"))
    else:
        results.append((FAIL, "stop", f"exited with status {code} after `stop` (0 expected)"))


def _check_malformed(spec, startup_timeout, timeout, results):
    session = Session(spec)
    try:
        if _handshake(session, spec, startup_timeout, []) is None:
            results.append((FAIL, "malformed array", "a second process did not start"))
            return
        case = to_wire(trivial_case())
        spec_ = case["steps"][1]["args"]["inputs"]["__ndarray__"]
        spec_["data"] = spec_["data"][: len(spec_["data"]) // 2]  # half the bytes the shape needs
        session.send({"type": "run", "seq": 3, "case": case})
        reply, problem = session.receive(timeout)
        if problem and "exited" in problem:
            results.append((WARN, "malformed array", f"{problem}: send a one-line {{\"type\": \"fatal\"}} first"))
        elif problem:
            results.append((FAIL, "malformed array", problem))
        elif reply.get("type") == "fatal":
            results.append((OK, "malformed array", f"fatal: {str(reply.get('message'))[:100]}"))
        elif reply.get("type") == "result" and "steps" in reply and all("ok" in s for s in reply["steps"]):
            results.append((FAIL, "malformed array", "a truncated array was accepted: check the byte count "
                                                     "against the shape and wire_dtype"))
        else:
            results.append((WARN, "malformed array", f"expected {{\"type\": \"fatal\"}}, got {str(reply)[:120]}"))
    finally:
        session.close()


def smoke(target, startup_timeout=120.0, timeout=30.0, profile=None, out=print):
    """Run the checks; print one line each; return the exit status."""
    spec = resolve(target, profile=profile)
    results = []
    session = Session(spec)
    try:
        if _handshake(session, spec, startup_timeout, results) is not None:
            _check_trivial(session, timeout, results)
            if _check_queued(session, timeout, results) and _check_unknown_op(session, timeout, results):
                _check_stop(session, results)
            else:
                results.append((WARN, "stop", "not checked: the unknown op left the program unusable"))
    finally:
        session.close()
    if not any(r[0] == FAIL and r[1] == "handshake" for r in results):
        _check_malformed(spec, startup_timeout, timeout, results)
    width = max(len(r[1]) for r in results)
    for status, name, message in results:
        out(f"{status:4} {name:<{width}}  {message}")
    failed = sum(r[0] == FAIL for r in results)
    out(f"{spec.name}: {len(results) - failed} of {len(results)} protocol checks pass"
        + ("" if not failed else f", {failed} fail"))
    return 1 if failed else 0

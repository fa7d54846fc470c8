"""The protocol's JSON Schemas: valid, shipped, true to real traffic, and the docs generated from them.

Real traffic: every message between the runner and the Python worker over the whole catalog, and
between the runner and the tfjs harness over a sample, validates cleanly (the schemas describe
version 1 as harnesses speak it today). The generated parts of docs/protocol.md (ops, value
forms, feature names) equal what the code generates, and the ops and features they list are the
adapters' and the catalog's.
"""

import fcntl
import inspect
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from conformance.catalog.cases import features, load_cases
from conformance.run import schema
from conformance.run.transport import Worker, encode_case
from conformance.targets import TFJS_HARNESS, resolve
from conformance.targets.base import Adapter

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "protocol.md"


# --------------------------------------------------------------------------- the schemas themselves

def test_every_schema_is_valid_draft7_and_versioned():
    assert set(schema.MESSAGE_TYPES) | {"values", "ops"} == set(schema.schema_names())
    for name in schema.schema_names():
        document = schema.load(name)
        jsonschema.Draft7Validator.check_schema(document)
        assert document["$id"] == f"{schema.BASE_URI}{name}.json"
        assert "/protocol/1/" in document["$id"]


def test_the_schemas_are_package_data(installed_suite, tmp_path):
    """The wheel carries every schema: the runner and `smoke` check replies against them."""
    listing = ("import json, pathlib, conformance.run; folder = pathlib.Path(conformance.run.__file__).parent; "
               "print(json.dumps([str(folder), sorted(p.name for p in (folder / 'schemas').glob('*.json'))]))")
    done = subprocess.run([installed_suite["python"], "-c", listing], cwd=tmp_path, env=installed_suite["env"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    folder, names = json.loads(done.stdout)
    assert "site-packages" in folder  # the wheel's copy, not the checkout
    assert names == sorted(p.name for p in (ROOT / "conformance" / "run" / "schemas").glob("*.json"))


def test_ops_are_the_adapters_ops_with_its_arguments():
    """ops.json lists exactly the step operations an Adapter has, with their argument names."""
    methods = {name: member for name, member in inspect.getmembers(Adapter, inspect.isfunction)
               if not name.startswith("_") and name != "versions"}
    assert set(schema.ops()) == set(methods)
    for op, spec in schema.ops().items():
        parameters = [p for p in inspect.signature(methods[op]).parameters if p != "self"]
        named = list(spec["args"].get("properties", {}))
        assert named == parameters, f"{op}: ops.json names {named}, Adapter.{op} takes {parameters}"


def test_features_of_the_catalog_are_the_documented_ones():
    patterns = {name: re.compile(re.escape(name).replace(re.escape("<op>"), r"[a-z_]+")
                                 .replace(re.escape("<name>"), r"[a-z_0-9]+")
                                 .replace(re.escape("<policy>"), r"[a-z_0-9]+")
                                 .replace(re.escape("<dtype>"), r"[a-z_0-9]+") + "$")
                for name, _ in schema.FEATURES}
    seen = set()
    for case in load_cases(None):
        seen |= set(case.concrete()["features"])
    # features() on a layer with every flag, for the names the catalog may not reach today.
    import numpy as np
    everything = {"activation": None, "return_sequences": True, "return_state": True, "go_backwards": True,
                  "stateful": True, "unroll": True, "use_bias": False, "dropout": 0.1, "recurrent_dropout": 0.1,
                  "kernel_regularizer": "l2", "kernel_constraint": "non_neg", "kernel_initializer": "zeros"}
    steps = [{"op": "call", "args": {"inputs": np.zeros((2, 0, 3), np.float32), "mask": np.array([[False, True]]),
                                     "initial_state": [np.zeros((2, 3))], "training": True}},
             {"op": "reset_states", "args": {"states": [np.zeros((2, 3))]}}]
    seen |= set(features(everything, steps))
    unmatched = sorted(f for f in seen if not any(p.match(f) for p in patterns.values()))
    assert not unmatched, f"features the docs do not list: {unmatched}"
    unused = [name for name, p in patterns.items() if not any(p.match(f) for f in seen)]
    assert not unused, f"documented features nothing produces: {unused}"


def test_docs_generated_parts_are_up_to_date():
    text = DOCS.read_text()
    assert schema.render(text) == text, "docs/protocol.md drifted: python -m conformance.run.schema docs/protocol.md"
    for op in ("gradients", "save_and_load", "connect", "call_method"):
        assert f"| `{op}` |" in text


def test_docs_say_how_many_checks_smoke_runs(capsys):
    from conformance.tools.smoke import smoke

    lines = []
    assert smoke("reference", out=lines.append) == 0
    count = int(re.search(r"(\d+) of (\d+) protocol checks pass", lines[-1]).group(2))
    words = {5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}
    assert f"runs {words.get(count, count)} checks" in DOCS.read_text(), f"smoke runs {count} checks"


# --------------------------------------------------------------------------- violations are named

def test_violations_name_the_field():
    started = {"type": "started", "protocol": 1, "implementation": {"name": "x", "profile": "keras3", "versions": {}},
               "unsupported": []}
    assert schema.violation(started) is None and schema.reply_problem(started) is None
    assert schema.violation({**started, "unsupported": "dropout"}).startswith("unsupported: ")
    assert schema.violation({**started, "implementation": {"name": "x"}}).startswith("implementation: ")
    array = {"__ndarray__": {"dtype": "float32", "wire_dtype": "float32", "shape": [-1], "data": ""}}
    result = {"type": "result", "seq": 1, "steps": [{"ok": None}, {"ok": [array]}]}
    assert schema.violation(result).startswith("steps[1].ok[0].__ndarray__.shape[0]: ")
    assert schema.reply_problem(result).startswith("steps[1].ok")
    two_keys = {"type": "result", "seq": 1, "steps": [{"ok": None, "raised": {"type": "E", "message": ""}}]}
    assert schema.violation(two_keys).startswith("steps[0]: ")
    assert schema.reply_problem(two_keys).startswith("steps[0]")
    assert schema.reply_problem({"type": "result", "seq": "1", "steps": []}).startswith("seq")
    assert schema.reply_problem({"type": "fatal"}).startswith("(message)") or "message" in schema.reply_problem({"type": "fatal"})
    # With the ops of the case, every ok value's form is checked too.
    good = {"ok": [{"__ndarray__": {"dtype": "float32", "shape": [1], "data": "AAAAAA=="}}]}
    assert schema.violation({"type": "result", "seq": 1, "steps": [{"ok": None}, good]}, ops=["create", "call"]) is None
    wrong = schema.violation({"type": "result", "seq": 1, "steps": [{"ok": None}, good]}, ops=["create", "count_params"])
    assert wrong.startswith("steps[1].ok: ") and "count_params" in wrong
    # Version 1 stays open: unknown keys, unknown ops, unknown features.
    assert schema.violation({**started, "extra": 1, "unsupported": ["feature:from_the_future"]}) is None
    run = json.loads(encode_case({"id": "x", "config": {"units": 2}, "features": [],
                                  "steps": [{"op": "create", "args": {"layer": {"units": 2}}},
                                            {"op": "op_from_the_future", "args": {"anything": [1]}}]}))
    assert schema.violation(run) is None


# --------------------------------------------------------------------------- real traffic

def _traffic(target, cases):
    """Play `cases` on a target's real process; every message both ways, as (kind, message, ops)."""
    spec = resolve(target)
    messages = [("start", {"type": "start", "protocol": 1, "target": spec.to_message()}, None)]
    worker = Worker(spec)
    try:
        messages.append(("started", worker.start(), None))
        for seq, case in enumerate(cases, 1):
            concrete = case.concrete()
            line = encode_case(concrete, seq)
            messages.append(("run", json.loads(line), None))
            worker.send_line(line)
            messages.append(("result", worker.receive_result(concrete, 120, seq=seq), [s["op"] for s in concrete["steps"]]))
    finally:
        worker.stop()
    messages.append(("stop", {"type": "stop"}, None))
    return messages


def _assert_valid(messages):
    """Every message valid by the compiled check; every tenth by jsonschema itself as well."""
    problems = []
    for index, (kind, message, ops) in enumerate(messages):
        problem = schema.violation(message, kind, ops=ops)
        if problem is None and index % 10 == 0:
            validator = schema._validator(f"{schema.BASE_URI}{kind}.json")
            problem = next((e.message for e in validator.iter_errors(message)), None)
        if problem is None and kind in ("started", "result", "fatal"):
            problem = schema.reply_problem(message)
        if problem:
            problems.append(f"{kind} {message.get('seq', '')}: {problem}")
    assert not problems, f"{len(problems)} messages break the schemas, e.g. {problems[:3]}"


@pytest.mark.slow
def test_python_worker_traffic_is_valid_on_the_whole_catalog():
    cases = load_cases(None)  # the reference plays the cases of both profiles
    messages = _traffic("reference", cases)
    _assert_valid(messages)
    ops = {op for _, _, case_ops in messages if case_ops for op in case_ops}
    assert ops == set(schema.ops()), "the catalog exercises every op"
    assert sum(kind == "result" for kind, _, _ in messages) == len(cases)


@pytest.fixture(scope="module")
def tfjs_installed():
    """The tfjs harness's npm packages, installed from its lock file on first use."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("the tfjs target needs Node.js and npm on PATH")
    folder = Path(TFJS_HARNESS).parent
    with open(folder / ".npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "node_modules" / "@tensorflow" / "tfjs" / "package.json").is_file():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, check=True,
                           timeout=900)


def test_tfjs_harness_traffic_is_valid(tfjs_installed):
    """Today's tfjs harness, a version 1 harness written in another language, validates cleanly:
    one case per op and a spread of the rest."""
    cases = [c for c in load_cases(None) if "keras3" in c.profiles]
    first_of_op = {}
    for case in cases:
        for step in case.concrete()["steps"]:
            first_of_op.setdefault(step["op"], case)
    sample = list({id(c): c for c in [*first_of_op.values(), *cases[::10]]}.values())
    messages = _traffic("tfjs", sample)
    _assert_valid(messages)
    assert sum("steps" in m for k, m, _ in messages if k == "result") > len(sample) / 2


# --------------------------------------------------------------------------- smoke validates what a harness sends

BROKEN_HARNESS = r'''
import base64, json, sys
BREAK = sys.argv[1]
def send(message):
    sys.stdout.write(json.dumps(message) + "\n"); sys.stdout.flush()
zeros = {"__ndarray__": {"dtype": "float32", "wire_dtype": "float32", "shape": [2, 2],
                         "data": base64.b64encode(bytes(16)).decode()}}
for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "start":
        versions = ["1.0"] if BREAK == "started" else {"broken": "1.0"}
        send({"type": "started", "protocol": 1, "implementation": {"name": "broken", "profile": "keras3",
              "versions": versions}, "unsupported": []})
    elif message["type"] == "run":
        case = message["case"]
        try:
            for step in case["steps"]:
                for value in step["args"].values():
                    if isinstance(value, dict) and "__ndarray__" in value:
                        spec = value["__ndarray__"]
                        if len(base64.b64decode(spec["data"])) != 4 * 2 * 3 * 4:
                            raise ValueError("bad array")
        except ValueError:
            send({"type": "fatal"} if BREAK == "fatal" else {"type": "fatal", "message": "bad array"})
            sys.exit(1)
        steps = []
        for step in case["steps"]:
            if step["op"] == "create":
                steps.append({"ok": None})
            elif step["op"] == "call":
                steps.append({"ok": [zeros]})
            else:  # an op it does not know
                steps.append({"raised": {"type": "ValueError"}} if BREAK == "result" else {"unsupported": step["op"]})
                break
        send({"type": "result", "seq": message["seq"], "steps": steps})
    elif message["type"] == "stop":
        sys.exit(0)
'''


@pytest.mark.parametrize("broken, check, field", [
    (None, None, None),
    ("started", "handshake", "implementation.versions"),
    ("result", "unknown op", "steps[1].raised"),
    ("fatal", "malformed array", "message"),
])
def test_smoke_catches_a_harness_that_breaks_each_message_it_sends(tmp_path, broken, check, field):
    """started, result and fatal are what a harness sends: smoke fails the check whose message
    breaks its schema, naming the field."""
    import sys

    from conformance.tools.smoke import smoke

    script = tmp_path / "broken.py"
    script.write_text(BROKEN_HARNESS)
    lines = []
    code = smoke(f"exec:{sys.executable} {script} {broken or 'nothing'}", out=lines.append)
    failed = [line for line in lines if line.startswith("FAIL")]
    if broken is None:
        assert code == 0 and not failed, lines
        return
    assert code == 1, lines
    assert len(failed) == 1 and failed[0].split()[1:1 + len(check.split())] == check.split(), lines
    assert field in failed[0] and f"{broken}.json" in failed[0], failed[0]


def test_factory_contract_lists_every_op():
    """docs/targets.md's factory contract has a row for every op of the protocol."""
    text = (ROOT / "docs" / "targets.md").read_text()
    section = text.split("## The factory contract", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    named = {op.strip(" `") for row in rows for op in row.split("|")[1].split("/") for op in op.split(",")}
    assert set(schema.ops()) <= named, set(schema.ops()) - named


SCHEMA_CASES = """
cases:
  - id: schema/count_params
    description: A call, then count_params, which the broken harness answers with an exception without a message.
    spec: [{page: keras3, item: count_params, observed: "a number"}]
    layer: {units: 2}
    arrays:
      x: {random: uniform, shape: [2, 3, 4], seed: 1}
    steps:
      - call: {inputs: x}
      - count_params:
"""


@pytest.mark.parametrize("broken", ["result", "started"])
def test_the_runner_names_the_field_a_reply_breaks(tmp_path, capsys, broken):
    """A result that breaks its schema is an error for its case; a `started` one stops the run."""
    import sys

    from conformance.cli import main

    script = tmp_path / "broken.py"
    script.write_text(BROKEN_HARNESS)
    cases = tmp_path / "cases.yaml"
    cases.write_text(SCHEMA_CASES)
    out = tmp_path / "report"
    code = main(["run", "--target", f"exec:{sys.executable} {script} {broken}", "--cases", str(cases), "-o", str(out),
                 "--quiet", "--no-expectations"])
    assert code != 0
    if broken == "started":
        message = capsys.readouterr().err
    else:
        [record] = json.loads((out / "report.json").read_text())["cases"]
        assert record["status"] == "error"
        message = record["message"]
    field = "steps[2].raised" if broken == "result" else "implementation.versions"
    assert field in message and f"schema {broken}.json" in message, message

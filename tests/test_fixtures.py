"""Golden fixtures: deterministic bytes, the published sample up to date, the JS reader."""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conformance.tools import fixtures
from conformance.cli import main

ROOT = Path(__file__).resolve().parent.parent
GATE_CASES = ROOT / "tests" / "data" / "gate_cases.yaml"
PUBLISHED = ROOT / "fixtures"
READER = ROOT / "examples" / "fixtures-reader-js" / "reader.js"
NODE = shutil.which("node")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("fixtures") / "gate"
    assert main(["fixtures", "--out", str(out), "--cases", str(GATE_CASES)]) == 0
    return out


def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def test_npy_bytes_are_numpys(tmp_path):
    for array in [np.zeros((3, 4), "f4"), np.arange(5, dtype="i8"), np.array(2.5), np.ones((2, 3, 4), bool),
                  np.zeros((0, 3), "f8"), np.full((3, 7), 0.1, "f2")]:
        buffer = io.BytesIO()
        np.save(buffer, array)
        assert fixtures.npy_bytes(array) == buffer.getvalue()


def test_byte_identical_across_runs_and_places(sample, tmp_path):
    # A second run in another process, another working directory, another hash seed, the case
    # file named by a relative path: the same bytes.
    other = tmp_path / "again"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-m", "conformance", "fixtures", "--out", str(other),
                    "--cases", os.path.relpath(GATE_CASES, tmp_path)], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    first, second = _tree(sample), _tree(other)
    assert sorted(first) == sorted(second)
    assert [p for p in first if first[p] != second[p]] == []
    # Nothing machine-specific inside.
    text = b"".join(v for k, v in first.items() if k.endswith(".json")).decode("ascii")
    assert str(ROOT) not in text and str(tmp_path) not in text


def test_folder_layout_and_checksums(sample):
    index = json.loads((sample / "index.json").read_text())
    assert index["suite"]["version"] and index["count"] == len(index["cases"]) == 17
    assert index["generated_with"]["cases"] == ["tests/data/gate_cases.yaml"]
    assert fixtures.verify(sample) == []
    listed = (sample / "checksums.sha256").read_text().splitlines()
    files = [p for p in _tree(sample) if p != "checksums.sha256"]
    assert [line.split("  ", 1)[1] for line in listed] == sorted(files)
    for line in listed:
        digest, rel = line.split("  ", 1)
        assert hashlib.sha256((sample / rel).read_bytes()).hexdigest() == digest


def test_manifest_content(sample):
    index = json.loads((sample / "index.json").read_text())
    manifests = {c["id"]: json.loads((sample / c["manifest"]).read_text()) for c in index["cases"]}
    masked = manifests["gate/mask[mask=leading,go_backwards=false]"]
    call = masked["steps"][-1]
    assert call["op"] == "call" and set(call["args"]) == {"inputs", "mask", "initial_state", "training"}
    assert [o["variant"] for o in call["any_of"]] == ["zeros", "initial_state"]
    assert call["any_of"][1]["reference_choices"] == {"masked_output_before_first_step": "initial_state"}
    assert masked["tolerance"]["by_dtype"]["float32"] == {"rtol": 2e-05, "atol": 2e-05}
    ref = call["expected"]["value"][0]["__array__"]
    assert ref["dtype"] == "float32" and ref["shape"] == [3, 5, 3]
    case_dir = sample / Path(next(c["manifest"] for c in index["cases"] if c["id"] == masked["id"])).parent
    from_npy = np.load(case_dir / ref["npy"])
    from_json = json.loads((case_dir / ref["json"]).read_text())
    assert from_npy.dtype == np.float32 and from_npy.reshape(-1).tolist() == pytest.approx(from_json["data"])
    invalid = manifests["gate/invalid_units"]["steps"]
    assert invalid[0]["expected"]["outcome"] == "raises" and invalid[0]["expected"]["type"] == "ValueError"
    assert invalid[1]["expected"]["outcome"] == "skipped"
    literal = manifests["gate/no_bias_sigmoid"]["steps"]
    assert [s["expected"]["value"] for s in literal if s["op"] == "count_params"] == [15]


def test_refuses_to_overwrite_a_foreign_folder(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["fixtures", "--out", str(tmp_path), "--cases", str(GATE_CASES), "-k", "invalid_units"]) == 2
    assert (tmp_path / "keep.txt").read_text() == "mine"
    assert "refusing" in capsys.readouterr().err


def test_published_fixtures_are_up_to_date():
    """fixtures/ must be what the code generates now; regenerate with the command in the message."""
    assert (PUBLISHED / "index.json").is_file(), "fixtures/ is missing"
    problems = fixtures.differences(fixtures.rebuild(PUBLISHED), PUBLISHED)
    assert not problems, ("fixtures/ drifted from the code and cases ("
                          + "; ".join(problems[:5]) + f"; {len(problems)} in all). Regenerate: "
                          "conformance fixtures --out fixtures --regenerate")
    assert fixtures.verify(PUBLISHED) == []


def test_check_mode_reports_drift(sample, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(sample, copy)
    assert main(["fixtures", "--out", str(copy), "--regenerate", "--check"]) == 0
    next(copy.rglob("*.npy")).write_bytes(b"changed")
    assert main(["fixtures", "--out", str(copy), "--regenerate", "--check"]) == 1
    assert "differs:" in capsys.readouterr().err


# --------------------------------------------------------------------------- the JavaScript reader

def _node(folder, *extra):
    return subprocess.run([NODE, str(READER), str(folder), *extra], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("form", ["json", "npy"])
def test_js_reader_passes(sample, form):
    result = _node(sample, "--format", form)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "15 checked" in result.stdout and "0 failed" in result.stdout


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_js_reader_passes_on_published_fixtures():
    result = _node(PUBLISHED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("form", ["json", "npy"])
def test_js_reader_reports_a_corrupted_value(sample, tmp_path, form):
    copy = tmp_path / "corrupt"
    shutil.copytree(sample, copy)
    case_id = "gate/forward[activation=tanh,return_sequences=true,go_backwards=true]"
    index = json.loads((copy / "index.json").read_text())
    case_dir = copy / Path(next(c["manifest"] for c in index["cases"] if c["id"] == case_id)).parent
    target = case_dir / "arrays" / f"s3.expected.0.{form}"
    if form == "json":
        data = json.loads(target.read_text())
        data["data"][5] += 0.01
        target.write_text(json.dumps(data))
    else:
        array = np.load(target)
        array.reshape(-1)[5] += 0.01
        target.write_bytes(fixtures.npy_bytes(array))
    # With the checksums left as they were, the reader names the damaged file...
    result = _node(copy, "--format", form)
    assert result.returncode == 1
    assert f"checksum differs: {target.relative_to(copy).as_posix()}" in result.stdout
    # ...and with checksums recomputed, it names the case whose value is wrong.
    files = {p.relative_to(copy).as_posix(): p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    (copy / "checksums.sha256").write_text(fixtures.checksum_list(files))
    result = _node(copy, "--format", form)
    assert result.returncode == 1, result.stdout
    assert f"FAIL {case_id}" in result.stdout and "1 failed" in result.stdout
    assert "CHECKSUM" not in result.stdout


RANDOM_CASES = """
cases:
  - id: rand/initializers
    description: Initializer-drawn weights and dropout in training give random values, not compared.
    spec: [{page: keras3, item: dropout, observed: "random"}]
    layer: {units: 3, dropout: 0.5}
    arrays:
      x: {random: uniform, shape: [2, 4, 3], seed: 1}
    steps:
      - call: {inputs: x, training: true}
        expect: {compare: false, shape: [[2, 3]]}
      - get_weights:
        expect: {compare: false}
"""


def test_random_values_are_not_stored(tmp_path):
    """Values a case does not compare (compare: false) are random: only their structure is written."""
    source = tmp_path / "random.yaml"
    source.write_text(RANDOM_CASES)
    first, second = fixtures.build([str(source)]), fixtures.build([str(source)])
    assert first == second
    manifest = json.loads(next(v for k, v in first.items() if k.endswith("case.json")))
    call = next(s for s in manifest["steps"] if s["op"] == "call")
    assert call["expected"]["compare"] is False
    assert call["expected"]["value"][0]["__array__"] == {"dtype": "float32", "shape": [2, 3], "not_stored": "not compared"}
    assert not any("expected" in k for k in first)


# --------------------------------------------------------------------------- the JavaScript judge

# Mutants whose failures reach every kind of comparison: values, masks, dtypes, dropout structure,
# get_config, an expected exception, losses, gradients.
AGREEMENT_MUTANTS = ("go_backwards_rereversed", "mask_inverted", "output_dtype_float64", "dropout_not_rescaled",
                     "dropout_new_mask_every_step", "recurrent_dropout_new_mask_every_step", "config_drops_unroll",
                     "count_params_unbuilt_zero", "grad_bptt_truncated", "kernel_regularizer_on_recurrent")


def _non_finite_as_text(value):
    """Observations in the fixtures' JSON convention: NaN and infinities as strings."""
    if isinstance(value, float) and not np.isfinite(value):
        return "NaN" if np.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _non_finite_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_non_finite_as_text(v) for v in value]
    return value


def _bent(observations, steps):
    """Planted property failures: every value a case does not compare (random draws) scaled and shifted."""
    from conformance.arrays import Observed

    def bend(value):
        if isinstance(value, Observed):
            return Observed(value.array * 1.7 + 0.01, value.dtype)
        return [bend(v) for v in value] if isinstance(value, list) else value

    return _planted(observations, steps, bend)


def _nudged(observations, steps):
    """Planted near-misses: every value a case does not compare given a mean of five standard errors
    (std / sqrt(size)), between the statistical checks' bounds (four to seven of them), by moving
    the half of its elements nearest zero (so no bound on |w| is crossed). Both judges must draw
    the same line there: a reader left at an older bound disagrees on every run, not once in
    thousands of draws."""
    from conformance.arrays import Observed

    def nudge(value):
        if isinstance(value, Observed) and value.array.size >= 2:
            a = value.array.astype(np.float64).ravel()
            near_zero = np.argsort(np.abs(a), kind="stable")[: a.size // 2]
            a[near_zero] += (5 * a.std() / a.size ** 0.5 - a.mean()) * a.size / near_zero.size
            return Observed(a.reshape(value.array.shape).astype(value.array.dtype), value.dtype)
        return [nudge(v) for v in value] if isinstance(value, list) else value

    return _planted(observations, steps, nudge)


def _planted(observations, steps, change):
    out = []
    for observation, step in zip(observations, steps):
        expect = step.get("expect") or {}
        if "ok" in observation and (expect.get("checks") or expect.get("compare") is False):
            observation = {"ok": change(observation["ok"])}
        out.append(observation)
    return out


@pytest.mark.slow
@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_js_reader_judges_every_fixture_as_the_python_judge_does(tmp_path):
    """On a full fixture set, the reader's verdict (--observations) equals the Python judge's for the
    reference's observations (which pass), ten mutants' (which fail in every way a step can) and
    planted failures: random values bent out of their properties or nudged to their bounds, a
    missing last observation."""
    from conformance.arrays import from_wire, to_wire
    from conformance.catalog.cases import load_cases
    from conformance.judge.compare import judge
    from conformance.judge.expected import expected_outcome
    from conformance.targets import mutants
    from conformance.targets.reference import ReferenceAdapter
    from conformance.targets.steps import run_steps

    cases = load_cases(None)
    folder = tmp_path / "full"
    fixtures.write(fixtures.generate(cases, fixtures.selection_info()), folder)
    reference = ReferenceAdapter()
    planted = [(name, mutants.make_adapter(name)) for name in AGREEMENT_MUTANTS]
    entries, python = [], {}
    with np.errstate(all="ignore"):
        for number, case in enumerate(cases):
            concrete = case.concrete()
            expected, variants = expected_outcome(concrete)

            def add(label, observations):
                wire = to_wire(observations)
                try:
                    status = judge(concrete, expected, from_wire(wire, observed=True), variants).status
                except Exception:  # noqa: BLE001 - what the runner records for an answer it cannot judge
                    status = "error"
                python[(case.id, label)] = status
                entries.append({"id": case.id, "label": label, "steps": _non_finite_as_text(wire)})

            played = run_steps(reference, concrete)
            add("reference", played)
            for name, adapter in planted:
                observations = run_steps(adapter, concrete)
                if to_wire(observations) != to_wire(played):
                    add(name, observations)
            if any((s.get("expect") or {}).get("checks") or (s.get("expect") or {}).get("compare") is False
                   for s in concrete["steps"]):
                add("bent", _bent(played, concrete["steps"]))
                add("nudged", _nudged(played, concrete["steps"]))
            if number % 25 == 0:
                add("truncated", played[:-1])
    observations = tmp_path / "observations.json"
    observations.write_text(json.dumps(entries))
    result = _node(folder, "--observations", str(observations), "--json")
    verdicts = {(v["id"], v["label"]): v for v in map(json.loads, result.stdout.splitlines()[:-1])}
    assert result.stdout.splitlines()[-1].endswith(", 0 skipped"), result.stdout[-500:]
    assert set(verdicts) == set(python)
    differ = [(key, python[key], verdicts[key]) for key in python if verdicts[key]["status"] != python[key]]
    assert not differ, f"{len(differ)} verdicts differ, e.g. {differ[:3]}"
    statuses = {s for s in python.values()}
    assert statuses == {"pass", "fail", "error"}, statuses
    assert all(python[(c.id, "reference")] == "pass" for c in cases)
    # Every property check was evaluated, and failed where bent.
    checked = {spec["check"] for c in cases for s in c.concrete()["steps"] for spec in (s.get("expect") or {}).get("checks", [])}
    from conformance.judge.checks import CHECKS
    assert checked <= set(CHECKS) and len(checked) >= 10, checked
    bent = [key for key in python if key[1] == "bent"]
    assert sum(python[k] == "fail" for k in bent) >= 50
    # The nudged draws of the initializers lie inside variance_scaling's bound on the mean.
    assert sum(python[k] == "pass" for k in python if k[1] == "nudged" and k[0].startswith("initializers/")) >= 5


def test_manifests_state_every_check_with_its_parameters(sample, tmp_path):
    """A check in a manifest carries all its parameters (defaults filled) and its formula."""
    import inspect

    from conformance.judge.checks import CHECKS

    assert set(fixtures.CHECK_FORMULAS) == set(CHECKS), "every check of judge/checks.py needs a formula"
    source = tmp_path / "checks.yaml"
    source.write_text(RANDOM_CASES.replace("expect: {compare: false}",
                                           "expect: {compare: false, checks: [{check: orthogonal, output: 1}]}"))
    manifest = json.loads(next(v for k, v in fixtures.build([str(source)]).items() if k.endswith("case.json")))
    spec = next(s for s in manifest["steps"] if s["op"] == "get_weights")["expect"]["checks"][0]
    assert spec == {"check": "orthogonal", "output": 1, "gain": 1.0, "atol": 1e-4}
    assert set(inspect.signature(CHECKS["orthogonal"]).parameters) - {"value"} == set(spec) - {"check"}
    assert manifest["checks"] == {"orthogonal": fixtures.CHECK_FORMULAS["orthogonal"]}
    assert manifest["comparison"]["get_config_keys"][0] == "units"


def test_docs_state_the_sample_and_every_check():
    """docs/fixtures.md: the sample's real case count, and every check's formula as the manifests give it."""
    text = (ROOT / "docs" / "fixtures.md").read_text()
    count = json.loads((PUBLISHED / "index.json").read_text())["count"]
    assert f"({count} cases:" in text
    for name, formula in fixtures.CHECK_FORMULAS.items():
        assert f"| `{name}` | {formula} |" in text, f"docs/fixtures.md lacks the formula of {name}"

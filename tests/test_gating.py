"""CI gating: expectations (xfail / xpass), `conformance diff`, `conformance merge` (the CI workflow itself: test_workflow.py)."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from conformance.cli import main
from conformance.report.expectations import Expectations, sanitize_target

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
CASES = str(DATA / "gate_cases.yaml")
BUGGY = f"{DATA / 'planted_bug.py'}:buggy"
CORRECT = f"{DATA / 'planted_bug.py'}:correct"
RELU_CASE = "gate/forward[activation=relu,return_sequences=true,go_backwards=false]"


def run(target, out, *extra):
    return main(["run", "-t", target, "-c", CASES, "-o", str(out), "-q", *extra])


def report(folder):
    return json.loads((Path(folder) / "report.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    codes = {"correct": run(CORRECT, base / "correct"), "buggy": run(BUGGY, base / "buggy")}
    return base, codes


def test_sanitized_names():
    assert sanitize_target("keras:jax") == "keras-jax"
    assert sanitize_target("tests/data/planted_bug.py:buggy") == "tests-data-planted_bug.py-buggy"


def test_a_fresh_regression_fails_the_gate_and_diff_names_it(runs, capsys):
    base, codes = runs
    assert codes == {"correct": 0, "buggy": 1}
    failing = {c["id"] for c in report(base / "buggy")["cases"] if c["status"] == "fail"}
    assert RELU_CASE in failing and all("activation=relu" in i for i in failing)
    capsys.readouterr()
    assert main(["diff", str(base / "correct"), str(base / "buggy"), "--json", str(base / "diff.json")]) == 1
    out = capsys.readouterr().out
    assert "REGRESSIONS" in out and RELU_CASE in out and "pass -> fail" in out
    data = json.loads((base / "diff.json").read_text())
    assert {r["id"] for r in data["regressions"]} == failing
    # The other way round: the same cases are fixed, and there is no regression.
    assert main(["diff", str(base / "buggy" / "report.json"), str(base / "correct")]) == 0
    out = capsys.readouterr().out
    assert "Fixed (4)" in out and "0 regressions" in out


def test_diff_added_removed_and_changed(tmp_path, runs, capsys):
    base, _ = runs
    old = report(base / "buggy")
    new = json.loads(json.dumps(old))
    new["cases"] = [c for c in new["cases"] if c["id"] != "gate/invalid_units"]
    new["cases"].append({"id": "gate/brand_new", "status": "pass"})
    changed = next(c for c in new["cases"] if c["id"] == RELU_CASE)
    changed.update(status="crash", message="the worker exited with status 1")
    (tmp_path / "new.json").write_text(json.dumps(new))
    # A case of the baseline missing from the new run fails the gate, unless removals are allowed.
    assert main(["diff", str(base / "buggy"), str(tmp_path / "new.json")]) == 1
    out = capsys.readouterr().out
    assert "Added (1):\n  - gate/brand_new: pass" in out
    assert "Removed (1):\n  - gate/invalid_units: was pass" in out
    assert f"Changed errors (1):\n  - {RELU_CASE}: fail -> crash" in out
    assert "0 regressions, but the gate fails: 1 case of the baseline missing from the new run" in out
    assert main(["diff", "--allow-removed", str(base / "buggy"), str(tmp_path / "new.json")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 regressions"
    assert main(["diff", str(tmp_path / "missing"), str(tmp_path / "new.json")]) == 2


def test_known_failures_are_xfail_everywhere(tmp_path, runs):
    base, _ = runs
    listing = tmp_path / "expectations.yaml"
    listing.write_text(yaml.safe_dump({"expectations": [
        {"pattern": "gate/forward[activation=relu,*", "category": "upstream-bug", "reason": "relu leaks",
         "link": "https://example.org/issue/1"}]}))
    assert run(BUGGY, tmp_path / "r", "--expectations", str(listing)) == 0
    data = report(tmp_path / "r")
    assert data["summary"]["xfail"] == 4 and data["summary"]["fail"] == 0
    case = next(c for c in data["cases"] if c["id"] == RELU_CASE)
    assert case["status"] == "xfail" and case["original_status"] == "fail"
    assert case["expectation"]["category"] == "upstream-bug" and case["message"]
    junit = ET.parse(tmp_path / "r" / "junit.xml").getroot()
    assert junit.get("skipped") == "4" and junit.get("failures") == "0"
    assert len(junit.findall(".//skipped[@type='xfail']")) == 4
    summary = (tmp_path / "r" / "summary.md").read_text()
    assert "## Known failures (xfail)" in summary and "https://example.org/issue/1" in summary
    assert "| xfail | xpass |" in summary


def test_a_fixed_case_is_xpass(tmp_path, capsys):
    listing = tmp_path / "known.yaml"
    listing.write_text(yaml.safe_dump({"expectations": [
        {"id": RELU_CASE, "category": "numerics", "reason": "was broken", "link": ""}]}))
    assert run(CORRECT, tmp_path / "r", "--expectations", str(listing)) == 0
    data = report(tmp_path / "r")
    case = next(c for c in data["cases"] if c["id"] == RELU_CASE)
    assert (case["status"], case["original_status"], data["summary"]["xpass"]) == ("xpass", "pass", 1)
    assert "passing now (xpass)" in (tmp_path / "r" / "summary.md").read_text()
    assert "xpass" in (tmp_path / "r" / "junit.xml").read_text()
    assert "1 xpass" in capsys.readouterr().out
    # --strict: a listed case that passes makes the exit status 1, and JUnit shows it as a failure.
    assert run(CORRECT, tmp_path / "s", "--expectations", str(listing), "--strict") == 1
    assert ET.parse(tmp_path / "s" / "junit.xml").getroot().get("failures") == "1"


def test_an_entry_matching_nothing_is_warned_about(tmp_path, capsys):
    listing = tmp_path / "known.yaml"
    listing.write_text(yaml.safe_dump({"expectations": [
        {"id": "gate/no_such_case", "category": "harness", "reason": "gone", "link": ""},
        {"pattern": "gate/forward[activation=relu,*", "category": "numerics", "reason": "r", "link": ""}]}))
    capsys.readouterr()
    assert run(BUGGY, tmp_path / "r", "--expectations", str(listing)) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "matches no case" in line]
    assert len(err) == 1 and "gate/no_such_case" in err[0]


def test_a_listed_failure_of_another_kind_still_fails(tmp_path):
    listing = tmp_path / "known.yaml"
    listing.write_text(yaml.safe_dump({"expectations": [
        {"pattern": "gate/forward[activation=relu,*", "status": ["crash"], "category": "harness", "reason": "r"}]}))
    assert run(BUGGY, tmp_path / "r", "--expectations", str(listing)) == 1
    case = next(c for c in report(tmp_path / "r")["cases"] if c["id"] == RELU_CASE)
    assert case["status"] == "fail" and "expected crash" in case["expectation_mismatch"]


def test_bad_expectations_file_is_a_usage_error(tmp_path, capsys):
    listing = tmp_path / "bad.yaml"
    listing.write_text("expectations:\n  - id: x\n    reason: no category\n")
    assert run(CORRECT, tmp_path / "r", "--expectations", str(listing)) == 2
    assert "`category` is required" in capsys.readouterr().err
    assert run(CORRECT, tmp_path / "r", "--expectations", str(tmp_path / "absent.yaml")) == 2


def test_update_expectations_writes_a_file_that_makes_the_run_pass(tmp_path):
    folder = tmp_path / "expectations"
    folder.mkdir()
    # A stale entry and a hand-triaged one: the stale one goes, the triaged one keeps its words.
    path = folder / f"{sanitize_target(BUGGY)}.yaml"
    path.write_text(yaml.safe_dump({"expectations": [
        {"id": "gate/removed_case", "category": "harness", "reason": "old", "link": ""},
        {"id": RELU_CASE, "category": "upstream-bug", "reason": "leaky relu", "link": "https://example.org/2"}]}))
    assert run(BUGGY, tmp_path / "u", "--update-expectations", f"{folder}/") == 0
    book = Expectations.load(path)
    ids = [e.id for e in book.entries]
    assert "gate/removed_case" not in ids and len(ids) == 4
    kept = book.find(RELU_CASE)
    assert (kept.category, kept.reason, kept.link) == ("upstream-bug", "leaky relu", "https://example.org/2")
    assert {e.category for e in book.entries if e.id != RELU_CASE} == {"untriaged"}
    assert report(tmp_path / "u")["summary"]["xfail"] == 4
    # The file written makes the next run pass; without it the run fails.
    assert run(BUGGY, tmp_path / "again", "--expectations", str(folder)) == 0
    assert run(BUGGY, tmp_path / "plain") == 1
    # Fixed: updating against the correct target empties the file.
    assert run(CORRECT, tmp_path / "fixed", "--update-expectations", str(path)) == 0
    assert Expectations.load(path).entries == []


def test_merge_and_diff_of_merged_folders(tmp_path, runs, capsys):
    base, _ = runs
    assert main(["merge", "--from-reports", f"{base / 'correct'},{base / 'buggy'}", "--out", str(tmp_path / "m1")]) == 0
    merged = report(tmp_path / "m1")
    assert merged["merged"] and [t["name"] for t in merged["targets"]] == [CORRECT, BUGGY]
    assert merged["summary"]["total"] == 34 and merged["summary"]["fail"] == 4
    assert (tmp_path / "m1" / sanitize_target(BUGGY) / "junit.xml").is_file()
    suites = ET.parse(tmp_path / "m1" / "junit.xml").getroot().findall("testsuite")
    assert len(suites) == 2
    assert main(["merge", "--from-reports", str(base / "correct"), "--out", str(tmp_path / "m0")]) == 0
    assert main(["merge", str(base / "correct"), str(base / "buggy"), "--out", str(tmp_path / "m2"), "--gate"]) == 1
    capsys.readouterr()
    # Diff of two merged folders keys cases by target: the buggy target's cases are "added".
    assert main(["diff", str(tmp_path / "m0"), str(tmp_path / "m1")]) == 0
    out = capsys.readouterr().out
    assert "Added (17)" in out and f"{BUGGY}: {RELU_CASE}: fail" in out

"""Failures grouped by cause (report/grouping.py), on a port with one planted bug.

tests/data/go_backwards_bug.py returns the output sequence un-reversed when
go_backwards=True: every case it fails shares go_backwards=true, and the end of
the run says so in a few lines, with a rerun command that selects the
representative case alone and the file:line where the case is defined.
"""

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.report.grouping import group_failures, kind_of, params_of, render_text

ROOT = Path(__file__).resolve().parents[1]
BUGGY = "tests/data/go_backwards_bug.py:buggy"


def conformance(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def buggy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("buggy")
    done = conformance("run", "-t", BUGGY, "-o", str(out))
    return done, out


def test_the_run_ends_with_a_short_grouped_summary(buggy_run):
    done, out = buggy_run
    assert done.returncode == 1, done.stderr
    report = json.loads((out / "report.json").read_text())
    failing = [c for c in report["cases"] if c["status"] == "fail"]
    assert len(failing) > 100  # the bug is seen by many cases ...
    assert len(done.stdout.splitlines()) < 30, done.stdout  # ... and told in a few lines
    assert len(done.stderr.splitlines()) < 10, done.stderr  # no line per failing case
    first = done.stdout.split("\n  2. ")[0]
    assert "cases fail at call (values differ), all with go_backwards=true" in first, done.stdout
    assert "every case with go_backwards=false" in first
    # The representative's rerun command selects exactly that case, and it fails again.
    rerun = next(line.split("rerun: ", 1)[1] for line in first.splitlines() if "rerun: " in line)
    command, _, where = rerun.partition("  (")
    argv = shlex.split(command)
    assert argv[:4] == ["conformance", "run", "--target", BUGGY] and argv[4] == "-k"
    again = conformance(*argv[1:], "-o", str(out / "again"))
    assert again.returncode == 1
    rerun_report = json.loads((out / "again" / "report.json").read_text())
    assert [c["id"] for c in rerun_report["cases"]] == [argv[5]]
    # file:line names the case's entry in its file.
    path, line = where.rstrip(")").rsplit(":", 1)
    text = (ROOT / path).read_text().splitlines()
    assert argv[5].split("[")[0].rsplit("/", 1)[-1] in "\n".join(text[int(line) - 1:int(line) + 1])


def test_verbose_prints_every_failing_case(buggy_run, tmp_path):
    done, out = buggy_run
    verbose = conformance("run", "-t", BUGGY, "-o", str(tmp_path), "-k", "go_backwards", "--verbose")
    report = json.loads((tmp_path / "report.json").read_text())
    failing = [c["id"] for c in report["cases"] if c["status"] == "fail"]
    assert failing and all(f"FAIL     {cid}:" in verbose.stderr for cid in failing)


def test_summary_and_diff_group_by_cause(buggy_run, tmp_path):
    done, out = buggy_run
    summary = (out / "summary.md").read_text()
    assert "## Failures by cause" in summary and "go\\_backwards=true" in summary
    assert f"conformance run --target {BUGGY} -k '" in summary
    baseline = conformance("run", "-t", "reference", "-o", str(tmp_path / "ref"), "-q")
    assert baseline.returncode == 0, baseline.stderr
    diff = conformance("diff", str(tmp_path / "ref"), str(out), "--markdown", str(tmp_path / "diff.md"))
    assert diff.returncode == 1
    section = diff.stdout.split("Regressions by cause", 1)[1]
    assert "go_backwards=true" in section.split("\n  2. ")[0]
    assert "Regressions by cause" in (tmp_path / "diff.md").read_text()


def test_an_exact_id_selects_that_case_alone():
    # shapes/usage_example is also a part of a longer id: -k with the exact id still picks one case.
    listed = conformance("list", "-k", "shapes/usage_example")
    assert listed.stdout.split() == ["shapes/usage_example"]
    assert len(conformance("list", "-k", "shapes/usage").stdout.split()) > 1


def test_attribution_names_the_parameter_passing_cases_lack():
    records = [{"id": f"a/x[p={p},q={q}]", "status": "fail" if p == "1" else "pass", "op": "call",
                "message": "3 of 4 values differ at [0]"} for p in "12" for q in "ab"]
    records.append({"id": "a/y[p=1]", "status": "fail", "op": "create", "message": "create raised TypeError: no"})
    groups = group_failures(records, target="t")
    assert [len(g.cases) for g in groups] == [2, 1]
    assert groups[0].shared == ["p=1"] and groups[0].others_pass == ["p=2"]
    assert groups[0].headline == "2 cases fail at call (values differ), all with p=1; every case with p=2 passes"
    assert groups[1].kind == "raised TypeError"
    assert "rerun: conformance run --target t -k 'a/x[p=1,q=a]'" in render_text(groups)


def test_values_no_passing_case_has_are_named_together():
    records = [{"id": f"a/x[act={a}]", "status": "error" if a in "ef" else "pass", "op": "create",
                "message": f"create raised KeyError: '{a}'"} for a in "abcdef"]
    (group,) = group_failures(records)
    assert group.shared == ["act=e|f"] and "all with act=e|f" in group.headline


def test_failure_kinds_and_parameters():
    assert params_of("m/x[a=1,b=u+k,c=none]") == ["a=1", "b=u+k", "c=none"]
    assert params_of("m/x") == []
    assert kind_of({"status": "fail", "message": "expected ValueError, got TypeError: bad"}) == \
        "raised TypeError instead of ValueError"
    assert kind_of({"status": "fail", "message": "expected ValueError to be raised, but call returned"}) == \
        "no exception raised"
    assert kind_of({"status": "fail", "message": "expected 2 items, got 0"}) == "item count differs"
    assert kind_of({"status": "crash", "message": "worker died"}) == "crash"


def test_summary_names_machine_expectations_and_only_visible_variants(buggy_run):
    done, out = buggy_run
    report = json.loads((out / "report.json").read_text())
    env = report["environment"]
    assert env["cpu_model"] and isinstance(env["cpu_flags"], list) and isinstance(env["threads"], dict)
    summary = (out / "summary.md").read_text()
    assert f"CPU {env['cpu_model']}" in summary
    assert "No expectations file" in summary
    variants = section = summary.split("## Implementation-defined outcomes taken", 1)[1]
    # With the first step unmasked, "zeros" and "initial_state" give the same output: not listed.
    took = [c["id"] for c in report["cases"] if c.get("variant")]
    middle = [i for i in took if "mask=middle" in i]
    assert middle and not any(i in section for i in middle)
    assert "mask=all_masked" in variants

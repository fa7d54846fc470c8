"""The `conformance` command line, run as a user runs it: exit statuses, messages, files.

Exit status: 0 all passed, 1 a case failed/errored/crashed/timed out, 2 usage or
case-file error (one line, no traceback).
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import CATALOG, DATA, REPO, factory, load_journal, load_report, run_cli, statuses

BAD = DATA / "bad"

# (file, the line the problem is on)
BAD_FILES = [
    pytest.param("syntax_error.yaml", 6, id="yaml-syntax-error"),
    pytest.param("unknown_key.yaml", 8, id="unknown-key"),
    pytest.param("wrong_type.yaml", 7, id="wrong-type"),
    pytest.param("python_tag.yaml", 7, id="python-tag"),
]


def _assert_one_line_error(proc, path, line):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    # the file and the exact line (not a line that merely starts with the same digits)
    assert re.search(re.escape(f"{path}:{line}") + r"(?!\d)", lines[0]), f"expected {path}:{line} in {lines[0]!r}"


@pytest.mark.parametrize("name, line", BAD_FILES)
def test_validate_refuses_bad_file_with_file_and_line(name, line):
    path = BAD / name
    proc = run_cli("validate", path)
    _assert_one_line_error(proc, path, line)


@pytest.mark.parametrize("name, line", BAD_FILES)
def test_run_refuses_bad_file_with_file_and_line(name, line, tmp_path):
    path = BAD / name
    out = tmp_path / "report"
    proc = run_cli("run", "--target", "reference", "--cases", path, "-o", out)
    _assert_one_line_error(proc, path, line)
    assert not (out / "report.json").exists()


def test_python_tag_is_never_executed(tmp_path):
    marker = tmp_path / "executed"
    case_file = tmp_path / "evil.yaml"
    case_file.write_text(
        "cases:\n"
        "  - id: evil/tag\n"
        "    description: d\n"
        "    spec: [{page: keras3, item: units}]\n"
        f"    layer: {{units: !!python/object/apply:os.system [\"touch {marker}\"]}}\n"
        "    steps:\n"
        "      - count_params:\n")
    for args in (["validate", case_file], ["run", "-t", "reference", "-c", case_file, "-o", tmp_path / "r"]):
        proc = run_cli(*args)
        assert proc.returncode == 2
        assert f"{case_file}:5" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert not marker.exists()


def test_validate_accepts_good_files():
    proc = run_cli("validate", DATA / "shared.yaml", DATA / "three.yaml")
    assert proc.returncode == 0, proc.stderr
    # shared.yaml: 12 forward combinations + 5 cases; three.yaml: 4 cases
    assert "2 files, 21 cases: valid" in proc.stdout


def test_validate_reports_every_bad_file():
    proc = run_cli("validate", BAD)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    # one problem a file, each naming its file (lines: see the tests above)
    assert len(proc.stderr.strip().splitlines()) == len(BAD_FILES)
    for param in BAD_FILES:
        assert f"{BAD / param.values[0]}:" in proc.stderr


def test_missing_case_file_is_usage_error(tmp_path):
    proc = run_cli("run", "-t", "reference", "-c", tmp_path / "nope.yaml", "-o", tmp_path / "r")
    assert proc.returncode == 2
    assert "nope.yaml" in proc.stderr and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- targets

def test_reference_passes_the_whole_catalog(tmp_path):
    proc = run_cli("run", "--target", "reference", "--cases", CATALOG, "-o", tmp_path, "-q", "-j", "2")
    report = load_report(tmp_path)
    bad = {k: v for k, v in statuses(report).items() if v != "pass"}
    assert proc.returncode == 0, (bad, proc.stderr[-2000:])
    assert report["summary"]["total"] > 0
    assert report["summary"]["pass"] == report["summary"]["total"]
    listed = run_cli("list", "--cases", CATALOG, "--profile", "keras3")
    assert sorted(listed.stdout.split()) == sorted(statuses(report))


def test_default_target_is_keras_numpy_and_passes_shared_cases(tmp_path):
    proc = run_cli("run", "--cases", DATA / "shared.yaml", "-o", tmp_path, "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = load_report(tmp_path)
    assert report["target"]["name"] == "keras:numpy"
    assert report["target"]["implementation"]["versions"]["keras"]
    assert report["summary"]["total"] == 17 == report["summary"]["pass"]


@pytest.mark.parametrize("target", ["nonsense", "keras:nope", "exec:", "tests/data/missing.py:make"])
def test_unknown_target_is_a_one_line_usage_error(target, tmp_path):
    proc = run_cli("run", "--target", target, "--cases", DATA / "three.yaml", "-o", tmp_path / "r")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("conformance: error:")
    assert not (tmp_path / "r" / "report.json").exists()


def test_failing_target_exits_1_and_reports_fail(tmp_path):
    proc = run_cli("run", "-t", factory("sign_flipped"), "-c", DATA / "three.yaml", "-o", tmp_path, "-q")
    assert proc.returncode == 1
    report = load_report(tmp_path)
    # probe/fourth's count_params passes, but its call step flips sign too
    assert set(statuses(report).values()) == {"fail"}
    assert "values differ" in report["cases"][0]["message"]


def test_nonpositive_timeout_is_usage_error(tmp_path):
    proc = run_cli("run", "-t", "reference", "-c", DATA / "three.yaml", "--timeout", "0", "-o", tmp_path)
    assert proc.returncode == 2 and "timeout" in proc.stderr and "Traceback" not in proc.stderr


def test_no_case_selected_is_usage_error(tmp_path):
    proc = run_cli("run", "-t", "reference", "-c", DATA / "three.yaml", "-k", "zebra", "-o", tmp_path)
    assert proc.returncode == 2 and "no case selected" in proc.stderr


def test_bad_keyword_expression_is_usage_error():
    proc = run_cli("list", "-c", DATA / "three.yaml", "-k", "probe and (")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_list_and_keyword_selection():
    proc = run_cli("list", "-c", DATA / "three.yaml")
    assert proc.stdout.split() == ["probe/first", "probe/second", "probe/third", "probe/fourth"]
    proc = run_cli("list", "-c", DATA / "three.yaml", "-k", "second or fourth")
    assert proc.stdout.split() == ["probe/second", "probe/fourth"]
    proc = run_cli("list", "-c", DATA / "three.yaml", "-k", "probe and not (first or third)")
    assert proc.stdout.split() == ["probe/second", "probe/fourth"]
    proc = run_cli("list", "-c", DATA / "shared.yaml", "-k", "state and not forward")
    assert proc.stdout.split() == ["shared/initial_state"]


def test_keyword_selection_is_recorded_as_deselected(tmp_path):
    proc = run_cli("run", "-t", "reference", "-c", DATA / "three.yaml", "-k", "first", "-o", tmp_path, "-q")
    assert proc.returncode == 0
    report = load_report(tmp_path)
    assert list(statuses(report)) == ["probe/first"]
    assert report["deselected"]["keyword"] == 3


def test_profile_selection_for_keras2_target(tmp_path):
    case_file = tmp_path / "profiles.yaml"
    case_file.write_text(
        "cases:\n"
        "  - {id: p/k3, description: d, spec: [{page: keras3, item: units}], profiles: [keras3],"
        " layer: {units: 2}, steps: [{build: {input_shape: [1, 2, 3]}}, {count_params: null}]}\n"
        "  - {id: p/both, description: d, spec: [{page: keras3, item: units}],"
        " layer: {units: 2}, steps: [{build: {input_shape: [1, 2, 3]}}, {count_params: null}]}\n")
    proc = run_cli("run", "-t", "reference", "--profile", "keras2", "-c", case_file, "-o", tmp_path / "r", "-q")
    assert proc.returncode == 0, proc.stderr
    report = load_report(tmp_path / "r")
    assert list(statuses(report)) == ["p/both"]
    assert report["deselected"]["profile"] == 1


def test_case_tolerance_override_is_applied(tmp_path):
    """A case's `tolerance:` (with a reason) replaces the policy: outputs 2e-4 off pass under
    rtol = atol = 1e-3 and fail under the float32 policy (2e-5)."""
    body = ("    description: d\n"
            "    spec: [{page: keras3, item: units}]\n"
            "    layer: {units: 3}\n"
            "    arrays: {x: {random: uniform, shape: [2, 4, 3], seed: 1}}\n"
            "    weights: {random: uniform, seed: 2}\n"
            "    steps: [{call: {inputs: x}}]\n")
    case_file = tmp_path / "tol.yaml"
    case_file.write_text(
        "cases:\n"
        "  - id: tol/policy\n" + body +
        "  - id: tol/override\n" + body +
        "    tolerance: {reason: a test of the override, float32: {rtol: 0.001, atol: 0.001}}\n")
    proc = run_cli("run", "-t", factory("offset"), "-c", case_file, "-o", tmp_path / "r", "-q")
    report = load_report(tmp_path / "r")
    by_id = {c["id"]: c for c in report["cases"]}
    assert by_id["tol/policy"]["status"] == "fail"
    assert by_id["tol/policy"]["tolerance"] == {"float32": {"rtol": 2e-5, "atol": 2e-5}}
    assert by_id["tol/override"]["tolerance"] == {"float32": {"rtol": 0.001, "atol": 0.001}}
    assert by_id["tol/override"]["status"] == "pass", by_id["tol/override"]
    assert proc.returncode == 1


# --------------------------------------------------------------------------- Ctrl-C

def test_ctrl_c_writes_a_valid_interrupted_report(tmp_path):
    cases = tmp_path / "many.yaml"
    cases.write_text("cases:\n" + "".join(
        f"  - id: slow/c{i:02d}\n"
        "    description: d\n"
        "    spec: [{page: keras3, item: units}]\n"
        "    layer: {units: 3}\n"
        f"    arrays: {{x: {{random: uniform, shape: [2, 4, 3], seed: {i}}}}}\n"
        "    weights: {random: uniform, seed: 7}\n"
        "    steps: [{call: {inputs: x}}]\n" for i in range(30)))
    out = tmp_path / "r"
    env = dict(os.environ)
    env.pop("KERAS_BACKEND", None)
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "run", "-t", factory("slow"),
                             "-c", cases, "-o", out, "-q"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        journal = out / "report.jsonl"
        while time.monotonic() < deadline:
            if journal.exists() and len(journal.read_text().splitlines()) >= 3:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        else:
            pytest.fail("no three cases finished within 60 s")
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGINT, (proc.returncode, stderr)  # 130, as a shell reports Ctrl-C
    assert "Traceback" not in stderr
    report = load_report(out)  # valid JSON, written whole
    assert report["interrupted"] is True
    journal = load_journal(out)
    ids = [c["id"] for c in report["cases"]]
    assert 3 <= len(ids) < 30
    assert sorted(ids) == sorted(r["id"] for r in journal)
    assert len(set(ids)) == len(ids)
    assert all(c["status"] == "pass" for c in report["cases"]), report["cases"]
    assert report["summary"]["total"] == len(ids) == report["summary"]["pass"]
    journal_by_id = {r["id"]: r for r in journal}
    for case in report["cases"]:
        assert case == journal_by_id[case["id"]]
    # the derived reports are written too, and say it was interrupted
    assert "interrupted" in (out / "summary.md").read_text()
    assert (out / "junit.xml").exists()
    assert not list(out.glob("*.tmp"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_any_command_from_its_start(signum, monkeypatch, capsys):
    """SIGTERM and SIGHUP are an interruption from the moment a command begins (a run launches its
    workers before it reads the cases), not only once cases run: one line, 128 + n, and the
    handlers of before are back afterwards."""
    from conformance import cli

    went_on = []

    def command(args):
        os.kill(os.getpid(), signum)  # delivered at once, to this (the main) thread
        went_on.append(True)
        return 0

    monkeypatch.setattr(cli, "cmd_list", command)
    fallback = lambda *_: went_on.append("fallback")  # noqa: E731 - what runs if the command installs none
    previous = signal.signal(signum, fallback)
    try:
        assert cli.main(["list"]) == 128 + signum
        assert went_on == []
        assert capsys.readouterr().err.strip() == f"conformance: interrupted by {signal.Signals(signum).name}"
        assert signal.getsignal(signum) is fallback
    finally:
        signal.signal(signum, previous)

"""Fault injection on what a run reads and writes: case files, the report folder, reports, text.

Every test drives real `conformance` processes with inputs written for it:
case files with values no case may hold (dates, alias bombs, 500-deep
nestings, arrays of 10^13 elements), a FIFO or a device named as a case file,
a report folder that is a file, read-only, locked by another run, on a full
disk (/dev/full) or deleted during the run, crafted reports, and target
messages with ESC, NUL, markup and megabytes. Each asserts the documented
outcome (docs/guarantees.md): one line and exit status 2 for bad input, never
a traceback, and a report folder whose report.json, junit.xml and report.jsonl
are valid and hold every case that was recorded.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import REPO, factory, load_journal, load_report, run_cli

HEAD = "cases:\n"


def case(case_id, layer="{units: 3}", arrays="{x: {random: uniform, shape: [2, 3, 4], seed: 1}}",
         steps="[{call: {inputs: x}}]", extra=""):
    """One case entry of a case file, as YAML text (the parts given are put in as written)."""
    return (f"  - id: {case_id}\n    description: d\n    spec: [{{page: keras3, item: units}}]\n"
            f"    layer: {layer}\n    arrays: {arrays}\n    steps: {steps}\n"
            f"    weights: {{random: uniform, seed: 7}}\n{extra}")


def write(folder, name, text):
    path = Path(folder) / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def error_lines(proc):
    """The lines on stderr, after checking that no traceback reached the user."""
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-3000:]
    return [line for line in proc.stderr.splitlines() if line.strip()]


def good_cases(folder, count=8):
    text = HEAD + "".join(case(f"faults/ok{i}", arrays=f"{{x: {{random: uniform, shape: [2, 3, 4], seed: {i}}}}}")
                          for i in range(count))
    return write(folder, "good.yaml", text)


# ====================================================================== case files

BAD_FILES = {
    # name: (text, line of the problem, words of the message)
    "date.yaml": (HEAD + case("faults/date", layer="{units: 3, name: 2001-01-01}"), 5, "date"),
    "set.yaml": (HEAD + case("faults/set", layer="{units: 3, name: !!set {a, b}}"), 5, "set"),
    "binary.yaml": (HEAD + case("faults/bin", layer="{units: 3, name: !!binary aGVsbG8=}"), 5, "binary"),
    "list_key.yaml": (HEAD + case("faults/key", layer="{units: 3, [1, 2]: 3}"), 5, "mapping key must be a string"),
    "deep.yaml": (HEAD + case("faults/deep", layer="{units: 3, name: " + "[" * 500 + "]" * 500 + "}"), 5, "nested"),
    "recursive.yaml": (HEAD + case("faults/rec", layer="&l {units: 3, again: *l}"), 5, "recursive"),
    "bomb.yaml": (HEAD + "  - id: faults/bomb\n    description: d\n    spec: [{page: keras3, item: units}]\n"
                  "    layer:\n      units: 3\n      a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
                  + "".join(f"      {n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n"
                            for p, n in zip("abcdef", "bcdefg"))
                  + "    steps: [{get_config: null}]\n", 0, "alias"),
    "escape_in_id.yaml": (HEAD + case('"faults/esc[a=\\e]"'), 2, "does not match"),
    "raw_control.yaml": (HEAD + case("faults/ctl", layer="{units: 3, name: \"a\x07b\"}"), 5, "U+0007"),
    "latin1.yaml": ((HEAD + case("faults/latin1", layer="{units: 3, name: caf\xe9}")).encode("latin-1"), 5,
                    "not UTF-8"),
    "huge_array.yaml": (HEAD + case("faults/huge", arrays="{x: {random: uniform, shape: [100000, 100000, 1000]}}"),
                        6, "10,000,000,000,000 elements"),
    "huge_eye.yaml": (HEAD + case("faults/eye", steps="[{set_weights: {weights: [{eye: 5000}]}}]"), 7,
                      "25,000,000 elements"),
    "huge_units.yaml": (HEAD + case("faults/units", layer="{units: 1000000}"), 5, "elements"),
    "huge_shape.yaml": (HEAD + case("faults/shape", steps="[{build: {input_shape: [100000, 100000, 8]}}]"), 7,
                        "elements"),
    "huge_matrix.yaml": (HEAD + "  - id: faults/matrix\n    description: d\n    spec: [{page: keras3, item: units}]\n"
                         f"    matrix: {{a: {list(range(200))}, b: {list(range(200))}}}\n"
                         "    layer: {units: $a}\n    steps: [{get_config: null}]\n", 2, "40,000 combinations"),
}


def test_bad_case_files_are_refused_with_file_and_line(tmp_path):
    """`validate` refuses each file with one line naming the file and the line, before building
    anything: the 10^13-element array is refused, not allocated (or the process would die)."""
    for name, (text, _, _) in BAD_FILES.items():
        write(tmp_path, name, text)
    proc = run_cli("validate", tmp_path, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = error_lines(proc)
    for name, (_, line, words) in BAD_FILES.items():
        mine = [entry for entry in lines if f"{tmp_path / name}" in entry]
        assert len(mine) == 1, (name, mine)
        where = f"{tmp_path / name}:{line}" if line else f"{tmp_path / name}"
        assert mine[0].startswith(f"conformance: case file error: {where}"), (name, mine[0])
        assert words in mine[0], (name, mine[0])
        assert "\x1b" not in mine[0] and "\x07" not in mine[0]
    assert len(lines) == len(BAD_FILES)


@pytest.mark.parametrize("jobs", [1, 2])
def test_run_refuses_a_bad_case_file_before_touching_the_report_folder(tmp_path, jobs):
    path = write(tmp_path, "date.yaml", BAD_FILES["date.yaml"][0])
    out = tmp_path / "out"
    proc = run_cli("run", "-t", "reference", "-c", path, "-o", out, "-j", jobs, "-q")
    assert proc.returncode == 2
    assert error_lines(proc) == [f"conformance: case file error: {path}:5: "
                                 "YAML error: a date or timestamp is not plain data (case files hold what JSON holds); "
                                 "quote it to make it a string"]
    assert not out.exists()


def test_every_bound_is_an_environment_variable(tmp_path):
    path = write(tmp_path, "small.yaml", HEAD + case("faults/small", arrays="{x: {random: uniform, shape: [2, 5, 11]}}"))
    assert run_cli("validate", path).returncode == 0
    proc = run_cli("validate", path, env={"CONFORMANCE_MAX_ARRAY_ELEMENTS": "100"})
    assert proc.returncode == 2
    (line,) = error_lines(proc)
    assert f"{path}:6 [faults/small]: arrays.x: asks for 110 elements, more than 100" in line
    proc = run_cli("validate", path, env={"CONFORMANCE_MAX_YAML_DEPTH": "3"})
    assert proc.returncode == 2 and "nested more than 3 levels" in error_lines(proc)[0]
    proc = run_cli("validate", path, env={"CONFORMANCE_MAX_ARRAY_ELEMENTS": "lots"})
    assert proc.returncode == 2
    assert error_lines(proc) == ["conformance: error: CONFORMANCE_MAX_ARRAY_ELEMENTS='lots': "
                                 "expected a positive whole number"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_fifo_or_a_device_named_as_cases_is_refused_without_opening_it(tmp_path, jobs):
    fifo = tmp_path / "cases.yaml"
    os.mkfifo(fifo)
    for path, kind in ((fifo, "a FIFO"), (Path("/dev/zero"), "a character device")):
        # Opening the FIFO would wait for a writer forever: the timeout would fail the test.
        proc = run_cli("run", "-t", "reference", "-c", path, "-o", tmp_path / "out", "-j", jobs, "-q", timeout=120)
        assert proc.returncode == 2
        assert error_lines(proc) == [f"conformance: case file error: {path}: not a regular file ({kind}); not read"]
    folder = tmp_path / "folder"
    folder.mkdir()
    good_cases(folder, 1)
    os.mkfifo(folder / "pipe.yaml")
    proc = run_cli("validate", folder, timeout=120)
    assert proc.returncode == 2 and "pipe.yaml: not a regular file (a FIFO)" in error_lines(proc)[0]


@pytest.mark.slow
def test_ctrl_c_while_cases_load_is_one_line_and_130(tmp_path):
    values = list(range(100))
    path = write(tmp_path, "big.yaml", HEAD + "  - id: faults/big\n    description: d\n"
                 "    spec: [{page: keras3, item: units}]\n"
                 f"    matrix: {{a: {values}, b: {values}}}\n    layer: {{units: $a}}\n"
                 "    arrays: {x: {random: uniform, shape: [2, 3, $b], seed: 1}}\n"
                 "    steps: [{call: {inputs: x}}]\n")
    env = dict(os.environ)
    env.pop("KERAS_BACKEND", None)
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "validate", str(path)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Loading 10,000 cases takes seconds of CPU; imports well under one. Interrupt inside it.
        ticks = os.sysconf("SC_CLK_TCK")
        while proc.poll() is None:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            if (int(fields[11]) + int(fields[12])) / ticks >= 1.2:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (proc.returncode, stdout, stderr)
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines() == ["conformance: interrupted"]


# ====================================================================== the report folder

@pytest.mark.parametrize("jobs", [1, 2])
def test_a_report_folder_that_is_a_file(tmp_path, jobs):
    cases = good_cases(tmp_path, 2)
    out = write(tmp_path, "out", "not a folder\n")
    proc = run_cli("run", "-t", "reference", "-c", cases, "-o", out, "-j", jobs, "-q")
    assert proc.returncode == 2
    assert error_lines(proc) == [f"conformance: error: report folder {out} exists and is not a folder"]
    assert out.read_text() == "not a folder\n"


def _without_permission_override():
    """In the child, before exec: drop the capabilities by which root writes where the mode forbids it
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER) from the bounding set, so that the process
    is held to a folder's mode as any user is. Without them already (not root), nothing changes."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):
        libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_read_only_report_folder(tmp_path, jobs):
    cases = good_cases(tmp_path, 2)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    env = dict(os.environ)
    env.pop("KERAS_BACKEND", None)
    try:
        proc = subprocess.run([sys.executable, "-m", "conformance", "run", "-t", "reference", "-c", str(cases),
                               "-o", str(out), "-j", str(jobs), "-q"], capture_output=True, text=True, timeout=180,
                              cwd=REPO, env=env, preexec_fn=_without_permission_override)
    finally:
        out.chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert error_lines(proc) == [f"conformance: error: cannot write in the report folder {out}: Permission denied"]
    assert os.listdir(out) == []


def _start(*args):
    env = dict(os.environ)
    env.pop("KERAS_BACKEND", None)
    return subprocess.Popen([sys.executable, "-m", "conformance", *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_records(proc, journal, count, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) >= count:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    pytest.fail(f"no {count} cases recorded within {seconds} s")


GATED = '''
import importlib.util
import os
import time

_spec = importlib.util.spec_from_file_location("factories", {factories!r})
factories = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(factories)


class Gated(factories.Float32RNN):
    """The reference; a layer of 4 units waits in its call until the gate file exists."""

    def __call__(self, *args, **kwargs):
        while self.units == 4 and not os.path.exists({gate!r}):
            time.sleep(0.02)
        return super().__call__(*args, **kwargs)


def gated(**config):
    return Gated(**config)
'''


def gated_run(tmp_path, count, open_cases, jobs, out):
    """A run whose first `open_cases` cases finish at once and whose others wait for `gate`."""
    gate = tmp_path / "gate"
    target = write(tmp_path, "gated.py", GATED.format(factories=str(REPO / "tests" / "data" / "factories.py"),
                                                      gate=str(gate)))
    text = HEAD + "".join(case(f"faults/ok{i}", layer="{units: 3}" if i < open_cases else "{units: 4}")
                          for i in range(count))
    cases = write(tmp_path, "gated.yaml", text)
    return _start("run", "-t", f"{target}:gated", "-c", cases, "-o", out, "-j", jobs, "-q"), gate


def _assert_whole(folder, ids):
    """report.json, junit.xml and report.jsonl are valid and hold exactly these cases."""
    report = load_report(folder)
    assert sorted(c["id"] for c in report["cases"]) == sorted(ids)
    assert report["completeness"] == {"selected": len(ids), "recorded": len(ids), "complete": True}
    assert sorted(r["id"] for r in load_journal(folder)) == sorted(ids)
    suite = ET.parse(folder / "junit.xml").getroot()
    assert len(suite.findall("testcase")) == len(ids)
    assert (folder / "summary.md").is_file()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp") or p.name == ".conformance.lock"]
    return report


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_second_run_into_the_same_folder_is_refused(tmp_path, jobs):
    out = tmp_path / "out"
    first, gate = gated_run(tmp_path, 4, 1, jobs, out)
    try:
        _wait_for_records(first, out / "report.jsonl", 1)  # the folder is the first run's; its others wait
        second = run_cli("run", "-t", "reference", "-c", good_cases(tmp_path, 2), "-o", out, "-j", jobs, "-q")
        assert second.returncode == 2
        (line,) = error_lines(second)
        assert line.startswith(f"conformance: error: report folder {out} is in use by another run (pid {first.pid})")
        gate.touch()
        stdout, stderr = first.communicate(timeout=180)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, stderr
    _assert_whole(out, [f"faults/ok{i}" for i in range(4)])


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_full_disk_is_one_line_and_keeps_what_can_be_kept(tmp_path, jobs):
    """The journal is /dev/full, where every write fails with ENOSPC, as on a full disk."""
    cases = good_cases(tmp_path, 4)
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.jsonl").symlink_to("/dev/full")
    proc = run_cli("run", "-t", "reference", "-c", cases, "-o", out, "-j", jobs, "-q")
    assert proc.returncode == 2
    lines = [line for line in error_lines(proc) if line.startswith("conformance: error")]
    assert lines == [f"conformance: error: cannot write the report: {out / 'report.jsonl'}: No space left on device; "
                     "4 cases recorded, kept in report.json, junit.xml, summary.md"]
    report = load_report(out)
    assert sorted(c["id"] for c in report["cases"]) == [f"faults/ok{i}" for i in range(4)]
    assert len(ET.parse(out / "junit.xml").getroot().findall("testcase")) == 4


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_report_folder_deleted_during_the_run_is_written_again(tmp_path, jobs):
    out = tmp_path / "out"
    proc, gate = gated_run(tmp_path, 6, 2, jobs, out)
    try:
        _wait_for_records(proc, out / "report.jsonl", 2)
        shutil.rmtree(out)
        gate.touch()
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert f"conformance: warning: {out / 'report.jsonl'} vanished during the run" in stderr
    report = _assert_whole(out, [f"faults/ok{i}" for i in range(6)])
    assert report["summary"]["pass"] == 6


# ====================================================================== text from targets

LOUD = '''
from reference_impl import SimpleRNN

TEXT = "\\x1b[31mred\\x00 <script>alert(1)</script> | [x](javascript:alert(1)) *bold* "


class Loud(SimpleRNN):
    def __call__(self, *args, **kwargs):
        raise RuntimeError(TEXT + "m" * 3_000_000)


def loud(**config):
    return Loud(**config)
'''


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_target_text_is_bounded_and_escaped_in_every_report(tmp_path, jobs):
    cases = good_cases(tmp_path, 3)
    target = f"{write(tmp_path, 'loud.py', LOUD)}:loud"
    out = tmp_path / "out"
    proc = run_cli("run", "-t", target, "-c", cases, "-o", out, "-j", jobs, "-q",
                   env={"CONFORMANCE_MAX_REPORT_TEXT": "2000"})
    assert proc.returncode == 1, proc.stderr
    assert "\x1b" not in proc.stderr + proc.stdout
    report = _assert_whole(out, [f"faults/ok{i}" for i in range(3)])
    assert {c["status"] for c in report["cases"]} == {"error"}

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)
    assert max(len(s) for s in strings(report)) <= 2000
    assert sum(p.stat().st_size for p in out.iterdir()) < 200_000  # three 3 MB messages
    junit = (out / "junit.xml").read_text(encoding="utf-8")
    assert "\x1b" not in junit and "\x00" not in junit and "\\x1b[31mred\\x00" in junit
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "<script>" not in summary and "\x1b" not in summary
    assert not re.search(r"(?<!\\)\]\(javascript", summary)  # no link: its bracket is escaped
    assert "\\<script\\>" in summary and "[x\\](javascript" in summary

    merged = tmp_path / "merged"
    proc = run_cli("merge", out, "-o", merged)
    assert proc.returncode == 0, proc.stderr
    assert len(ET.parse(merged / "junit.xml").getroot().findall(".//testcase")) == 3
    assert "<script>" not in (merged / "summary.md").read_text(encoding="utf-8")

    matrix = tmp_path / "matrix"
    proc = run_cli("matrix", "--from-reports", out, "-o", matrix, "-c", cases)
    assert proc.returncode == 0, proc.stderr
    assert "<script>alert" not in (matrix / "matrix.md").read_text(encoding="utf-8")
    for page in matrix.rglob("*.html"):
        assert "<script>alert" not in page.read_text(encoding="utf-8"), page


# ====================================================================== crafted reports

def _report(ids, status="pass", **extra):
    return {"schema_version": 1, "target": {"name": "demo", "profile": "keras3"}, "interrupted": False,
            "summary": {"total": len(ids), status: len(ids)}, "started": "2020-01-01T00:00:00+00:00",
            "cases": [{"id": i, "status": status, "duration_s": 0.1} for i in ids], **extra}


def _folder(base, name, report):
    folder = Path(base) / name
    folder.mkdir()
    (folder / "report.json").write_text(json.dumps(report))
    return folder


def test_merge_renders_junit_from_the_reports_and_never_parses_a_broken_one(tmp_path):
    report = _report(["a/b[x=\x1b\x00]", "a/c"], status="fail")
    report["cases"][0]["message"] = "ESC \x1b NUL \x00 <b>|"
    folder = _folder(tmp_path, "run", report)
    write(folder, "junit.xml", "<testsuite><testcase name='\x1b'></testsuite")  # not XML
    proc = run_cli("merge", folder, "-o", tmp_path / "merged")
    assert proc.returncode == 0, proc.stderr
    suite = ET.parse(tmp_path / "merged" / "junit.xml").getroot()
    names = sorted(t.get("name") for t in suite.iter("testcase"))
    assert names == ["b[x=\\x1b\\x00]", "c"]
    assert "ESC \\x1b NUL \\x00 <b>|" in ET.tostring(suite, encoding="unicode").replace("&lt;", "<").replace("&gt;", ">")


def test_diff_gates_removed_cases_and_incomplete_runs(tmp_path):
    ids = [f"area/c{i}" for i in range(5)]
    full = _folder(tmp_path, "full", _report(ids))
    fewer = _folder(tmp_path, "fewer", _report(ids[:3]))
    proc = run_cli("diff", full, fewer)
    assert proc.returncode == 1, proc.stdout
    assert "0 regressions, but the gate fails: 2 cases of the baseline missing from the new run" in proc.stdout
    assert run_cli("diff", "--allow-removed", full, fewer).returncode == 0
    interrupted = _folder(tmp_path, "interrupted", _report(ids, interrupted=True))
    proc = run_cli("diff", full, interrupted)
    assert proc.returncode == 1 and f"{interrupted}: the run was interrupted" in proc.stdout
    incomplete = _folder(tmp_path, "incomplete",
                         _report(ids, completeness={"selected": 6, "recorded": 5, "complete": False}))
    proc = run_cli("diff", full, incomplete)
    assert proc.returncode == 1 and "5 of 6 selected cases recorded" in proc.stdout
    assert run_cli("diff", full, full).returncode == 0


def test_diff_reads_the_journal_of_a_run_killed_before_report_json(tmp_path):
    ids = [f"area/c{i}" for i in range(5)]
    full = _folder(tmp_path, "full", _report(ids))
    killed = tmp_path / "killed"
    killed.mkdir()
    lines = [json.dumps({"id": i, "status": "pass", "duration_s": 0.1}) for i in ids[:3]]
    write(killed, "report.jsonl", "\n".join(lines) + '\n{"id": "area/c3", "sta')  # cut mid-record
    proc = run_cli("diff", full, killed)
    assert proc.returncode == 1
    assert error_lines(proc) == [f"conformance: warning: {killed / 'report.jsonl'}: the last line was cut off "
                                 "(the run was stopped while writing it); dropped"]
    assert "2 cases of the baseline missing" in proc.stdout
    assert "only report.jsonl: the run was stopped before it wrote report.json" in proc.stdout


def test_a_journal_line_that_is_not_a_record_is_one_line_and_2(tmp_path):
    killed = tmp_path / "killed"
    killed.mkdir()
    write(killed, "report.jsonl", '{"id": "a/b", "status": "pass"}\nnot json\n{"id": "a/c", "status": "pass"}\n')
    proc = run_cli("diff", killed, killed)
    assert proc.returncode == 2
    assert error_lines(proc) == [f"conformance: error: {killed / 'report.jsonl'}:2: not a JSON record"]


def test_aliases_within_the_bounds_load_as_plain_data():
    from conformance.catalog import yamlfile

    tree = yamlfile.load("a: &a [1, {b: 2}]\nc: *a\nd: [*a, *a]\n")
    assert tree == {"a": [1, {"b": 2}], "c": [1, {"b": 2}], "d": [[1, {"b": 2}], [1, {"b": 2}]]}
    chain = "a: &a " + "[" * 40 + "1" + "]" * 40 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n"
    with pytest.raises(yamlfile.YamlError, match="nested more than 64 levels deep"):
        yamlfile.load(chain)  # each part is shallow enough; together they are 71 deep


@pytest.mark.parametrize("content, words", [
    ("[1, 2, 3]", "not a report (a JSON object was expected, found list)"),
    ('{"cases": "x"}', "not a report (no `cases` list)"),
    ('{"cases": [{"id": 1, "status": "pass"}]}', "case 0 is not a record with a string `id` and `status`"),
    ('{"cases": [], "target": "demo"}', "not a report (no `target` with a `name`)"),
    ('{"cases": [], "target": {"name": "d"}, "suite": "x"}', "not a report (`suite` is not an object)"),
    ("{not json", "not a report (not JSON"),
    (b"\xff\xfe{}", "not a report (not UTF-8 text)"),
])
def test_diff_of_a_file_that_is_not_a_report_is_one_line_and_2(tmp_path, content, words):
    good = _folder(tmp_path, "good", _report(["a/b"]))
    bad = write(tmp_path, "bad.json", content)
    proc = run_cli("diff", good, bad)
    assert proc.returncode == 2
    (line,) = error_lines(proc)
    assert line.startswith(f"conformance: error: {bad}: ") and words in line, line
    proc = run_cli("diff", bad, tmp_path / "missing")
    assert proc.returncode == 2 and len(error_lines(proc)) == 1


def test_matrix_takes_case_files_from_its_arguments_never_from_a_report(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write(elsewhere, "c.yaml", HEAD + case("faults/ok0").replace("description: d", "description: SENTINEL-TEXT"))
    report = _report(["faults/ok0"], status="fail", options={"cases": [str(elsewhere)]})
    folder = _folder(tmp_path, "run", report)
    proc = run_cli("matrix", "--from-reports", folder, "-o", tmp_path / "m1")
    assert proc.returncode == 0, proc.stderr
    assert not any("SENTINEL-TEXT" in p.read_text(encoding="utf-8") for p in (tmp_path / "m1").rglob("*.html"))
    proc = run_cli("matrix", "--from-reports", folder, "-o", tmp_path / "m2", "-c", elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert any("SENTINEL-TEXT" in p.read_text(encoding="utf-8") for p in (tmp_path / "m2").rglob("*.html"))
    nameless = _folder(tmp_path, "nameless", {"cases": [], "target": {}})
    proc = run_cli("matrix", "--from-reports", nameless, "-o", tmp_path / "m3")
    assert proc.returncode == 2
    assert error_lines(proc) == [f"conformance: error: {nameless / 'report.json'}: not a report "
                                 "(no `target` with a `name`)"]


# ====================================================================== every command

def test_bad_expectations_files_are_one_line_and_2(tmp_path):
    cases = good_cases(tmp_path, 1)
    for name, content, words in (
            ("five.yaml", "expectations:\n  - id: faults/ok0\n    status: 5\n    category: c\n    reason: r\n",
             "status 5 is not one of fail, error, crash, timeout"),
            ("latin1.yaml", "expectations: []\n# caf\xe9\n".encode("latin-1"), "not UTF-8"),
            ("bomb.yaml", "expectations:\n  - &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
             + "".join(f"  - &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdef", "bcdefg")),
             "an alias bomb?")):
        path = write(tmp_path, name, content)
        proc = run_cli("run", "-t", "reference", "-c", cases, "-o", tmp_path / "out", "-e", path, "-q")
        assert proc.returncode == 2, proc.stderr
        lines = error_lines(proc)
        assert len(lines) == 1 and lines[0].startswith(f"conformance: error: {path}") and words in lines[0], lines


def test_other_commands_on_bad_input_are_one_line_and_2(tmp_path):
    bad = write(tmp_path, "bad.yaml", BAD_FILES["date.yaml"][0])
    not_a_report = write(tmp_path, "x.json", "[]")
    for args in (("coverage", "-c", bad, "-o", tmp_path / "cov.md"),
                 ("coverage", "--spec", tmp_path / "nowhere", "-o", tmp_path / "cov.md"),
                 ("fixtures", "-c", bad, "-o", tmp_path / "fixtures"),
                 ("list", "-c", bad),
                 ("list", "-k", " ".join(["not"] * 300) + " x"),
                 ("merge", not_a_report, "-o", tmp_path / "merged"),
                 ("diff", not_a_report, not_a_report)):
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(error_lines(proc)) == 1, (args, proc.stderr)


def test_debug_shows_the_traceback_and_an_unexpected_error_is_named_as_the_suites(tmp_path, capsys):
    proc = run_cli("--debug", "list", "-k", "(")
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "KeywordError" in proc.stderr
    proc = run_cli("list", "-k", "(", "--debug")
    assert "Traceback" in proc.stderr
    from conformance import cli

    assert cli._one_line_error(ZeroDivisionError("boom")) == cli.INTERNAL_ERROR == 3
    assert capsys.readouterr().err == ("conformance: internal error of the suite: ZeroDivisionError: boom "
                                       "(rerun with --debug for the traceback, and please report it)\n")


def test_a_lock_held_by_another_process_is_released_when_it_ends(tmp_path):
    """The lock is the system's (flock): a run killed with SIGKILL leaves no stale lock behind."""
    cases = good_cases(tmp_path, 1)
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a+');"
                               "fcntl.flock(f, fcntl.LOCK_EX); f.write('4242'); f.flush(); print('held', flush=True);"
                               "time.sleep(600)", str(out / ".conformance.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = run_cli("run", "-t", "reference", "-c", cases, "-o", out, "-q")
        assert proc.returncode == 2 and "is in use by another run (pid 4242)" in error_lines(proc)[0]
        holder.kill()
        holder.wait()
    finally:
        if holder.poll() is None:
            holder.kill()
    proc = run_cli("run", "-t", "reference", "-c", cases, "-o", out, "-q")
    assert proc.returncode == 0, proc.stderr
    _assert_whole(out, ["faults/ok0"])

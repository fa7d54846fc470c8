"""Fault injection into real `conformance run` processes: the run path's promises (docs/guarantees.md).

Targets are `exec:` harnesses (tests/data/faulty_harness.py) and factories
(tests/data/faulty_factories.py) that misbehave on the second case of
tests/data/three.yaml; signals are sent to the runner process itself. Each test
checks what a user relies on: one verdict for every selected case, or a non-zero
exit; nothing the target started alive afterwards (by PID, each harness process
writes its own); report.json, junit.xml and report.jsonl that parse; one line
and exit 2 where the run cannot start at all.
"""

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import DATA, REPO, run_cli, statuses

THREE = DATA / "three.yaml"
IDS = {"probe/first", "probe/second", "probe/third", "probe/fourth"}
HARNESS = DATA / "faulty_harness.py"


def harness(mode, pidfile):
    return f"exec:{sys.executable} {HARNESS} {mode} {pidfile}"


def alive(pid):
    """True while `pid` is a live process (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def assert_all_gone(pidfile, wait=10.0):
    """Every PID in `pidfile` ends (within `wait` seconds: processes take a moment to die)."""
    pids = [int(p) for p in Path(pidfile).read_text().split()] if Path(pidfile).exists() else []
    deadline = time.monotonic() + wait
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if alive(p)], f"left alive: {[p for p in pids if alive(p)]} of {pids}"
    return pids


def assert_valid_reports(folder, complete=True):
    """report.json, junit.xml and report.jsonl parse; with `complete`, one verdict per case."""
    folder = Path(folder)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    ET.parse(folder / "junit.xml")
    assert (folder / "summary.md").is_file()
    journal = [json.loads(line) for line in (folder / "report.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["id"] for r in journal} == {c["id"] for c in report["cases"]}
    if complete:
        assert statuses(report).keys() == IDS
        assert report["completeness"]["selected"] == report["completeness"]["recorded"] == len(IDS)
    return report


def one_line_exit_2(proc):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


JOBS = pytest.mark.parametrize("jobs", ["1", "2"])


# --------------------------------------------------------------------------- every case gets its verdict

@JOBS
def test_a_reply_that_is_not_an_object_is_that_cases_error(tmp_path, jobs):
    pids = tmp_path / "pids"
    proc = run_cli("run", "-q", "-t", harness("list-run", pids), "-c", THREE, "-o", tmp_path / "r", "-j", jobs)
    assert proc.returncode == 1, proc.stderr
    report = assert_valid_reports(tmp_path / "r")
    second = next(c for c in report["cases"] if c["id"] == "probe/second")
    assert second["status"] == "error" and second["fault"] == "target"
    assert "not an object" in second["message"]
    assert {s for i, s in statuses(report).items() if i != "probe/second"} == {"unsupported"}
    assert_all_gone(pids)


def test_a_harness_reply_that_breaks_the_result_schema_names_the_field(tmp_path):
    # An exec: harness's replies are checked against result.json (the suite's own worker writes
    # them through its encoder, which only makes the schema's forms).
    pids = tmp_path / "pids"
    proc = run_cli("run", "-q", "-t", harness("bad-array", pids), "-c", THREE, "-o", tmp_path / "r")
    assert proc.returncode == 1, proc.stderr
    report = assert_valid_reports(tmp_path / "r")
    second = next(c for c in report["cases"] if c["id"] == "probe/second")
    assert second["status"] == "error" and second["fault"] == "target", second
    assert "schema result.json" in second["message"] and "shape[0]" in second["message"], second["message"]
    assert_all_gone(pids)


@pytest.mark.parametrize("factory", ["returns_str", "returns_dict", "returns_generator"])
def test_a_result_the_suite_cannot_read_is_the_targets_error_not_a_crash(tmp_path, factory):
    proc = run_cli("run", "-q", "-t", f"{DATA / 'faulty_factories.py'}:{factory}", "-c", THREE, "-o", tmp_path)
    assert proc.returncode == 1, proc.stderr
    report = assert_valid_reports(tmp_path)
    assert statuses(report) == {"probe/first": "pass", "probe/second": "error", "probe/third": "pass",
                                "probe/fourth": "pass"}
    second = next(c for c in report["cases"] if c["id"] == "probe/second")
    assert second["fault"] == "target", second
    assert "could not judge" not in second["message"]


def test_a_value_the_runner_cannot_send_is_the_case_files_fault(tmp_path):
    """A YAML date as the layer's name: refused by validation (one line, exit 2) or, if the schema
    lets it through, recorded against that one case; never a lost run."""
    text = THREE.read_text().replace("layer: {units: 5}", "layer: {units: 5, name: 2001-01-01}")
    assert "2001-01-01" in text
    cases = tmp_path / "dated.yaml"
    cases.write_text(text)
    proc = run_cli("run", "-q", "-t", "reference", "-c", cases, "-o", tmp_path / "r", "-j", "2")
    if proc.returncode == 2:
        one_line_exit_2(proc)
        return
    assert proc.returncode == 1, proc.stderr
    report = assert_valid_reports(tmp_path / "r")
    second = next(c for c in report["cases"] if c["id"] == "probe/second")
    assert second["status"] == "error" and second["fault"] == "case", second
    assert {s for i, s in statuses(report).items() if i != "probe/second"} == {"pass"}


def test_the_runner_records_what_a_session_cannot_see_through():
    """The invariant at the API: a case whose message cannot be built still gets its Record."""
    from conformance.catalog.cases import load_cases
    from conformance.run.pipeline import run_cases
    from conformance.targets import resolve

    cases = load_cases([THREE])
    broken = cases[1]
    broken.concrete = lambda: (_ for _ in ()).throw(RuntimeError("cannot be made concrete"))
    records, _ = run_cases(resolve("reference"), cases)
    by_id = {r.id: r for r in records}
    assert set(by_id) == IDS and len(records) == 4
    assert by_id["probe/second"].status == "error" and by_id["probe/second"].verdict["fault"] == "case"
    assert {r.status for r in records if r.id != "probe/second"} == {"pass"}


# --------------------------------------------------------------------------- processes and real causes

@JOBS
def test_a_worker_that_exits_3_while_a_setsid_child_holds_its_pipes(tmp_path, jobs):
    pids = tmp_path / "pids"
    proc = run_cli("run", "-q", "-t", harness("fork-exit3", pids), "-c", THREE, "-o", tmp_path / "r",
                   "-j", jobs, "--timeout", "30")
    assert proc.returncode == 1, proc.stderr
    report = assert_valid_reports(tmp_path / "r")
    second = next(c for c in report["cases"] if c["id"] == "probe/second")
    assert second["status"] == "crash" and "exited with status 3" in second["message"], second
    assert len(assert_all_gone(pids)) >= 3  # the first worker, its setsid child, the restarted worker


@JOBS
def test_a_timeout_ends_the_blocked_worker_and_its_setsid_child(tmp_path, jobs):
    pids = tmp_path / "pids"
    proc = run_cli("run", "-q", "-t", harness("block", pids), "-c", THREE, "-o", tmp_path / "r",
                   "-j", jobs, "--timeout", "1.5")
    assert proc.returncode == 1, proc.stderr
    report = assert_valid_reports(tmp_path / "r")
    assert statuses(report)["probe/second"] == "timeout"
    assert "--timeout" in next(c for c in report["cases"] if c["id"] == "probe/second")["message"]
    assert len(assert_all_gone(pids)) >= 3


@JOBS
def test_a_child_that_outlives_stop_ends_with_the_run(tmp_path, jobs):
    pids = tmp_path / "pids"
    proc = run_cli("run", "-q", "-t", harness("linger", pids), "-c", THREE, "-o", tmp_path / "r", "-j", jobs)
    assert proc.returncode == 0, proc.stderr
    assert set(statuses(assert_valid_reports(tmp_path / "r")).values()) == {"unsupported"}
    assert len(assert_all_gone(pids)) == 2 * int(jobs)  # each worker and its setsid child


def test_an_endless_line_is_cut_at_the_bound(tmp_path):
    pids = tmp_path / "pids"
    proc = run_cli("run", "-q", "-t", harness("endless", pids), "-c", THREE, "-o", tmp_path / "r",
                   "--max-line-bytes", "2M")
    assert proc.returncode == 1, proc.stderr
    report = assert_valid_reports(tmp_path / "r")
    second = next(c for c in report["cases"] if c["id"] == "probe/second")
    assert second["status"] == "error" and "--max-line-bytes" in second["message"], second
    assert {s for i, s in statuses(report).items() if i != "probe/second"} == {"unsupported"}
    assert_all_gone(pids)


def test_a_stderr_flood_is_kept_as_a_bounded_tail(tmp_path):
    """80 MiB on stderr for each case, then a crash (explained by the end of stderr), then 80 MiB
    more for each case of the restarted worker: the runner's memory stays far below the flood."""
    pids = tmp_path / "pids"
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "conformance", "run", "-q",
                           "-t", harness("flood", pids), "-c", str(THREE), "-o", str(tmp_path / "r")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    peak_mib = int(proc.stdout.split()[-1]) / 1024  # the largest of the runner and its workers
    report = assert_valid_reports(tmp_path / "r")
    assert statuses(report) == {"probe/first": "unsupported", "probe/second": "crash",
                                "probe/third": "unsupported", "probe/fourth": "unsupported"}
    crash = next(c for c in report["cases"] if c["id"] == "probe/second")
    assert "exited with status 1" in crash["message"] and "xxx" in crash["message"]
    assert len(crash["message"]) < 5000, len(crash["message"])
    assert peak_mib < 150, peak_mib
    assert_all_gone(pids)


def test_a_memory_limit_makes_an_allocation_fail_in_the_worker(tmp_path):
    pids = tmp_path / "pids"
    proc = run_cli("run", "-q", "-t", harness("memory", pids), "-c", THREE, "-o", tmp_path / "r",
                   "--memory-limit", "256M")
    assert proc.returncode == 1, proc.stderr
    report = assert_valid_reports(tmp_path / "r")
    second = next(c for c in report["cases"] if c["id"] == "probe/second")
    assert second["status"] == "crash" and "MemoryError" in second["message"], second
    unlimited = run_cli("run", "-q", "-t", harness("memory", pids), "-c", THREE, "-o", tmp_path / "u")
    assert unlimited.returncode == 0, unlimited.stderr  # the same harness, without the limit


# --------------------------------------------------------------------------- fail fast

@pytest.mark.parametrize("target, jobs", [("kears:numpy", "1"), ("{data}/factories.py:nofactory", "2"),
                                          ("nosuchpkg.mod:f", "1"), ("exec:/no/such/harness", "2")])
def test_a_target_that_cannot_start_is_one_line_and_leaves_the_old_report(tmp_path, target, jobs):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "report.json").write_text('{"earlier": true}\n')
    proc = run_cli("run", "-t", target.format(data=DATA), "-c", THREE, "-o", folder, "-j", jobs)
    line = one_line_exit_2(proc)
    assert "could not start" in line
    assert sorted(p.name for p in folder.iterdir()) == ["report.json"]
    assert (folder / "report.json").read_text() == '{"earlier": true}\n'


def test_a_harness_that_never_answers_start_waits_for_the_startup_timeout_only(tmp_path):
    pids = tmp_path / "pids"
    proc = run_cli("run", "-t", harness("silent", pids), "-c", THREE, "-o", tmp_path / "r",
                   "--startup-timeout", "2", "--timeout", "600")
    line = one_line_exit_2(proc)
    assert "no answer within 2 s while starting (--startup-timeout)" in line
    assert not (tmp_path / "r").exists()
    assert_all_gone(pids)


# --------------------------------------------------------------------------- signals

def start_blocked_run(tmp_path, jobs):
    """A `conformance run` whose second case blocks (in a worker with a setsid child), once it does."""
    pids = tmp_path / "pids"
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "run", "-q", "-t", harness("block", pids),
                             "-c", str(THREE), "-o", str(tmp_path / "r"), "-j", jobs, "--timeout", "600"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not Path(f"{pids}.blocked").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    time.sleep(0.3)  # let the setsid child write its PID
    return proc, pids


@pytest.mark.parametrize("signum, jobs", [(signal.SIGTERM, "1"), (signal.SIGTERM, "2"), (signal.SIGHUP, "1"),
                                          (signal.SIGHUP, "2"), (signal.SIGINT, "1")])
def test_a_signal_writes_every_report_marked_interrupted(tmp_path, signum, jobs):
    proc, pids = start_blocked_run(tmp_path, jobs)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, out + err
    assert "Traceback" not in err
    report = assert_valid_reports(tmp_path / "r", complete=False)
    assert report["interrupted"] is True
    assert "probe/second" not in statuses(report)  # the case that was cut short has no verdict
    assert report["completeness"]["complete"] is False
    assert_all_gone(pids)


def test_a_signal_before_any_case_ran_is_one_line_and_writes_nothing(tmp_path):
    pids = tmp_path / "pids"
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "run", "-t", harness("silent", pids),
                             "-c", str(THREE), "-o", str(tmp_path / "r")],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not pids.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, out + err
    assert len(err.strip().splitlines()) == 1 and "SIGTERM" in err, err
    assert not (tmp_path / "r").exists()
    assert_all_gone(pids)


def test_sigkill_of_the_runner_leaves_no_process_of_the_target(tmp_path):
    proc, pids = start_blocked_run(tmp_path, "1")
    proc.kill()
    proc.communicate(timeout=30)
    assert len(assert_all_gone(pids)) >= 2  # the blocked worker and its setsid child
    journal = (tmp_path / "r" / "report.jsonl").read_text(encoding="utf-8")
    assert [json.loads(line)["id"] for line in journal.splitlines()] == ["probe/first"]

"""The runner: crashes, hangs and errors of a target become verdicts; the run goes on.

Targets are factory files of tests/data/factories.py wrapping the reference with
a planted fault. tests/data/three.yaml has four cases; the second has 5 units,
which is where the abort and hang factories trip.
"""

import pytest

from conformance.catalog.cases import load_cases
from conformance.run.runner import Runner, TargetSession, Worker, WorkerFailure
from conformance.targets import resolve
from conftest import DATA, assert_reports_agree, factory, load_journal, run_cli, statuses

THREE = DATA / "three.yaml"
ORDER = ["probe/first", "probe/second", "probe/third", "probe/fourth"]


def run_three(tmp_path, target, *extra):
    proc = run_cli("run", "--target", target, "--cases", THREE, "--timeout", "3", "-o", tmp_path, *extra)
    report = assert_reports_agree(tmp_path)
    return proc, report


def test_abort_is_a_crash_and_the_next_cases_still_run(tmp_path):
    proc, report = run_three(tmp_path, factory("abort_on_units_5"))
    assert proc.returncode == 1, proc.stderr
    assert statuses(report) == {"probe/first": "pass", "probe/second": "crash",
                                "probe/third": "pass", "probe/fourth": "pass"}
    crash = next(c for c in report["cases"] if c["id"] == "probe/second")
    assert "SIGABRT" in crash["message"]
    assert report["interrupted"] is False
    assert [r["id"] for r in load_journal(tmp_path)] == ORDER


def test_hang_is_a_timeout_and_the_next_cases_still_run(tmp_path):
    proc, report = run_three(tmp_path, factory("hang_on_units_5"))
    assert proc.returncode == 1, proc.stderr
    assert statuses(report) == {"probe/first": "pass", "probe/second": "timeout",
                                "probe/third": "pass", "probe/fourth": "pass"}
    timeout = next(c for c in report["cases"] if c["id"] == "probe/second")
    assert 3 <= timeout["duration_s"] < 30
    assert "3" in timeout["message"]


def test_raising_target_gives_error_verdicts(tmp_path):
    proc, report = run_three(tmp_path, factory("always_raises"))
    assert proc.returncode == 1
    assert set(statuses(report).values()) == {"error"}
    assert len(report["cases"]) == 4
    for case in report["cases"]:
        assert "RuntimeError" in case["message"] and "planted failure in call" in case["message"]
        assert case["op"] == "call"


def test_target_that_cannot_start_is_one_line_and_exit_2(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("raise ImportError('this target cannot be imported')\n\ndef make(**c):\n    pass\n")
    proc = run_cli("run", "--target", f"{broken}:make", "--cases", THREE, "-o", tmp_path / "r")
    assert proc.returncode == 2
    assert "could not start" in proc.stderr and "cannot be imported" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "r").exists()  # no case ran, no report folder was made


def test_passing_factory_target_exits_0(tmp_path):
    proc, report = run_three(tmp_path, factory("correct"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(statuses(report).values()) == {"pass"}


def test_jobs_run_every_case_once(tmp_path):
    proc, report = run_three(tmp_path, factory("abort_on_units_5"), "-j", "2")
    assert proc.returncode == 1
    assert statuses(report) == {"probe/first": "pass", "probe/second": "crash",
                                "probe/third": "pass", "probe/fourth": "pass"}
    assert sorted(r["id"] for r in load_journal(tmp_path)) == sorted(ORDER)


# --------------------------------------------------------------------------- the API

def test_target_session_restarts_its_worker_after_a_crash():
    cases = {c.id: c for c in load_cases([THREE])}
    session = TargetSession(resolve(factory("abort_on_units_5")), timeout=10)
    try:
        assert session.run_case(cases["probe/first"]).status == "pass"
        first_pid = session.worker.process.pid
        record = session.run_case(cases["probe/second"])
        assert record.status == "crash"
        assert session.worker is None or session.worker.process.pid != first_pid
        assert session.run_case(cases["probe/third"]).status == "pass"
        assert session.worker.process.pid != first_pid
    finally:
        session.close()


def test_target_session_restarts_its_worker_after_a_timeout():
    cases = {c.id: c for c in load_cases([THREE])}
    session = TargetSession(resolve(factory("hang_on_units_5")), timeout=1.5)
    try:
        assert session.run_case(cases["probe/first"]).status == "pass"
        old = session.worker.process
        record = session.run_case(cases["probe/second"])
        assert record.status == "timeout"
        assert old.poll() is not None          # the hung worker was killed
        assert session.run_case(cases["probe/fourth"]).status == "pass"
    finally:
        session.close()


def test_worker_protocol_start_and_stop():
    worker = Worker(resolve("reference"))
    info = worker.start()
    try:
        assert info["type"] == "started"
        assert info["implementation"]["name"] == "reference"
        (case,) = [c for c in load_cases([THREE]) if c.id == "probe/fourth"]
        reply = worker.run(case.concrete(), 30)
        assert reply["type"] == "result"
        assert len(reply["steps"]) == len(case.concrete()["steps"])
        assert reply["steps"][-1] == {"ok": 32}
    finally:
        worker.stop()
    assert worker.process.poll() == 0


def test_worker_that_dies_raises_crash():
    worker = Worker(resolve(factory("abort_on_units_5")))
    worker.start()
    (case,) = [c for c in load_cases([THREE]) if c.id == "probe/second"]
    with pytest.raises(WorkerFailure) as info:
        worker.run(case.concrete(), 30)
    assert info.value.status == "crash"
    worker.kill()


def test_runner_calls_on_record_once_per_case():
    cases = load_cases([THREE])
    records = []
    runner = Runner(resolve(factory("always_raises")), timeout=10, jobs=2)
    runner.run(cases, records.append)
    assert sorted(r.id for r in records) == sorted(ORDER)
    assert {r.status for r in records} == {"error"}
    assert runner.implementation["name"].endswith("always_raises")


# --------------------------------------------------------------------------- pipelining

def test_the_next_case_is_queued_behind_the_running_one():
    cases = {c.id: c for c in load_cases([THREE])}
    session = TargetSession(resolve("reference"), timeout=30)
    try:
        assert session.run_case(cases["probe/first"], then=(cases["probe/third"],)).status == "pass"
        # probe/third went to the worker before probe/first's result came
        assert [f.case.id for f in session._queued] == ["probe/third"]
        assert session.worker is not None and session._queued[0].sent > 0   # written to the live worker
        assert session._queued[0].sent < session._free_at   # sent before probe/first's result came
        assert session.run_case(cases["probe/third"], then=(cases["probe/fourth"],)).status == "pass"
        assert session.run_case(cases["probe/fourth"]).status == "pass"
        assert not session._queued
    finally:
        session.close()


@pytest.mark.parametrize("fault, status", [("abort_on_units_5", "crash"), ("hang_on_units_5", "timeout")])
def test_cases_queued_behind_a_lost_worker_are_sent_again(fault, status):
    """probe/third and probe/fourth are queued behind probe/second, whose worker dies or hangs:
    they run again on the next worker, each with its own result (probe/third returns a
    [2, 4, 3] sequence, probe/fourth counts 32 parameters)."""
    cases = {c.id: c for c in load_cases([THREE])}
    session = TargetSession(resolve(factory(fault)), timeout=2)
    try:
        later = (cases["probe/third"], cases["probe/fourth"])
        assert session.run_case(cases["probe/second"], then=later).status == status
        assert not session._queued
        assert session.run_case(cases["probe/third"], then=later[1:]).status == "pass"
        assert session.run_case(cases["probe/fourth"]).status == "pass"
    finally:
        session.close()


def test_the_queue_is_bounded_in_bytes_and_keeps_the_order(tmp_path, monkeypatch):
    """Small cases queue up behind the running one; a case too large for the pipe goes only
    when the worker has nothing left, and the cases after it wait behind it. Each case's
    expected outcome is computed once."""
    import conformance.judge.expected

    computed = []
    real = conformance.judge.expected.expected_outcome
    monkeypatch.setattr(conformance.judge.expected, "expected_outcome", lambda c: computed.append(c["id"]) or real(c))
    big = tmp_path / "big.yaml"
    big.write_text(THREE.read_text().replace("shape: [2, 4, 3], seed: 5", "shape: [64, 100, 3], seed: 5"))
    cases = {c.id: c for c in load_cases([big])}
    session = TargetSession(resolve("reference"), timeout=30)
    try:
        first, second, third, fourth = (cases[f"probe/{n}"] for n in ("first", "second", "third", "fourth"))
        assert session.run_case(first, then=(second, third, fourth)).status == "pass"
        assert [f.case.id for f in session._queued] == ["probe/second"]   # third is too large to queue
        assert session.run_case(second, then=(third, fourth)).status == "pass"
        assert [f.case.id for f in session._queued] == ["probe/third"]
        assert session._queued[0].sent >= session._free_at               # sent once the worker was idle
        assert session.run_case(third, then=(fourth,)).status == "pass"
        assert session.run_case(fourth).status == "pass"
        assert sorted(computed) == ["probe/first", "probe/fourth", "probe/second", "probe/third"]
    finally:
        session.close()


def test_a_case_that_finds_the_worker_gone_when_queued_goes_to_the_next_worker(monkeypatch):
    """The worker dies before probe/third can be queued behind probe/second (simulated: the
    write fails). probe/third must not take the next worker's answer to another case."""
    cases = {c.id: c for c in load_cases([THREE])}
    real_send, refused = Worker.try_send, []

    def send(self, line):
        if b'"probe/third"' in line and not refused:
            refused.append(line)
            return False
        return real_send(self, line)

    monkeypatch.setattr(Worker, "try_send", send)
    session = TargetSession(resolve(factory("abort_on_units_5")), timeout=10)
    try:
        assert session.run_case(cases["probe/second"], then=(cases["probe/third"],)).status == "crash"
        assert refused
        assert session.run_case(cases["probe/third"], then=(cases["probe/fourth"],)).status == "pass"
        assert session.run_case(cases["probe/fourth"]).status == "pass"
    finally:
        session.close()


def test_launch_starts_the_worker_early_and_times_only_its_start():
    """Runner.launch() starts the workers before the cases are known (the CLI reads the case
    files meanwhile); the start-up time recorded is the worker's, not the caller's delay."""
    import time

    runner = Runner(resolve("reference"), timeout=30)
    runner.launch()
    process = runner.sessions[0].worker.process
    thread, outcome = runner.sessions[0]._starting
    thread.join()  # the worker has started: what its start took is known now
    time.sleep(1)  # the caller's delay, which must not count
    records = []
    runner.run(load_cases([THREE]), records.append)
    assert sorted(r.id for r in records) == sorted(ORDER) and {r.status for r in records} == {"pass"}
    assert runner.implementation["startup_s"] == round(outcome["took"], 3)
    runner.close()
    assert process.poll() == 0   # the launched worker played the cases, then stopped


def test_closing_a_session_whose_worker_is_still_starting_returns_at_once(tmp_path):
    """A run that ends before its launched worker has loaded (a case-file error, no case
    selected, Ctrl-C) must not wait for that worker's start."""
    import time

    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(60)\n\ndef make(**config):\n    pass\n")
    session = TargetSession(resolve(f"{slow}:make"), timeout=10)
    session.launch()
    time.sleep(0.5)
    began = time.monotonic()
    session.close()
    assert time.monotonic() - began < 10
    assert session.worker is None


def test_two_workers_share_even_a_short_run():
    """Each worker takes only its share of the cases left, so with four cases and two workers
    both of them play some."""
    records = []
    runner = Runner(resolve("reference"), timeout=30, jobs=2)
    runner.run(load_cases([THREE]), records.append)
    runner.close()
    assert sorted(r.id for r in records) == sorted(ORDER) and {r.status for r in records} == {"pass"}
    assert all(s.implementation is not None for s in runner.sessions)   # both workers started and played

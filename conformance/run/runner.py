"""The runner: sends cases to a target's worker processes and records verdicts.

Each worker is a separate process (started by run/keeper.py in a session of
its own, so a Ctrl-C at the terminal reaches only the runner, and nothing the
target starts outlives it). A worker that dies is recorded as `crash` against
the case it was running, one that does not answer in time as `timeout`;
either way it is restarted and the run goes on. Whatever else goes wrong with
a case (a reply the suite cannot read, a value it cannot send, a bug of its
own) is that case's `error`, with a `fault` saying whose: every case given to
`Runner.run` gets exactly one record, and each goes to the recorder as soon as
it is known.

NumPy, the reference and the comparison are imported when the first case is
prepared, not with this module: `conformance run` launches its workers first,
so that they load their framework while the rest of the runner loads.
"""

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass

from conformance.report.record import Record
from conformance.report.text import cut
from conformance.run.protocol import OBSERVATION_KEYS
from conformance.run.transport import (
    MESSAGE_CHARS, STARTUP_TIMEOUT, Limits, Worker, WorkerFailure, encode_case, finite_seconds)

DEFAULT_TIMEOUT = 60.0  # seconds per case: the one default of every command that runs cases


def evaluate(case, reply, expected=None):
    """The verdict for a case from a worker's reply; `expected` is expected_outcome(case.concrete()),
    computed here when not given."""
    from conformance.judge.compare import Verdict, judge
    from conformance.judge.expected import expected_outcome

    concrete = case.concrete()
    if "unsupported" in reply:
        return Verdict("unsupported", reply["unsupported"])
    expected, variants = expected or expected_outcome(concrete)
    return judge(concrete, expected, reply["steps"], variants)


@dataclass
class _Flight:
    """A case on its way through a worker: the message, where and when it went, what to expect."""
    case: object
    line: bytes
    seq: int = 1
    sent: float = 0.0
    expected: tuple | None = None
    harness_error: Exception | None = None
    failure: WorkerFailure | None = None  # the case could not be sent


# Cases queued behind the running one, in bytes at most: the pipe holds them whole, so the
# writes never wait for the worker (which may itself be writing its result). A larger case
# is sent when the worker has nothing left to play.
SEND_AHEAD_BYTES = 16 * 1024
LOOK_AHEAD = 4  # cases a worker's thread takes from the queue beyond the one it runs


def _failed(case, status, message, fault, duration=0.0):
    """The Record of a case the harness could not see through, saying whose fault that is."""
    return Record(case.id, status, duration, {"message": cut(message, MESSAGE_CHARS), "fault": fault}, list(case.tags))


def result_problem(reply, concrete, schema=True):
    """Why a `result` message cannot be judged (the target's fault), or None. `schema`: check the
    whole message against result.json as well; the suite's own worker skips that, because its
    encoder (`arrays.to_wire`) only writes the schema's forms (tests/test_protocol_schemas.py
    checks its traffic over the whole catalog), while an `exec:` harness's replies are checked."""
    if "error" in reply:
        return f"the target could not give its observations: {cut(str(reply['error']), MESSAGE_CHARS)}"
    if "unsupported" in reply:
        return None if isinstance(reply["unsupported"], str) else "`unsupported` in a result must be a string"
    steps = reply.get("steps")
    if not isinstance(steps, list):
        return f"a result has `steps` (a list of observations) or `unsupported`; got {cut(repr(steps), 120)}"
    if len(steps) > len(concrete["steps"]):
        return f"the target returned {len(steps)} observations for {len(concrete['steps'])} steps"
    for index, observation in enumerate(steps):
        if not isinstance(observation, dict) or len(set(observation) & set(OBSERVATION_KEYS)) != 1:
            return (f"observation {index} must be an object with exactly one of {', '.join(OBSERVATION_KEYS)}; "
                    f"got {cut(repr(observation), 120)}")
    return _schema_problem(reply) if schema else None


def _schema_problem(reply):
    """The first field of a result that breaks result.json (run/schemas), or None; a compiled
    check, cheaper than parsing the reply was."""
    from conformance.run.schema import reply_problem

    problem = reply_problem(reply)
    return None if problem is None else cut(f"the result breaks the protocol (schema result.json) at {problem}", MESSAGE_CHARS)


def _judging_fault(case, expected):
    """When judging raised: the target's fault if the suite can judge its own expected outcome
    sent through the wire (so the target's reply is what it cannot read), else the suite's."""
    from conformance.arrays import from_wire, to_wire
    from conformance.judge.compare import judge
    from conformance.judge.expected import expected_outcome

    try:
        observations, variants = expected or expected_outcome(case.concrete())
        judge(case.concrete(), observations, from_wire(to_wire(observations), observed=True), variants)
    except Exception:  # noqa: BLE001 - the suite cannot judge even its own answer
        return "suite"
    return "target"


class TargetSession:
    """One worker of a target, started on first use and restarted after a crash or timeout.

    `run_case(case, then=next_cases)` queues the next cases behind the current one (a case
    too large for that is sent as soon as the worker is idle), so that the worker does not
    wait while a result is judged here. It always returns a Record: whatever goes wrong
    with a case is that case's verdict, with whose fault it is.
    """

    def __init__(self, spec, timeout=DEFAULT_TIMEOUT, startup_timeout=STARTUP_TIMEOUT, limits=Limits()):
        self.spec = spec
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.limits = limits
        self.worker = None
        self.start_error = None
        self.implementation = None
        self.startup_s = 0.0  # time spent starting workers (importing the framework)
        self._starting = None  # the thread that waits for a launched worker's `started`
        self._queued = deque()  # flights sent to the current worker, oldest first (emptied when it is lost)
        self._prepared = {}  # flights prepared but not (or no longer) sent: id(case) -> flight
        self._stopped = []  # workers asked to exit, perhaps not yet gone
        self._seq = 0  # the `seq` of the last run message prepared
        self._free_at = 0.0  # when the current worker finished its last case

    def launch(self):
        """Start a worker process now; it imports its framework while the caller goes on."""
        if self.worker is not None or self.start_error is not None:
            return
        worker = Worker(self.spec, self.startup_timeout, self.limits)
        launched = time.perf_counter()
        try:
            worker.launch()
        except (OSError, WorkerFailure) as exc:
            self.start_error = cut(f"target {self.spec.name} could not start: {getattr(exc, 'message', exc)}", MESSAGE_CHARS)
            return
        self.worker = worker
        self._free_at = 0.0
        # A thread takes the `started` reply when it comes, so that the start-up time is what
        # the worker took, not how long the caller was busy meanwhile.
        outcome = {}

        def wait():
            try:
                outcome["info"] = worker.await_started()
            except WorkerFailure as exc:
                outcome["failure"] = exc
            except Exception as exc:  # noqa: BLE001 - e.g. the worker was killed meanwhile
                outcome["failure"] = WorkerFailure("crash", f"the worker was stopped while starting ({exc})")
            finally:
                outcome["took"] = time.perf_counter() - launched

        self._starting = (threading.Thread(target=wait, daemon=True), outcome)
        self._starting[0].start()

    def wait_started(self):
        """Start the worker if needed and wait for its `started`; the start error or None."""
        self._ensure_started()
        return self.start_error

    def run_case(self, case, then=()):
        """The Record of `case`. `then`, the cases that follow it (if known), are queued behind
        it meanwhile, so that the worker goes on while the result of `case` is judged here."""
        try:
            return self._run_case(case, then)
        except Exception as exc:  # noqa: BLE001 - a harness bug must not lose the case, nor the run
            try:
                self._lose_worker()  # its state is unknown: the next case gets a fresh one
            except Exception:  # noqa: BLE001
                self.worker = None
            return _failed(case, "error", f"the suite could not run this case: {type(exc).__name__}: {exc}", "suite")

    def _run_case(self, case, then):
        if self._queued and self._queued[0].case is case:
            flight = self._queued.popleft()
        else:
            if self._queued:  # asked for another case than the one queued first: start afresh
                self._lose_worker()
            flight = self._dispatch(self._prepare(case))
        if flight.failure is not None:
            return _failed(case, flight.failure.status, flight.failure.message, flight.failure.fault)
        self._queue_behind(then)
        # The worker starts a case when it has sent the result of the one before.
        began = max(flight.sent, self._free_at)
        concrete = case.concrete()
        try:
            reply = self.worker.receive_result(concrete, self.timeout, began, flight.seq)
        except WorkerFailure as exc:
            self._lose_worker()
            return _failed(case, exc.status, exc.message, exc.fault, time.monotonic() - began)
        self._free_at = time.monotonic()
        if then and not self._queued:  # the worker is idle: a case too large to queue goes now
            ahead = self._dispatch(self._prepare(then[0]))
            if ahead.failure is None:  # else it is sent again, to the next worker, when its turn comes
                self._queued.append(ahead)
            else:
                self._prepared[id(then[0])] = ahead
        # The time spent in the implementation's own calls, as the worker measured it.
        target_s = finite_seconds(reply.get("elapsed_s"))
        target_s = self._free_at - began if target_s is None else target_s
        duration = time.monotonic() - began
        problem = result_problem(reply, concrete, schema=self.spec.command is not None)
        if problem is not None:
            return _failed(case, "error", problem, "target", duration)
        if flight.harness_error is not None:
            return _failed(case, "error", f"the suite could not compute this case's expected outcome: "
                                          f"{type(flight.harness_error).__name__}: {flight.harness_error}", "suite",
                           duration)
        try:
            decoded = Worker.decode_result(reply)
        except Exception as exc:  # noqa: BLE001 - arrays that do not decode: the target's reply
            return _failed(case, "error", f"the target's result does not decode: {type(exc).__name__}: {exc}",
                           "target", duration)
        try:
            verdict = evaluate(case, decoded, flight.expected)
        except Exception as exc:  # noqa: BLE001 - whose fault is told by judging the suite's own answer
            fault = _judging_fault(case, flight.expected)
            said = ("the target's result has a form the suite cannot compare" if fault == "target"
                    else "the suite could not judge this case")
            return _failed(case, "error", f"{said}: {type(exc).__name__}: {exc}", fault, duration)
        return Record(case.id, verdict.status, duration, verdict.to_dict(), list(case.tags), target_s)

    def _queue_behind(self, then):
        """Send the next cases, in order, while they fit in SEND_AHEAD_BYTES."""
        waiting = sum(len(f.line) for f in self._queued)
        for case in list(then)[len(self._queued):]:
            flight = self._prepare(case)
            if (flight.failure is not None or waiting + len(flight.line) > SEND_AHEAD_BYTES
                    or not self.worker.try_send(flight.line)):
                # Cannot be sent, too large to queue now, or the worker is gone (the running
                # case's result will say how): it goes later, as prepared.
                self._prepared[id(case)] = flight
                return
            flight.sent = time.monotonic()
            self._queued.append(flight)
            waiting += len(flight.line)

    def close(self, wait=True):
        """Stop the worker; with wait=False its exit is awaited by `Runner.close()`."""
        self._queued.clear()
        if self._starting is not None:  # launched but never used: no need to wait for it
            self.worker.interrupt()  # its `started` thread sees the end of the output and returns
            self._starting[0].join()
            self._starting = None
        if self.worker is not None:
            if self.worker.info is None:  # it never answered `start` (an interrupted wait): no need to ask
                self.worker.interrupt()
            self.worker.stop(wait)
            self._stopped.append(self.worker)
            self.worker = None
        if wait:
            self.reaped()

    def reaped(self):
        for worker in self._stopped:
            worker.reaped()
        self._stopped.clear()

    def kill(self):
        """From another thread (Ctrl-C): the session's own thread sees the worker die."""
        if self.worker is not None:
            self.worker.interrupt()

    def _prepare(self, case):
        """A flight for `case`: its message, and (here, while the worker plays something
        else) its expected outcome. A case whose values cannot be sent is a flight with a
        failure: the case file's fault."""
        flight = self._prepared.pop(id(case), None)
        if flight is not None:
            return flight
        self._seq += 1
        try:
            concrete = case.concrete()
            flight = _Flight(case, encode_case(concrete, self._seq), self._seq)
        except Exception as exc:  # noqa: BLE001 - e.g. a YAML date where the layer takes a string
            return _Flight(case, b"", self._seq, failure=WorkerFailure(
                "error", f"the case cannot be sent to a target: {type(exc).__name__}: {exc}", fault="case"))
        self._ensure_started()
        declared = set(((self.worker and self.worker.info) or {}).get("unsupported") or ())
        if declared & set(concrete["features"]):
            return flight  # the worker answers `unsupported`: nothing to compute
        from conformance.judge.expected import expected_outcome

        try:
            flight.expected = expected_outcome(concrete)
        except Exception as exc:  # noqa: BLE001 - a harness bug must not lose the run
            flight.harness_error = exc
        return flight

    def _dispatch(self, flight):
        """Send a prepared flight to the worker, starting one if needed."""
        if flight.failure is not None:
            return flight
        self._ensure_started()
        if self.worker is None:
            flight.failure = WorkerFailure("error", self.start_error)
            return flight
        flight.sent = time.monotonic()
        try:
            self.worker.send_line(flight.line)
        except WorkerFailure as exc:
            self._lose_worker()
            flight.failure = exc
        return flight

    def _ensure_started(self):
        if self.worker is None:
            self.launch()
        if self._starting is None:
            return
        (thread, outcome), self._starting = self._starting, None
        thread.join()
        self.startup_s += outcome["took"]
        if "failure" in outcome:
            exc = outcome["failure"]
            tail = self.worker.stderr_tail()
            self.worker.kill()
            self.worker = None
            # A silence is explained by the end of stderr; a crash's message and a `fatal` say it themselves.
            self.start_error = cut(f"target {self.spec.name} could not start: {exc.message}" + (
                f" (stderr: {tail})" if exc.status == "timeout" and tail else ""), MESSAGE_CHARS)
            return
        self.implementation = {**(outcome["info"].get("implementation") or {}),
                               "startup_s": round(self.startup_s, 3)}

    def _lose_worker(self):
        """After a crash or timeout: the next case gets a fresh worker, and the cases queued
        behind the lost one go to it (their expected outcomes are kept)."""
        if self._starting is not None:
            self._ensure_started()
        if self.worker is not None:
            self.worker.kill()
        self.worker = None
        for flight in self._queued:
            flight.failure = None
            self._prepared[id(flight.case)] = flight
        self._queued.clear()


class Runner:
    """Runs cases on one target with `jobs` workers; calls `on_record` once for each case.

    `launch()` starts the workers early (the CLI does so before it loads the cases, so that
    importing the framework and reading the case files overlap); `run` launches them otherwise.
    `run` records exactly one verdict for every case it is given, unless it is interrupted
    (KeyboardInterrupt, which it re-raises), `until` stops it, or `on_record` itself fails
    (that exception is re-raised here, in the caller's thread).
    """

    def __init__(self, spec, timeout=DEFAULT_TIMEOUT, jobs=1, startup_timeout=STARTUP_TIMEOUT, limits=Limits()):
        self.spec = spec
        self.timeout = timeout
        self.jobs = max(1, jobs)
        self.startup_timeout = startup_timeout
        self.limits = limits
        self.sessions = []
        self._stop = threading.Event()

    @property
    def implementation(self):
        return next((s.implementation for s in self.sessions if s.implementation), None)

    @property
    def start_error(self):
        return next((s.start_error for s in self.sessions if s.start_error), None)

    def launch(self):
        if not self.sessions:
            self.sessions = [TargetSession(self.spec, self.timeout, self.startup_timeout, self.limits)
                             for _ in range(self.jobs)]
            for session in self.sessions:
                session.launch()

    def wait_started(self):
        """Wait until the first worker has started; its start error, or None."""
        self.launch()
        return self.sessions[0].wait_started()

    def close(self):
        """Stop every worker and wait until each has exited."""
        for session in self.sessions:
            session.close()

    def run(self, cases, on_record, until=None):
        """Run `cases`; `until(record)`, when given and true, stops the run after that record."""
        self.launch()
        self._stop.clear()
        for idle in self.sessions[max(1, len(cases)):]:
            idle.close()
        active = self.sessions[:max(1, len(cases))]
        pending = queue.Queue()
        for case in cases:
            pending.put(case)
        done, problems, lock = set(), [], threading.Lock()

        def record(case, rec):
            try:
                on_record(rec)
            except BaseException as exc:  # noqa: BLE001 - e.g. the report folder is gone: the caller says so
                problems.append(exc)
                self._stop.set()
                return
            with lock:
                done.add(id(case))
            if until is not None and until(rec):
                self._stop.set()

        threads = [threading.Thread(target=self._serve, args=(session, pending, record, len(active)), daemon=True)
                   for session in active]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.01)
        except KeyboardInterrupt:
            self._stop.set()
            for session in active:
                session.kill()
            for thread in threads:
                thread.join(10)
            raise
        if problems:
            raise problems[0]
        if not self._stop.is_set():
            # The invariant, checked: a case no thread recorded (a bug here) still gets its verdict.
            for case in cases:
                if id(case) not in done:
                    record(case, _failed(case, "error", "the runner lost this case: no verdict was recorded for it",
                                         "suite"))

    def _serve(self, session, pending, record, workers):
        window = deque()  # this worker's next cases, in order: queued behind the running one
        try:
            while not self._stop.is_set():
                # A window no larger than a fair share of what is left, so that with several
                # workers none takes the last cases while another has nothing to do.
                ahead = min(LOOK_AHEAD, pending.qsize() // workers)
                while len(window) <= ahead and (case := self._take(pending)) is not None:
                    window.append(case)
                if not window:
                    return
                case = window.popleft()
                rec = session.run_case(case, then=tuple(window))
                if not self._stop.is_set():
                    record(case, rec)
        finally:
            try:
                session.close(wait=False)  # the worker exits while the reports are written
            except Exception:  # noqa: BLE001 - the run's verdicts stand; Runner.close() reaps
                pass

    def _take(self, pending):
        try:
            return None if self._stop.is_set() else pending.get_nowait()
        except queue.Empty:
            return None

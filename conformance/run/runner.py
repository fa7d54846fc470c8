"""The runner: sends cases to a target's worker processes and records verdicts.

Each worker is a separate process (its own session, so a Ctrl-C at the
terminal reaches only the runner). A worker that dies is recorded as `crash`
against the case it was running, one that does not answer in time as
`timeout`; either way it is restarted and the run goes on. Every finished case
goes to the recorder before the next one starts.

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
from conformance.run.transport import STARTUP_TIMEOUT, Worker, WorkerFailure, encode_case

DEFAULT_TIMEOUT = 60.0


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


def _harness_error(exc):
    from conformance.judge.compare import Verdict

    return Verdict("error", f"the suite could not judge this case: {type(exc).__name__}: {exc}")


class TargetSession:
    """One worker of a target, started on first use and restarted after a crash or timeout.

    `run_case(case, then=next_cases)` queues the next cases behind the current one (a case
    too large for that is sent as soon as the worker is idle), so that the worker does not
    wait while a result is judged here.
    """

    def __init__(self, spec, timeout=DEFAULT_TIMEOUT, startup_timeout=STARTUP_TIMEOUT):
        self.spec = spec
        self.timeout = timeout
        self.startup_timeout = startup_timeout
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
        worker = Worker(self.spec, self.startup_timeout)
        launched = time.perf_counter()
        try:
            worker.launch()
        except (OSError, WorkerFailure) as exc:
            self.start_error = f"target {self.spec.name} could not start: {getattr(exc, 'message', exc)}"
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
            except (OSError, ValueError, TypeError) as exc:  # the worker was killed meanwhile
                outcome["failure"] = WorkerFailure("crash", f"the worker was stopped while starting ({exc})")
            outcome["took"] = time.perf_counter() - launched

        self._starting = (threading.Thread(target=wait, daemon=True), outcome)
        self._starting[0].start()

    def run_case(self, case, then=()):
        """The Record of `case`. `then`, the cases that follow it (if known), are queued behind
        it meanwhile, so that the worker goes on while the result of `case` is judged here."""
        if self._queued:
            if self._queued[0].case is not case:
                raise RuntimeError(f"{case.id} asked for while {self._queued[0].case.id} is queued before it")
            flight = self._queued.popleft()
        else:
            flight = self._dispatch(self._prepare(case))
        tags = list(case.tags)
        if flight.failure is not None:
            return Record(case.id, flight.failure.status, 0.0, {"message": flight.failure.message}, tags)
        self._queue_behind(then)
        # The worker starts a case when it has sent the result of the one before.
        began = max(flight.sent, self._free_at)
        try:
            reply = self.worker.receive_result(case.concrete(), self.timeout, began, flight.seq)
        except WorkerFailure as exc:
            self._lose_worker()
            return Record(case.id, exc.status, time.monotonic() - began, {"message": exc.message}, tags)
        self._free_at = time.monotonic()
        if then and not self._queued:  # the worker is idle: a case too large to queue goes now
            ahead = self._dispatch(self._prepare(then[0]))
            if ahead.failure is None:  # else it is sent again, to the next worker, when its turn comes
                self._queued.append(ahead)
        # The time spent in the implementation's own calls, as the worker measured it.
        target_s = reply.get("elapsed_s", self._free_at - began)
        try:
            if flight.harness_error is not None:
                raise flight.harness_error
            verdict = evaluate(case, Worker.decode_result(reply), flight.expected)
        except Exception as exc:  # noqa: BLE001 - a harness bug must not lose the run
            verdict = _harness_error(exc)
        return Record(case.id, verdict.status, time.monotonic() - began, verdict.to_dict(), tags, target_s)

    def _queue_behind(self, then):
        """Send the next cases, in order, while they fit in SEND_AHEAD_BYTES."""
        waiting = sum(len(f.line) for f in self._queued)
        for case in list(then)[len(self._queued):]:
            flight = self._prepare(case)
            if waiting + len(flight.line) > SEND_AHEAD_BYTES or not self.worker.try_send(flight.line):
                # Too large to queue now, or the worker is gone (the running case's result will
                # say how): it goes later, as prepared.
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
        else) its expected outcome."""
        flight = self._prepared.pop(id(case), None)
        if flight is not None:
            return flight
        self._seq += 1
        flight = _Flight(case, encode_case(case.concrete(), self._seq), self._seq)
        self._ensure_started()
        declared = set(((self.worker and self.worker.info) or {}).get("unsupported") or ())
        if declared & set(case.concrete()["features"]):
            return flight  # the worker answers `unsupported`: nothing to compute
        from conformance.judge.expected import expected_outcome

        try:
            flight.expected = expected_outcome(case.concrete())
        except Exception as exc:  # noqa: BLE001 - a harness bug must not lose the run
            flight.harness_error = exc
        return flight

    def _dispatch(self, flight):
        """Send a prepared flight to the worker, starting one if needed."""
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
            self.start_error = f"target {self.spec.name} could not start: {exc.message}" + (
                f" ({tail})" if tail and tail not in exc.message else "")
            return
        self.implementation = {**(outcome["info"].get("implementation") or {}),
                               "startup_s": round(self.startup_s, 3)}

    def _lose_worker(self):
        """After a crash or timeout: the next case gets a fresh worker, and the cases queued
        behind the lost one go to it (their expected outcomes are kept)."""
        self.worker.kill()
        self.worker = None
        for flight in self._queued:
            self._prepared[id(flight.case)] = flight
        self._queued.clear()


class Runner:
    """Runs cases on one target with `jobs` workers; calls `on_record` for each finished case.

    `launch()` starts the workers early (the CLI does so before it loads the cases, so that
    importing the framework and reading the case files overlap); `run` launches them otherwise.
    """

    def __init__(self, spec, timeout=DEFAULT_TIMEOUT, jobs=1, startup_timeout=STARTUP_TIMEOUT):
        self.spec = spec
        self.timeout = timeout
        self.jobs = max(1, jobs)
        self.startup_timeout = startup_timeout
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
            self.sessions = [TargetSession(self.spec, self.timeout, self.startup_timeout) for _ in range(self.jobs)]
            for session in self.sessions:
                session.launch()

    def close(self):
        """Stop every worker and wait until each has exited."""
        for session in self.sessions:
            session.close()

    def run(self, cases, on_record):
        self.launch()
        for idle in self.sessions[max(1, len(cases)):]:
            idle.close()
        active = self.sessions[:max(1, len(cases))]
        pending = queue.Queue()
        for case in cases:
            pending.put(case)
        threads = [threading.Thread(target=self._serve, args=(session, pending, on_record, len(active)), daemon=True)
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

    def _serve(self, session, pending, on_record, workers):
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
                record = session.run_case(case, then=tuple(window))
                if not self._stop.is_set():
                    on_record(record)
        finally:
            session.close(wait=False)  # the worker exits while the reports are written

    def _take(self, pending):
        try:
            return None if self._stop.is_set() else pending.get_nowait()
        except queue.Empty:
            return None

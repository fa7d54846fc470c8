"""The runner: sends cases to a target's worker processes and records verdicts.

Each worker is a separate process (its own session, so a Ctrl-C at the
terminal reaches only the runner). A worker that dies is recorded as `crash`
against the case it was running, one that does not answer in time as
`timeout`; either way it is restarted and the run goes on. Every finished case
goes to the recorder before the next one starts.
"""

import os
import queue
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

from . import protocol
from .arrays import from_wire, to_wire
from .compare import Verdict, judge
from .expected import expected_outcome
from .targets import TargetSpec, worker_env

DEFAULT_TIMEOUT = 60.0
STARTUP_TIMEOUT = 300.0


class WorkerFailure(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status  # "crash" | "timeout" | "error"
        self.message = message


class Worker:
    """One process of a target, speaking the JSON-lines protocol."""

    def __init__(self, spec: TargetSpec, startup_timeout=STARTUP_TIMEOUT):
        self.spec = spec
        self.startup_timeout = startup_timeout
        self.process = None
        self.info = None
        self._buffer = b""
        self._stderr = None

    def start(self):
        command = self.spec.command or [sys.executable, "-m", "conformance.worker"]
        self._stderr = tempfile.TemporaryFile()
        self._buffer = b""
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env=worker_env(self.spec), start_new_session=True)
        self._send({"type": "start", "protocol": protocol.PROTOCOL_VERSION, "target": self.spec.to_message()})
        reply = self._receive(self.startup_timeout, "starting")
        if reply.get("type") != "started":
            self.kill()
            raise WorkerFailure("error", reply.get("message") or f"unexpected reply {reply!r}")
        if reply.get("protocol") != protocol.PROTOCOL_VERSION:
            self.kill()
            raise WorkerFailure("error", f"the target speaks protocol {reply.get('protocol')}, "
                                         f"the runner {protocol.PROTOCOL_VERSION}")
        self.info = reply
        return reply

    def run(self, case, timeout):
        """Send one case; return the decoded result message or raise WorkerFailure."""
        self.send_case(case)
        return self.result(case, timeout)

    def send_case(self, case):
        """Send a concrete case (its expectations stay here); the worker starts on it at once."""
        wire = to_wire({k: v for k, v in case.items()})
        wire["steps"] = [{"op": s["op"], "args": s["args"]} for s in wire["steps"]]
        self._send({"type": "run", "seq": 1, "case": wire})

    def result(self, case, timeout):
        """Wait for the result of the case sent last."""
        reply = self._receive(timeout, f"running {case['id']}")
        if reply.get("type") == "fatal":
            self.kill()
            raise WorkerFailure("error", reply.get("message", "the worker gave up"))
        if reply.get("type") != "result":
            self.kill()
            raise WorkerFailure("error", f"unexpected reply {str(reply)[:200]}")
        if "steps" in reply:
            reply["steps"] = from_wire(reply["steps"], observed=True)
        return reply

    def stop(self):
        if self.process and self.process.poll() is None:
            try:
                self._send({"type": "stop"})
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired, WorkerFailure):
                self.kill()
        self._close()

    def kill(self):
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
            self.process.wait()
        self._close()

    def stderr_tail(self, lines=3):
        if not self._stderr:
            return ""
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        except (OSError, ValueError):
            return ""
        return " | ".join(line.strip() for line in text[-lines:])

    def _close(self):
        if self.process:
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass

    def _send(self, message):
        try:
            self.process.stdin.write(protocol.dumps(message).encode("utf-8"))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise self._died("while sending") from None

    def _receive(self, timeout, doing):
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.kill()
                    raise WorkerFailure("timeout", f"no answer within {timeout:g} s while {doing}")
                if not selector.select(remaining):
                    continue
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise self._died(f"while {doing}")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return protocol.loads(line)
        except ValueError:
            self.kill()
            raise WorkerFailure("error", f"the target wrote a line that is not JSON: {line[:120]!r}") from None

    def _died(self, doing):
        code = self.process.wait()
        tail = self.stderr_tail()
        how = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
        self._close()
        return WorkerFailure("crash", f"the worker {how} {doing}" + (f"; stderr: {tail}" if tail else ""))


@dataclass
class Record:
    """One finished case, as the report keeps it."""
    id: str
    status: str
    duration_s: float
    verdict: dict = field(default_factory=dict)
    tags: list = field(default_factory=list)
    target_s: float | None = None

    def to_dict(self):
        out = {"id": self.id, "status": self.status, "duration_s": round(self.duration_s, 6)}
        if self.target_s is not None:
            out["target_s"] = round(self.target_s, 6)
        out.update({k: v for k, v in self.verdict.items() if k != "status"})
        if self.tags:
            out["tags"] = self.tags
        return out


def evaluate(case, reply, expected=None):
    """The verdict for a case from a worker's reply; `expected` is expected_outcome(case.concrete()),
    computed here when not given."""
    concrete = case.concrete()
    if "unsupported" in reply:
        return Verdict("unsupported", reply["unsupported"])
    expected, variants = expected or expected_outcome(concrete)
    return judge(concrete, expected, reply["steps"], variants)


class TargetSession:
    """One worker of a target, started on first use and restarted after a crash or timeout."""

    def __init__(self, spec, timeout=DEFAULT_TIMEOUT, startup_timeout=STARTUP_TIMEOUT):
        self.spec = spec
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.worker = None
        self.start_error = None
        self.implementation = None
        self.startup_s = 0.0  # time spent starting workers (importing the framework)

    def run_case(self, case):
        if self.worker is None and self.start_error is None:
            self._start_worker()
        started = time.perf_counter()
        tags = list(case.tags)
        if self.worker is None:
            return Record(case.id, "error", 0.0, {"message": self.start_error}, tags)
        try:
            sent = time.perf_counter()
            self.worker.send_case(case.concrete())
            # The reference plays the case here while the target plays it in its worker.
            try:
                expected, harness_error = expected_outcome(case.concrete()), None
            except Exception as exc:  # noqa: BLE001 - a harness bug must not lose the run
                expected, harness_error = None, exc
            reply = self.worker.result(case.concrete(), self.timeout)
            # The time spent in the implementation's own calls, as the worker measured it.
            target_s = reply.get("elapsed_s", time.perf_counter() - sent)
        except WorkerFailure as exc:
            self.worker.kill()
            self.worker = None  # a fresh one for the next case
            return Record(case.id, exc.status, time.perf_counter() - started, {"message": exc.message}, tags)
        try:
            if harness_error is not None:
                raise harness_error
            verdict = evaluate(case, reply, expected)
        except Exception as exc:  # noqa: BLE001 - a harness bug must not lose the run
            verdict = Verdict("error", f"the suite could not judge this case: {type(exc).__name__}: {exc}")
        return Record(case.id, verdict.status, time.perf_counter() - started, verdict.to_dict(), tags, target_s)

    def close(self):
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def _start_worker(self):
        worker = Worker(self.spec, self.startup_timeout)
        began = time.perf_counter()
        try:
            info = worker.start()
        except WorkerFailure as exc:
            tail = worker.stderr_tail()
            self.start_error = f"target {self.spec.name} could not start: {exc.message}" + (
                f" ({tail})" if tail and tail not in exc.message else "")
            return
        self.startup_s += time.perf_counter() - began
        self.implementation = {**(info.get("implementation") or {}), "startup_s": round(self.startup_s, 3)}
        self.worker = worker


class Runner:
    """Runs cases on one target with `jobs` workers; calls `on_record` for each finished case."""

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

    def run(self, cases, on_record):
        pending = queue.Queue()
        for case in cases:
            pending.put(case)
        self.sessions = [TargetSession(self.spec, self.timeout, self.startup_timeout)
                         for _ in range(min(self.jobs, max(1, len(cases))))]
        threads = [threading.Thread(target=self._serve, args=(session, pending, on_record), daemon=True)
                   for session in self.sessions]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        except KeyboardInterrupt:
            self._stop.set()
            for session in self.sessions:
                if session.worker is not None:
                    session.worker.kill()
            for thread in threads:
                thread.join(10)
            raise

    def _serve(self, session, pending, on_record):
        try:
            while not self._stop.is_set():
                try:
                    case = pending.get_nowait()
                except queue.Empty:
                    return
                record = session.run_case(case)
                if not self._stop.is_set():
                    on_record(record)
        finally:
            session.close()

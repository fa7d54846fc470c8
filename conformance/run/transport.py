"""The worker transport: one process of a target, spoken to in JSON lines (run/protocol.py).

The runner and `conformance smoke` both talk to workers through this module.
Each worker is started by the keeper (run/keeper.py) in a session of its own,
so that whatever the target starts ends with it; what comes back is bounded
(`Limits`): one protocol line, the stderr kept (a tail), the text of a message.
"""

import math
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from conformance.report.text import cut
from conformance.run import protocol
from conformance.targets import TargetSpec, worker_env

STARTUP_TIMEOUT = 120.0  # seconds a worker may take to answer `start` (importing its framework)
MAX_LINE_BYTES = 64 * 1024 * 1024  # one protocol line from a target
STDERR_TAIL_BYTES = 64 * 1024  # the end of a worker's stderr, kept to explain a crash
MESSAGE_CHARS = 2000  # target text (a fatal message, a stderr tail) kept in one verdict
KEEPER = Path(__file__).resolve().with_name("keeper.py")

# Whose fault a verdict the harness records is: the target's (its reply or its process),
# the case file's (a value the harness cannot prepare or send), or the suite's own.
FAULTS = ("target", "case", "suite")


@dataclass(frozen=True)
class Limits:
    """The bounds of one worker's transport; each has an option of `conformance run`."""
    max_line_bytes: int = MAX_LINE_BYTES
    stderr_tail_bytes: int = STDERR_TAIL_BYTES
    memory_limit: int | None = None  # bytes of address space (RLIMIT_AS) per worker; None: no limit


class WorkerFailure(Exception):
    def __init__(self, status, message, fault="target"):
        super().__init__(message)
        self.status = status  # "crash" | "timeout" | "error"
        self.message = message
        self.fault = fault  # one of FAULTS


class _Tail(threading.Thread):
    """Reads a worker's stderr to its end, keeping only the last `limit` bytes."""

    def __init__(self, stream, limit):
        super().__init__(daemon=True)
        self.stream, self.limit = stream, limit
        self.data, self.dropped = bytearray(), 0
        self.lock = threading.Lock()

    def run(self):
        fd = self.stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            with self.lock:
                self.data += chunk
                extra = len(self.data) - self.limit
                if extra > 0:
                    del self.data[:extra]
                    self.dropped += extra
        try:
            self.stream.close()
        except OSError:
            pass

    def text(self):
        with self.lock:
            return bytes(self.data).decode("utf-8", "replace")


class Worker:
    """One process of a target, speaking the JSON-lines protocol."""

    def __init__(self, spec: TargetSpec, startup_timeout=STARTUP_TIMEOUT, limits=Limits()):
        self.spec = spec
        self.startup_timeout = startup_timeout
        self.limits = limits
        self.process = None
        self.info = None
        self._buffer = b""
        self._tail = None
        self._selector = None
        self._reaper = None

    def start(self):
        """Start the process and wait until it has loaded its implementation."""
        self.launch()
        return self.await_started()

    def launch(self, handshake=True):
        """Start the process and send `start` (unless not `handshake`: `smoke` sends its own);
        it loads its implementation while the caller goes on."""
        command = self.spec.command or [sys.executable, "-m", "conformance.run.worker"]
        keeper = [sys.executable, "-I", "-S", str(KEEPER), str(os.getpid()), str(self.limits.memory_limit or 0),
                  "--", *command]
        self._buffer = b""
        self.process = subprocess.Popen(
            keeper, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=worker_env(self.spec), start_new_session=True)
        self._tail = _Tail(self.process.stderr, self.limits.stderr_tail_bytes)
        self._tail.start()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.process.stdout.fileno(), selectors.EVENT_READ)
        if handshake:
            self._send({"type": "start", "protocol": protocol.PROTOCOL_VERSION,
                        "target": self.spec.to_message()})

    def await_started(self):
        reply = self._receive(self.startup_timeout, "starting", limit="--startup-timeout")
        problem = None
        if reply.get("type") != "started":
            problem = (str(reply.get("message") or "the worker gave up") if reply.get("type") == "fatal"
                       else f"unexpected reply {reply!r}")
        elif reply.get("protocol") != protocol.PROTOCOL_VERSION:
            problem = f"the target speaks protocol {reply.get('protocol')!r}, the runner {protocol.PROTOCOL_VERSION}"
        elif not isinstance(reply.get("implementation", {}), dict):
            problem = f"`implementation` in `started` is not an object: {reply.get('implementation')!r}"
        elif not isinstance(reply.get("unsupported", []), list) or not all(
                isinstance(f, str) for f in reply.get("unsupported", [])):
            problem = f"`unsupported` in `started` is not a list of feature names: {reply.get('unsupported')!r}"
        else:
            problem = started_schema_problem(reply)
        if problem is not None:
            self.kill()
            raise WorkerFailure("error", cut(problem, MESSAGE_CHARS))
        self.info = reply
        return reply

    def run(self, case, timeout):
        """Send one case; return the decoded result message or raise WorkerFailure."""
        self.send_case(case)
        return self.result(case, timeout)

    def send_case(self, case):
        """Send a concrete case (its expectations stay here); the worker starts on it at once."""
        self.send_line(encode_case(case))

    def result(self, case, timeout):
        """Wait for the result of the case sent last."""
        return self.decode_result(self.receive_result(case, timeout))

    def receive_result(self, case, timeout, sent=None, seq=None):
        """The result message of the case sent at `sent` (time.monotonic), arrays still encoded;
        `seq`, when given, is the sequence number the result must carry."""
        reply = self._receive(timeout, f"running {case['id']}", sent)
        if reply.get("type") == "fatal":
            self.kill()
            raise WorkerFailure("error", cut(f"the worker gave up: {reply.get('message', '')}", MESSAGE_CHARS))
        if reply.get("type") != "result":
            self.kill()
            raise WorkerFailure("error", f"unexpected reply {cut(str(reply), 200)}")
        if seq is not None and reply.get("seq") != seq:
            self.kill()
            raise WorkerFailure("error", f"the target answered run {cut(repr(reply.get('seq')), 40)} while run {seq} "
                                         f"({case['id']}) was due: results must come in order, each with its seq")
        return reply

    @staticmethod
    def decode_result(reply):
        from conformance.arrays import from_wire

        if "steps" in reply:
            reply["steps"] = from_wire(reply["steps"], observed=True)
        return reply

    def stop(self, wait=True):
        """Ask the worker to exit. With wait=False a thread sees to it (killing a worker that
        takes more than 5 s), and `reaped()` tells when it is done."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                self._send({"type": "stop"})
            except WorkerFailure:
                pass
        self._close()
        self._reaper = threading.Thread(target=self._reap, daemon=True)
        self._reaper.start()
        if wait:
            self.reaped()

    def reaped(self):
        if self._reaper is not None:
            self._reaper.join()

    def _reap(self):
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        self.interrupt()
        self._close()

    def interrupt(self):
        """End the process and all it started, but leave its pipes alone: for use from another
        thread than the one reading them, which then sees their end and gives up in its own time."""
        if not self.process or self.process.poll() is not None:
            return
        try:
            self.process.send_signal(signal.SIGTERM)  # the keeper kills everything below it, then itself
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        except (ProcessLookupError, PermissionError):
            pass
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
            self.process.wait()

    def stderr_tail(self, lines=3):
        """The last lines of the worker's stderr, cut to MESSAGE_CHARS."""
        if self._tail is None:
            return ""
        if self.process is not None and self.process.poll() is not None:
            self._tail.join(1.0)  # what the process wrote before it exited
        text = [line.strip() for line in self._tail.text().strip().splitlines() if line.strip()]
        return cut(" | ".join(text[-lines:]), MESSAGE_CHARS // 2)

    def _close(self):
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        if self.process:
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass

    def _send(self, message):
        self.send_line(protocol.dumps(message).encode("utf-8"))

    def send_line(self, line):
        if not self.try_send(line):
            raise self._died("while sending")

    def try_send(self, line):
        """Write a line; False when the worker is gone (and nothing else is done about it)."""
        try:
            self.process.stdin.write(line)
            self.process.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def receive(self, timeout, doing="waiting for an answer"):
        """The next message, whatever its type (for `smoke`); WorkerFailure as below."""
        return self._receive(timeout, doing)

    def _receive(self, timeout, doing, since=None, limit="--timeout"):
        """The next message (a JSON object); WorkerFailure for no answer in time, a line longer
        than max_line_bytes, a line that is not a JSON object, or the end of the output."""
        deadline = (time.monotonic() if since is None else since) + timeout
        fd = self.process.stdout.fileno()
        chunks = [self._buffer]
        size = len(self._buffer)
        most = self.limits.max_line_bytes
        # Only the newest chunk is searched for the end of the line: a long reply stays linear.
        while b"\n" not in chunks[-1]:
            if size > most:
                self.kill()
                raise WorkerFailure("error", f"the target wrote a line of more than {most} bytes while {doing} "
                                             "(the bound of one protocol line: --max-line-bytes)")
            remaining = deadline - time.monotonic()
            if not self._selector.select(max(remaining, 0.0)):
                if remaining <= 0:
                    self.kill()
                    raise WorkerFailure("timeout", f"no answer within {timeout:g} s while {doing} ({limit})")
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise self._died(f"while {doing}")
            chunks.append(chunk)
            size += len(chunk)
        line, _, self._buffer = b"".join(chunks).partition(b"\n")
        if len(line) > most:
            self.kill()
            raise WorkerFailure("error", f"the target wrote a line of {len(line)} bytes while {doing}, more than "
                                         f"{most} (the bound of one protocol line: --max-line-bytes)")
        try:
            reply = protocol.loads(line)
        except ValueError:
            self.kill()
            raise WorkerFailure("error", f"the target wrote a line that is not JSON: {line[:120]!r}") from None
        if not isinstance(reply, dict):
            self.kill()
            raise WorkerFailure("error", f"the target answered with JSON that is not an object: "
                                         f"{cut(line.decode('utf-8', 'replace'), 120)}")
        return reply

    def _died(self, doing):
        code = self.process.wait()
        tail = self.stderr_tail()
        how = (f"killed by signal {_signal_name(-code)}" if code < 0 else f"exited with status {code}")
        self._close()
        return WorkerFailure("crash", f"the worker {how} {doing}" + (f"; stderr: {tail}" if tail else ""))


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def finite_seconds(value):
    """`value` when it is a finite, non-negative number of seconds, else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


def started_schema_problem(reply):
    """The first field of a `started` message that breaks started.json (run/schemas), or None."""
    from conformance.run.schema import reply_problem

    problem = reply_problem(reply)
    return None if problem is None else f"`started` breaks the protocol (schema started.json) at {problem}"


def encode_case(case, seq=1):
    """The `run` message of a concrete case, as bytes: what the target needs, no expectations."""
    from conformance.arrays import to_wire

    wire = {"id": case["id"], "config": case["config"], "features": case["features"],
            "steps": [{"op": step["op"], "args": to_wire(step["args"])} for step in case["steps"]]}
    return protocol.dumps({"type": "run", "seq": seq, "case": wire}).encode("utf-8")

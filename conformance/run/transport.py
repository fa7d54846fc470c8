"""The worker transport: one process of a target, spoken to in JSON lines (run/protocol.py).

The runner and `conformance smoke` both talk to workers through this module.
"""

import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time

from conformance.run import protocol
from conformance.targets import TargetSpec, worker_env

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
        self._selector = None
        self._reaper = None

    def start(self):
        """Start the process and wait until it has loaded its implementation."""
        self.launch()
        return self.await_started()

    def launch(self):
        """Start the process and send `start`; it loads its implementation while the caller goes on."""
        command = self.spec.command or [sys.executable, "-m", "conformance.run.worker"]
        self._stderr = tempfile.TemporaryFile()
        self._buffer = b""
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env=worker_env(self.spec), start_new_session=True)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.process.stdout.fileno(), selectors.EVENT_READ)
        self._send({"type": "start", "protocol": protocol.PROTOCOL_VERSION, "target": self.spec.to_message()})

    def await_started(self):
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
            raise WorkerFailure("error", reply.get("message", "the worker gave up"))
        if reply.get("type") != "result":
            self.kill()
            raise WorkerFailure("error", f"unexpected reply {str(reply)[:200]}")
        if seq is not None and reply.get("seq") != seq:
            self.kill()
            raise WorkerFailure("error", f"the target answered run {reply.get('seq')!r} while run {seq} "
                                         f"({case['id']}) was due: results must come in order")
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
        """Kill the process but leave its pipes alone: for use from another thread than the one
        reading them, which then sees their end and gives up in its own time."""
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
            self.process.wait()

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

    def _receive(self, timeout, doing, since=None):
        deadline = (time.monotonic() if since is None else since) + timeout
        fd = self.process.stdout.fileno()
        chunks = [self._buffer]
        # Only the newest chunk is searched for the end of the line: a long reply stays linear.
        while b"\n" not in chunks[-1]:
            remaining = deadline - time.monotonic()
            if not self._selector.select(max(remaining, 0.0)):
                if remaining <= 0:
                    self.kill()
                    raise WorkerFailure("timeout", f"no answer within {timeout:g} s while {doing}")
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise self._died(f"while {doing}")
            chunks.append(chunk)
        line, _, self._buffer = b"".join(chunks).partition(b"\n")
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


def encode_case(case, seq=1):
    """The `run` message of a concrete case, as bytes: what the target needs, no expectations."""
    from conformance.arrays import to_wire

    wire = {"id": case["id"], "config": case["config"], "features": case["features"],
            "steps": [{"op": step["op"], "args": to_wire(step["args"])} for step in case["steps"]]}
    return protocol.dumps({"type": "run", "seq": seq, "case": wire}).encode("utf-8")

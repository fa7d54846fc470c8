"""SIGINT, SIGTERM and SIGHUP as one interruption: each raises `Interrupted` (a KeyboardInterrupt,
as Ctrl-C raises) in the main thread, so that every command stops the same way: the reports
written and marked interrupted, the workers ended, one line, exit status 128 + the signal's number.

The command line installs it for the whole command (cli.main), the pipeline again around a run
(run_into_folder), where `defer()` holds a signal back while the reports are being written.
"""

import signal
import threading
from contextlib import contextmanager

# Ctrl-C, and what CI cancellation, a container stop or a closed terminal send.
SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
                if s is not None)


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP: the run stops as on Ctrl-C (exit 128 + the signal's number)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class _Signals:
    """While a run goes on a signal raises Interrupted; once `defer()` is called (the reports
    are being written) it is only noted in `pending`, so that every report is written whole."""

    def __init__(self):
        self.deferring, self.pending = False, None

    def __call__(self, signum, frame):
        if self.deferring:
            self.pending = self.pending or signum
            return
        raise Interrupted(signum)

    def defer(self):
        self.deferring = True


@contextmanager
def signals_as_interrupts():
    """Inside: SIGINT, SIGTERM and SIGHUP raise Interrupted in the main thread (a KeyboardInterrupt,
    as Ctrl-C raises); elsewhere than the main thread nothing changes."""
    handler = _Signals()
    if threading.current_thread() is not threading.main_thread():
        yield handler
        return
    before = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield handler
    finally:
        for s, previous in before.items():
            signal.signal(s, previous)


def interrupt_status(exc):
    """The exit status of a run ended by `exc`: 128 + the signal's number."""
    return 128 + (getattr(exc, "signum", None) or signal.SIGINT)

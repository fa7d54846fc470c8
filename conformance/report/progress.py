"""Progress while a run goes on: a bar on a terminal, plain lines otherwise.

A case that did not pass gets a line of its own only with `verbose`; otherwise
the run ends with the failures grouped by cause (report/grouping.py)."""

import sys
import time


class Progress:
    def __init__(self, total, enabled=True, stream=None, verbose=False):
        self.total = total
        self.verbose = verbose
        self.done = 0
        self.bad = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.bar = None
        self._next_line = 0.0

    def __enter__(self):
        if self.enabled and self.stream.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

            self.bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("cases", total=self.total)
        return self

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()
        return False

    def update(self, record):
        self.done += 1
        status = record["status"]
        if status not in ("pass", "unsupported", "xfail"):
            self.bad += 1
        if not self.enabled:
            return
        if self.bar:
            if self.verbose and status not in ("pass", "unsupported", "xfail"):
                self.bar.console.print(_line(status, record), markup=False, highlight=False)  # text, not markup
            self.bar.update(self.task, advance=1, description=f"cases ({self.bad} not passing)")
            return
        if self.verbose and status not in ("pass", "unsupported", "xfail"):
            print(_line(status, record), file=self.stream)
        now = time.monotonic()
        if now >= self._next_line or self.done == self.total:
            print(f"[{self.done}/{self.total}] {self.bad} not passing", file=self.stream, flush=True)
            self._next_line = now + 5.0


def _line(status, record):
    """A case that did not pass, on one line; a target's control characters shown as escapes."""
    from conformance.report.text import one_line

    return f"{status.upper():<8} {one_line(record['id'], 300)}: {one_line(record.get('message', ''), 160)}"

"""Progress while a run goes on: a bar on a terminal, plain lines otherwise."""

import sys
import time


class Progress:
    def __init__(self, total, enabled=True, stream=None):
        self.total = total
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
            if status not in ("pass", "unsupported", "xfail"):
                self.bar.console.print(f"{status.upper():<8} {record['id']}: {record.get('message', '')[:160]}")
            self.bar.update(self.task, advance=1, description=f"cases ({self.bad} not passing)")
            return
        if status not in ("pass", "unsupported", "xfail"):
            print(f"{status.upper():<8} {record['id']}: {record.get('message', '')[:160]}", file=self.stream)
        now = time.monotonic()
        if now >= self._next_line or self.done == self.total:
            print(f"[{self.done}/{self.total}] {self.bad} not passing", file=self.stream, flush=True)
            self._next_line = now + 5.0

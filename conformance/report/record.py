"""report.json: the one record of a run, from which every other report is derived.

While a run goes on, each finished case is appended to `report.jsonl` in the
report folder (one JSON object a line, flushed at once), so that nothing is
lost even if the runner itself is killed. At the end, or on Ctrl-C,
`report.json` is written whole (to a temporary file, then renamed).
"""

import datetime as _dt
import json
import os
import platform
import sys
import threading
from collections import Counter
from pathlib import Path

from dataclasses import dataclass, field

import conformance

SCHEMA_VERSION = 1
STATUSES = ("pass", "fail", "error", "crash", "timeout", "unsupported", "xfail", "xpass")
# xfail / xpass: a failing / passing case listed in an expectations file (conformance/expectations.py).
FAILING = ("fail", "error", "crash", "timeout")


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



def environment():
    import numpy

    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "numpy": numpy.__version__, "executable": sys.executable}


def now():
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class Recorder:
    """Collects records; journals each one as it arrives; writes report.json at the end."""

    def __init__(self, report_dir, target, options, on_record=None):
        self.dir = Path(report_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.target = target
        self.options = options
        self.records = []
        self.started = now()
        self._lock = threading.Lock()
        self._journal = open(self.dir / "report.jsonl", "w", encoding="utf-8")
        self._on_record = on_record

    def add(self, record):
        data = record.to_dict() if hasattr(record, "to_dict") else dict(record)
        with self._lock:
            self.records.append(data)
            self._journal.write(json.dumps(data, allow_nan=True) + "\n")
            self._journal.flush()
        if self._on_record:
            self._on_record(data)

    def finish(self, implementation=None, interrupted=False, deselected=None, duration_s=None):
        self._journal.close()
        report = {
            "schema_version": SCHEMA_VERSION,
            "suite": {"name": conformance.SUITE_NAME, "version": conformance.__version__},
            "target": {**self.target, "implementation": implementation},
            "environment": environment(),
            "started": self.started,
            "finished": now(),
            "duration_s": duration_s,
            "interrupted": interrupted,
            "options": self.options,
            "summary": summarize(self.records),
            "deselected": deselected or {},
            "cases": sorted(self.records, key=lambda r: r["id"]),
        }
        write_json(self.dir / "report.json", report)
        return report


def summarize(records):
    counts = Counter(r["status"] for r in records)
    summary = {"total": len(records)}
    summary.update({s: counts.get(s, 0) for s in STATUSES})
    return summary


def write_json(path, data):
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False, allow_nan=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load(path):
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    return json.loads(path.read_text(encoding="utf-8"))


def exit_status(report, strict=False):
    """1 when a case failed (xfail does not count), or with strict when a listed case passed (xpass)."""
    if any(report["summary"].get(s, 0) for s in FAILING):
        return 1
    return 1 if strict and report["summary"].get("xpass", 0) else 0

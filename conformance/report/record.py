"""report.json: the one record of a run, from which every other report is derived.

While a run goes on, each finished case is appended to `report.jsonl` in the
report folder (one JSON object a line, written whole and at once), so that
nothing is lost even if the runner itself is killed; a reader drops a final
partial line and says so. At the end, or on Ctrl-C, `report.json` is
written whole, and from it `junit.xml` and `summary.md` (each to a temporary
file, then renamed over the old one: `atomic_write`).

The folder is held by one run at a time (`.conformance.lock`, an advisory
lock the system releases when the process ends, however it ends). A folder
that cannot be written (a file in its place, no permission, a full disk) is
a `ReportDirError`: one line, exit status 2, and everything that could be
written is kept. A folder deleted during the run is created again at the
next record, with the journal so far.

Every text a record keeps is bounded (report/text.py: CONFORMANCE_MAX_REPORT_TEXT).
The report says how many cases were selected and how many recorded
(`completeness`); a report that lacks some, or was interrupted, is never a pass.
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
from conformance.catalog.paths import catalog_info
from conformance.report.text import bounded, max_text

try:
    import fcntl
except ImportError:  # not on Windows: there the folder is not locked
    fcntl = None

SCHEMA_VERSION = 1
STATUSES = ("pass", "fail", "error", "crash", "timeout", "unsupported", "xfail", "xpass")
# xfail / xpass: a failing / passing case listed in an expectations file (conformance/expectations.py).
FAILING = ("fail", "error", "crash", "timeout")
LOCK_NAME = ".conformance.lock"
JOURNAL_NAME = "report.jsonl"
_KEPT_WHOLE = ("id", "status", "duration_s", "target_s", "step")  # never cut


class ReportDirError(Exception):
    """The report folder cannot be used or written: one line for the user, exit status 2."""


class ReportError(ValueError):
    """A file that is not a report (missing, not JSON, not UTF-8, or of another structure)."""


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


def load_average():
    """The machine's 1-minute load average, or None where the system has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def environment():
    import numpy

    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "numpy": numpy.__version__,
            **cpu()}


# CPU features that change numerics (fused multiply-add, wider vectors, bf16/fp16 units) and the
# settings that choose how many threads a framework uses (and so the order of its sums).
NUMERICS_FLAGS = ("fma", "f16c", "avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile",
                  "amx_int8", "asimd", "sve")
THREAD_SETTINGS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                   "TF_NUM_INTEROP_THREADS", "TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS")


def cpu():
    """{"cpu_model", "cpu_flags", "threads"}: what a report needs to explain a numeric difference."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in (platform.processor(), platform.machine()):
                model = value.strip()
            elif key.strip() in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:  # not Linux: the model from platform, no flags
        pass
    return {"cpu_model": model, "cpu_flags": [f for f in NUMERICS_FLAGS if f in flags],
            "threads": {k: os.environ[k] for k in THREAD_SETTINGS if k in os.environ}}


def now():
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _why(exc):
    """An OSError as a few words: 'No space left on device', 'Permission denied'."""
    return exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)


class Recorder:
    """Collects records; journals each one as it arrives; writes report.json at the end.

    `selected`: how many cases the run selected (or their ids), given here or to `finish`;
    the report compares it with what was recorded."""

    def __init__(self, report_dir, target, options, on_record=None, selected=None, derived=()):
        self.dir = Path(report_dir)
        self.derived = tuple(derived)  # (file name, write(report, path)) kept even when report.json fails
        self.target = target
        self.options = options
        self.records = []
        self.selected = selected
        self.started = now()
        self._load_at_start = load_average()
        self.write_error = None  # the first error writing the journal: the run goes on without it
        self._lock = threading.Lock()
        self._on_record = on_record
        self._lock_fd = None
        self._journal = None
        self._good = 0  # bytes of the journal that are whole lines
        self._open_folder()

    # ------------------------------------------------------------------ the folder

    def _open_folder(self, lock=True):
        where = str(self.dir)
        if self.dir.exists() and not self.dir.is_dir():
            raise ReportDirError(f"report folder {where} exists and is not a folder")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReportDirError(f"cannot create the report folder {where}: {_why(exc)}") from None
        if lock:
            self._take_lock()
        try:
            self._journal = os.open(self.dir / JOURNAL_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            self._good = 0
        except OSError as exc:
            self._release_lock()
            raise ReportDirError(f"cannot write in the report folder {where}: {_why(exc)}") from None

    def _take_lock(self):
        if fcntl is None:
            return
        path = self.dir / LOCK_NAME
        for _ in range(10):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise ReportDirError(f"cannot write in the report folder {self.dir}: {_why(exc)}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 100).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise ReportDirError(f"report folder {self.dir} is in use by another run (pid {holder}); "
                                     "wait for it to end or choose another --report-dir") from None
            try:  # the file may have been removed by the run that held it: then lock the new one
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self._lock_fd = fd
                return
            os.close(fd)
        raise ReportDirError(f"cannot lock the report folder {self.dir}")

    def _release_lock(self):
        if self._lock_fd is None:
            return
        try:
            os.unlink(self.dir / LOCK_NAME)
        except OSError:
            pass
        os.close(self._lock_fd)
        self._lock_fd = None

    def _journal_gone(self):
        """True when the journal's file was deleted (with its folder, perhaps) during the run."""
        try:
            return os.fstat(self._journal).st_nlink == 0
        except OSError:
            return True

    def _reopen(self):
        """The journal (or the whole folder) vanished: create it again and write the journal so far."""
        os.close(self._journal)
        self._journal = None
        keep_lock = False
        if self._lock_fd is not None:
            try:
                keep_lock = os.stat(self.dir / LOCK_NAME).st_ino == os.fstat(self._lock_fd).st_ino
            except OSError:
                keep_lock = False
            if not keep_lock:
                os.close(self._lock_fd)
                self._lock_fd = None
        self._open_folder(lock=not keep_lock)
        for data in self.records:
            self._append(data)
        print(f"conformance: warning: {self.dir / JOURNAL_NAME} vanished during the run; "
              f"written again ({len(self.records)} records)", file=sys.stderr)

    def _append(self, data, text=None):
        """One whole line into the journal (`text`: the record's JSON, when already made); on an
        error the journal is cut back to its whole lines and no longer written (the records stay
        in memory, for report.json)."""
        line = ((text or json.dumps(data, allow_nan=True, default=str)) + "\n").encode("utf-8")
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self._journal, view):]
            self._good += len(line)
        except OSError as exc:
            self.write_error = f"{self.dir / JOURNAL_NAME}: {_why(exc)}"
            try:
                os.ftruncate(self._journal, self._good)
            except OSError:
                pass

    # ------------------------------------------------------------------ records

    def add(self, record):
        data = record.to_dict() if hasattr(record, "to_dict") else dict(record)
        try:
            text = json.dumps(data, allow_nan=True, default=str)
        except (TypeError, ValueError, RecursionError):
            text = None
        if text is None or len(text) > max_text():  # within the bound as a whole, so is every field
            data, text = {k: (v if k in _KEPT_WHOLE else bounded(v)) for k, v in data.items()}, None
        with self._lock:
            self.records.append(data)
            if self._journal is not None and self.write_error is None:
                if self._journal_gone():
                    try:
                        self._reopen()
                    except ReportDirError as exc:
                        self.write_error = str(exc)
                else:
                    self._append(data, text)
        if self._on_record:
            self._on_record(data)

    def completeness(self, selected=None):
        """{"selected", "recorded", "complete"} (and the ids missing or recorded twice, when the ids
        selected are known)."""
        selected = self.selected if selected is None else selected
        recorded = len(self.records)
        out = {"selected": None, "recorded": recorded, "complete": True}
        if isinstance(selected, int):
            out.update(selected=selected, complete=selected == recorded)
        elif selected is not None:
            ids = list(selected)
            counts = Counter(r["id"] for r in self.records)
            missing = [i for i in ids if i not in counts]
            twice = sorted(i for i, n in counts.items() if n > 1)
            out.update(selected=len(ids), complete=not missing and not twice and recorded == len(ids))
            if missing:
                out["missing"] = missing[:100]
            if twice:
                out["recorded_twice"] = twice[:100]
        return out

    def finish(self, implementation=None, interrupted=False, deselected=None, duration_s=None, selected=None):
        """Write report.json and return the report (the caller writes junit.xml and summary.md from it).
        Raises ReportDirError, after writing what it could, when the folder or the journal could
        not be written."""
        with self._lock:
            if self._journal is not None and self.write_error is None and self._journal_gone():
                try:
                    self._reopen()
                except ReportDirError as exc:
                    self.write_error = str(exc)
            if self._journal is not None:
                os.close(self._journal)
                self._journal = None
        report = {
            "schema_version": SCHEMA_VERSION,
            "suite": {"name": conformance.SUITE_NAME, "version": conformance.__version__},
            "catalog": catalog_info(),  # the suite's catalog: release + digest of its case files
            "target": {**self.target, "implementation": implementation},
            "environment": environment(),
            "started": self.started,
            "finished": now(),
            "duration_s": duration_s,
            # How busy the machine was: a duration measured at load 10 is not one measured on idle cores.
            "load_average": {"start": self._load_at_start, "end": load_average()},
            "interrupted": interrupted,
            "options": self.options,
            "summary": summarize(self.records),
            "completeness": self.completeness(selected),
            "deselected": deselected or {},
            "cases": sorted(self.records, key=lambda r: r["id"]),
        }
        errors = [self.write_error] if self.write_error else []
        try:
            write_json(self.dir / "report.json", report)
        except OSError as exc:
            errors.append(f"{self.dir / 'report.json'}: {_why(exc)}")
        self._release_lock()
        if errors:
            self._fail(report, errors)
        return report

    def _fail(self, report, errors):
        """Raise the one line for a folder that could not be written, after keeping what can be:
        with report.json written, junit.xml and summary.md too (the caller will not get to them)."""
        def failed(name):
            return any(e.startswith(f"{self.dir / name}:") for e in errors)

        if not failed("report.json"):
            for name, write in self.derived:
                try:
                    write(report, self.dir / name)
                except Exception:  # noqa: BLE001 - the first error is the one reported
                    pass
        kept = [name for name in ("report.json", JOURNAL_NAME, "junit.xml", "summary.md")
                if (self.dir / name).is_file() and not failed(name)]
        raise ReportDirError(f"cannot write the report: {errors[0]}"
                             + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
                             + f"; {len(self.records)} cases recorded"
                             + (f", kept in {', '.join(kept)}" if kept else ", none kept on disk"))

    def close(self):
        """Give the folder up without writing report.json (a run that never started)."""
        with self._lock:
            if self._journal is not None:
                os.close(self._journal)
                self._journal = None
        self._release_lock()


def summarize(records):
    counts = Counter(r["status"] for r in records)
    summary = {"total": len(records)}
    summary.update({s: counts.get(s, 0) for s in STATUSES})
    return summary


# ---------------------------------------------------------------------- writing files whole

def atomic_write(path, data):
    """Write bytes or text (UTF-8) to `path` through a temporary file renamed over it: a reader
    sees the old file or the new one, never half of one. The temporary file goes on an error."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json(path, data):
    atomic_write(path, json.dumps(data, indent=1, sort_keys=False, allow_nan=True, default=str) + "\n")


# ---------------------------------------------------------------------- reading reports

def read_journal(path):
    """(records, note) from a report.jsonl: a final line without its newline (a run killed while
    writing it) is dropped and `note` says so; any other line that is not a record is a ReportError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {_why(exc)}") from None
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    note = f"{path}: the last line was cut off (the run was stopped while writing it); dropped" if tail else None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ReportError(f"{path}:{number}: not a JSON record") from None
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) \
                or not isinstance(record.get("status"), str):
            raise ReportError(f"{path}:{number}: not a case record (an object with `id` and `status`)")
        records.append(record)
    return records, note


def check_report(report, where):
    """Raise ReportError unless `report` has the structure of a report.json (or a merged one)."""
    if not isinstance(report, dict):
        raise ReportError(f"{where}: not a report (a JSON object was expected, found {type(report).__name__})")
    cases = report.get("cases")
    if not isinstance(cases, list):
        raise ReportError(f"{where}: not a report (no `cases` list)")
    for index, case in enumerate(cases):
        if not isinstance(case, dict) or not isinstance(case.get("id"), str) \
                or not isinstance(case.get("status"), str):
            raise ReportError(f"{where}: case {index} is not a record with a string `id` and `status`")
        if report.get("merged") and not isinstance(case.get("target"), str):
            raise ReportError(f"{where}: case {index} of a merged report names no `target`")
    if not report.get("merged"):
        target = report.get("target")
        if not isinstance(target, dict) or not isinstance(target.get("name"), str):
            raise ReportError(f"{where}: not a report (no `target` with a `name`)")
    for key in ("summary", "suite", "options", "completeness", "environment"):
        if report.get(key) is not None and not isinstance(report[key], dict):
            raise ReportError(f"{where}: not a report (`{key}` is not an object)")
    if report.get("merged") and not all(isinstance(t, dict) for t in report.get("targets") or []):
        raise ReportError(f"{where}: not a report (`targets` of a merged report must be objects)")
    return report


def from_journal(path, note=None):
    """A report built from the report.jsonl of a run that never wrote report.json: interrupted."""
    records, dropped = read_journal(path)
    return {"schema_version": SCHEMA_VERSION, "target": {"name": "(unknown: from report.jsonl)"},
            "interrupted": True, "from_journal": str(path), "journal_note": dropped or note,
            "summary": summarize(records), "completeness": {"selected": None, "recorded": len(records),
                                                            "complete": False},
            "cases": sorted(records, key=lambda r: r["id"])}


def load(path):
    """report.json's data from a file or a report folder; a folder with only report.jsonl (a run
    that was killed) gives a report marked interrupted. Raises ReportError for anything else."""
    path = Path(path)
    if path.is_dir():
        if not (path / "report.json").is_file() and (path / JOURNAL_NAME).is_file():
            return from_journal(path / JOURNAL_NAME)
        path = path / "report.json"
    if path.name == JOURNAL_NAME and path.is_file():
        return from_journal(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {_why(exc)}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not a report (not UTF-8 text)") from None
    try:
        report = json.loads(text)
    except ValueError as exc:
        raise ReportError(f"{path}: not a report (not JSON: {exc})") from None
    return check_report(report, path)


def exit_status(report, strict=False):
    """1 when a case failed (xfail does not count), when the run was interrupted or did not record
    every selected case, or with strict when a listed case passed (xpass)."""
    summary = report.get("summary") or {}
    if any(summary.get(s, 0) for s in FAILING):
        return 1
    if report.get("interrupted") or (report.get("completeness") or {}).get("complete") is False:
        return 1
    return 1 if strict and summary.get("xpass", 0) else 0

"""Expectations files: the known failures of one target, so that CI fails only on new ones.

One YAML file per target, by convention `expectations/<target-name-sanitized>.yaml`
(`expectations_path("expectations", "keras:jax")` -> expectations/keras-jax.yaml):

    target: keras:jax                 # informational
    expectations:
      - id: "mask/patterns[mask=leading,...]"   # an exact case id, or
        pattern: "mask/patterns_initial_state*" # a pattern: `*` matches anything, nothing else is special
        status: [fail]                # optional: the failing statuses expected (default: any of them)
        category: upstream-bug        # see CATEGORIES (free text is accepted)
        reason: "JAX emits h0 at masked steps before the first unmasked one"
        link: https://github.com/keras-team/keras/issues/NNNN

With `conformance run --expectations FILE`:
- a failing case (fail, error, crash, timeout) that an entry matches becomes `xfail`;
- a matched case that passes becomes `xpass` (reported; an exit status of 1 with --strict);
- the original status is kept in the record as `original_status`, the entry as `expectation`;
- an entry that matches no case is warned about, one line on stderr.

`--update-expectations FILE` writes the file from the run: entries of cases that still
fail keep their category, reason and link; new failures are added as `untriaged`;
entries of cases that now pass are dropped; entries of cases not run are kept.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from conformance.report.record import FAILING

CATEGORIES = ("numerics", "missing-feature", "upstream-bug", "implementation-defined", "harness",
              "wontfix", "untriaged")
FORMAT_NOTE = "# Known failures of a target for `conformance run --expectations` (see docs/ci.md).\n"


class ExpectationsError(ValueError):
    pass


def sanitize_target(name):
    """A target name as a file name: keras:jax -> keras-jax, ./impl.py:make -> impl.py-make."""
    text = re.sub(r"[^A-Za-z0-9_.-]+", "-", name.strip())
    return text.strip("-.") or "target"


def expectations_path(folder, target):
    return Path(folder) / f"{sanitize_target(target)}.yaml"


@dataclass
class Entry:
    category: str
    reason: str
    link: str = ""
    id: str | None = None
    pattern: str | None = None
    status: list = field(default_factory=list)
    line: int = 0
    _regex: object = None

    def __post_init__(self):
        if self.pattern is not None:
            self._regex = re.compile("^" + ".*".join(re.escape(p) for p in self.pattern.split("*")) + "$")

    @property
    def key(self):
        return self.id if self.id is not None else f"pattern:{self.pattern}"

    def matches(self, case_id):
        return case_id == self.id if self.id is not None else bool(self._regex.match(case_id))

    def to_dict(self):
        out = {"id": self.id} if self.id is not None else {"pattern": self.pattern}
        if self.status:
            out["status"] = list(self.status)
        out.update({"category": self.category, "reason": self.reason, "link": self.link or ""})
        return out

    def brief(self):
        return {k: v for k, v in {"category": self.category, "reason": self.reason, "link": self.link,
                                  "entry": self.key}.items() if v}


class Expectations:
    def __init__(self, entries=(), target=None, path=None):
        self.entries = list(entries)
        self.target = target
        self.path = path
        self.used = set()

    @classmethod
    def load(cls, path):
        path = Path(path)
        data = _read(path) if path.exists() else None
        if data is None:
            return cls([], path=path)
        if isinstance(data, list):
            data = {"expectations": data}
        if not isinstance(data, dict) or not isinstance(data.get("expectations", []), list):
            raise ExpectationsError(f"{path}: expected a mapping with an `expectations:` list")
        unknown = set(data) - {"target", "expectations"}
        if unknown:
            raise ExpectationsError(f"{path}: unknown key(s) {sorted(unknown)}")
        entries = []
        for number, raw in enumerate(data.get("expectations") or [], 1):
            where = f"{path}: entry {number}"
            if not isinstance(raw, dict):
                raise ExpectationsError(f"{where}: an entry must be a mapping")
            unknown = set(raw) - {"id", "pattern", "status", "category", "reason", "link"}
            if unknown:
                raise ExpectationsError(f"{where}: unknown key(s) {sorted(unknown)}")
            if ("id" in raw) == ("pattern" in raw):
                raise ExpectationsError(f"{where}: give exactly one of `id` and `pattern`")
            for key in ("category", "reason"):
                if not isinstance(raw.get(key), str) or not raw[key].strip():
                    raise ExpectationsError(f"{where}: `{key}` is required (a non-empty string)")
            for key in ("id", "pattern", "link"):
                if raw.get(key) is not None and not isinstance(raw[key], str):
                    raise ExpectationsError(f"{where}: `{key}` must be a string")
            status = raw.get("status") or []
            if not isinstance(status, (str, list)):
                raise ExpectationsError(f"{where}: status {status!r} is not one of {', '.join(FAILING)} "
                                        "(or a list of them)")
            status = [status] if isinstance(status, str) else list(status)
            bad = [s for s in status if not isinstance(s, str) or s not in FAILING]
            if bad:
                raise ExpectationsError(f"{where}: status {bad} is not one of {', '.join(FAILING)}")
            entries.append(Entry(category=raw["category"], reason=raw["reason"], link=str(raw.get("link") or ""),
                                 id=None if raw.get("id") is None else str(raw["id"]),
                                 pattern=None if raw.get("pattern") is None else str(raw["pattern"]),
                                 status=status, line=number))
        return cls(entries, target=data.get("target"), path=path)

    def find(self, case_id):
        """The entry for a case: an exact id wins over a pattern, the first pattern over later ones."""
        exact = next((e for e in self.entries if e.id is not None and e.id == case_id), None)
        return exact or next((e for e in self.entries if e.pattern is not None and e.matches(case_id)), None)

    def apply(self, record):
        """A report record (dict) with expectations applied: xfail, xpass or unchanged."""
        entry = self.find(record["id"])
        if entry is None:
            return record
        self.used.add(entry.key)
        status = record["status"]
        if status in FAILING:
            if entry.status and status not in entry.status:
                record = dict(record)
                record["expectation_mismatch"] = (f"expected {' or '.join(entry.status)} ({entry.reason}), "
                                                  f"got {status}")
                return record
            return {**record, "status": "xfail", "original_status": status, "expectation": entry.brief()}
        if status == "pass":
            return {**record, "status": "xpass", "original_status": status, "expectation": entry.brief()}
        return record  # unsupported: neither expected to fail nor passing

    def unmatched(self, case_ids):
        """Entries that match none of these case ids."""
        ids = list(case_ids)
        return [e for e in self.entries if not any(e.matches(i) for i in ids)]

    def updated(self, records, all_case_ids, target=None):
        """A new Expectations from a run's records (records with expectations applied or not)."""
        ran = {r["id"]: r for r in records}
        keep = []
        for entry in self.entries:
            matched = [i for i in all_case_ids if entry.matches(i)]
            if not matched:
                continue  # stale: the case is gone
            if entry.id is not None:
                record = ran.get(entry.id)
                if record is None or _failing(record):
                    keep.append(entry)
            elif any(_failing(ran[i]) for i in matched if i in ran) or not any(i in ran for i in matched):
                keep.append(entry)
        covered = Expectations(keep)
        for record in sorted(records, key=lambda r: r["id"]):
            if _failing(record) and covered.find(record["id"]) is None:
                message = " ".join(str(record.get("message", "")).split()).split("; ")[0]
                keep.append(Entry(category="untriaged", reason=(message[:200] or record["status"]),
                                  id=record["id"], status=[_original(record)]))
        exact = sorted((e for e in keep if e.id is not None), key=lambda e: e.id)
        patterns = [e for e in keep if e.pattern is not None]
        return Expectations(patterns + exact, target=target or self.target, path=self.path)

    def dump(self):
        data = {"target": self.target, "expectations": [e.to_dict() for e in self.entries]}
        if not self.target:
            data.pop("target")
        return FORMAT_NOTE + yaml.safe_dump(data, sort_keys=False, width=1000, allow_unicode=False,
                                            default_flow_style=False)

    def write(self, path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.dump(), encoding="utf-8")


def _read(path):
    """An expectations file's data, read as case files are (plain data only, bounded, UTF-8)."""
    from conformance.catalog import yamlfile
    from conformance.catalog.cases import read_text

    try:
        where = f"{path}:"
        text = read_text(path)
        where = f"{path}: not valid YAML:"
        return yamlfile.load(text)
    except yamlfile.YamlError as exc:
        line = f" line {exc.line}:" if exc.line else ""
        raise ExpectationsError(f"{where}{line} {exc.message}") from None
    except OSError as exc:
        raise ExpectationsError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _original(record):
    return record.get("original_status", record["status"])


def _failing(record):
    return _original(record) in FAILING


def resolve_path(path, target):
    """FILE as given, or FOLDER/<target-name-sanitized>.yaml when FILE is a folder."""
    folder = str(path).endswith(("/", "\\")) or Path(path).is_dir()
    return expectations_path(path, target) if folder else Path(path)


class RunExpectations:
    """What `conformance run` does with --expectations / --update-expectations / --strict."""

    def __init__(self, path, target, update=False, strict=False, stream=None):
        import sys

        self.path = resolve_path(path, target)
        self.target = target
        self.update = update
        self.strict = strict
        self.stream = stream or sys.stderr
        if not update and not self.path.exists():
            if self.path != Path(path):  # a folder without a file for this target: no known failures
                print(f"conformance: no expectations file {self.path}: no known failures", file=self.stream)
            else:
                raise ExpectationsError(f"expectations file {self.path} does not exist")
        self.book = Expectations.load(self.path)

    @classmethod
    def from_args(cls, args, target):
        """None when the run has no expectations options."""
        update = getattr(args, "update_expectations", None)
        path = update or getattr(args, "expectations", None)
        if path is None:
            return None
        return cls(path, target, update=bool(update), strict=getattr(args, "strict", False))

    def options(self):
        return {"expectations": self.path.as_posix(), "update_expectations": self.update, "strict": self.strict}

    def warn_unmatched(self, cases):
        """One line on stderr for each entry that matches none of the loaded cases."""
        unmatched = self.book.unmatched(c.id for c in cases)
        for entry in unmatched:
            print(f"conformance: warning: {self.path}: entry {entry.line} ({entry.key}) matches no case",
                  file=self.stream)
        return unmatched

    def wrap(self, add):
        def add_with_expectations(record):
            data = record.to_dict() if hasattr(record, "to_dict") else dict(record)
            return add(self.book.apply(data))
        return add_with_expectations

    def before_finish(self, recorder, cases):
        """With --update-expectations: write the file, and judge the records by it."""
        if not self.update:
            return
        new = self.book.updated(recorder.records, [c.id for c in cases], target=self.target)
        new.write(self.path)
        recorder.records[:] = [new.apply(_strip(r)) for r in recorder.records]
        print(f"conformance: wrote {self.path} ({len(new.entries)} entries, "
              f"{len(self.book.entries)} before)", file=self.stream)
        self.book = new


def _strip(record):
    """A record as it was before expectations were applied."""
    record = {k: v for k, v in record.items() if k not in ("expectation", "expectation_mismatch")}
    if "original_status" in record:
        record["status"] = record.pop("original_status")
    return record

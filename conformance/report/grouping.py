"""Failures grouped by root cause: one line per cause instead of one per case.

A port with one bug fails dozens of cases for the same reason. This module
clusters the failing records of one target by what failed (the step op and
the kind of failure: values differ, the wrong exception, no exception, ...)
and then attributes each cluster to the case facts its members share and the
passing cases lack: the matrix parameters of the case id (`go_backwards=true`),
the features the case exercises (`mask`, `return_sequences`, when the case
catalog is at hand) and its tags. The attribution is a greedy conjunction:
the shared fact that leaves the fewest passing cases with all chosen facts,
until no passing case has them all. So a cluster reads, for instance,

    58 cases fail at call (values differ), all with go_backwards=true and
    return_sequences=true; every case with go_backwards=false passes

with one representative case, the command that reruns it and its file:line.

Everything here works on report.json records (plain dicts); the cases, when
given as {id: Case}, only add features and file:line.
"""

import functools
import re
import shlex
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from conformance.catalog.paths import CASES_DIR

from conformance.report.record import FAILING
from conformance.report.text import md_code, md_text, one_line

PASSING = ("pass", "xpass")
FLAGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll")
MAX_FACTS = 3
MAX_PASSING_TOO = 4  # an attribution that passing cases share more often than this many times the failing ones is none
_REPO = CASES_DIR.parent  # the checkout, or the installed package's data folder: paths read cases/...


@dataclass
class Group:
    """One cause: the failing cases that share a step op, a failure kind and some facts."""
    status: str
    op: str | None
    kind: str
    cases: list
    shared: list = field(default_factory=list)      # the attribution, e.g. ["go_backwards=true"]
    passing_too: int = 0                             # passing cases that have every shared fact
    others_pass: list = field(default_factory=list)  # e.g. ["go_backwards=false"]: every such case passes
    representative: dict = field(default_factory=dict)
    source: str | None = None
    target: str | None = None

    @property
    def rerun(self):
        target = f" --target {shlex.quote(self.target)}" if self.target else ""
        return f"conformance run{target} -k {shlex.quote(self.representative['id'])}"

    @property
    def headline(self):
        n = len(self.cases)
        verbs = {"fail": ("fails", "fail"), "error": ("errors", "error"), "crash": ("crashes", "crash"),
                 "timeout": ("times out", "time out")}
        verb = verbs.get(self.status, (self.status, self.status))[n != 1]
        text = f"{n} case{'s' if n != 1 else ''} {verb}" + (f" at {self.op}" if self.op else "") + f" ({self.kind})"
        if self.shared:
            text += (", all with " if n != 1 else ", with ") + _and(self.shared)
            if self.passing_too:
                text += f" ({self.passing_too} passing case{'s' if self.passing_too != 1 else ''} "\
                        f"{'have' if self.passing_too != 1 else 'has'} them too)"
        if len(self.others_pass) > 3:
            names = sorted({v.split("=", 1)[0] for v in self.others_pass})
            text += "; every case with another " + " or ".join(names) + " passes"
        elif self.others_pass:
            text += "; every case with " + " or ".join(self.others_pass) + " passes"
        return text

    def to_dict(self):
        return {"status": self.status, "op": self.op, "kind": self.kind, "count": len(self.cases),
                "shared": self.shared, "passing_too": self.passing_too, "others_pass": self.others_pass,
                "headline": self.headline, "representative": self.representative["id"],
                "message": self.representative.get("message", ""), "rerun": self.rerun,
                "source": self.source, "cases": self.cases}


def _and(items):
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ---------------------------------------------------------------------- facts

def params_of(case_id):
    """The matrix parameters in a case id's `[...]` part, as "name=value" strings."""
    if not case_id.endswith("]") or "[" not in case_id:
        return []
    inside = case_id[case_id.index("[") + 1:-1]
    return [m.group(0).rstrip(",") for m in re.finditer(r"[A-Za-z_]\w*=.*?(?=,[A-Za-z_]\w*=|$)", inside)]


def facts(record, case=None):
    """What a case is, as strings: matrix parameters first, then features, tags and the area."""
    found = params_of(record["id"])
    if case is not None:
        features = case.concrete().get("features", [])
        # A boolean argument reads as the matrix parameter does: go_backwards=true, or =false.
        found += [f"{flag}={'true' if flag in features else 'false'}" for flag in FLAGS]
        found += [f for f in features if f not in FLAGS and not f.startswith(("op:", "input_dtype:"))]
    named = {f.split("=", 1)[0] for f in found}
    found += [f"tag:{t}" for t in record.get("tags", []) if t not in named]  # a tag that repeats a fact adds nothing
    found.append("area:" + record["id"].split("/", 1)[0])
    return list(dict.fromkeys(found))


def source_of(case):
    """A case's file:line, relative to the suite (or the working folder) where it can be."""
    if case is None or not case.source:
        return None
    path, _, line = case.source.rpartition(":")
    for base in (_REPO, Path.cwd()):
        try:
            return f"{Path(path).resolve().relative_to(base.resolve())}:{line}"
        except ValueError:
            continue
    return case.source


def kind_of(record):
    """The kind of a failure, from its message, without the numbers: values differ, raised X, ..."""
    message = re.sub(r"^\[[^\]]*\]\s*", "", str(record.get("message", "")))  # a variant's prefix
    if record["status"] in ("crash", "timeout"):
        return record["status"]
    patterns = (
        (r"^\d+ of \d+ values differ|^NaN at|differs from the reference", "values differ"),
        (r"^expected (.+?) to be raised, but", "no exception raised"),
        (r"^expected \d+ items, got", "item count differs"),
        (r"^expected [-+\d.e]+, got [-+\d.e]+", "number differs"),
        (r"^expected ([A-Z][\w.]*(?: or [A-Z][\w.]*)*), got ([A-Z][\w.]*)",
         lambda m: f"raised {m.group(2)} instead of {m.group(1)}"),
        (r"^\w+ raised (\w+)", lambda m: f"raised {m.group(1)}"),
        (r"^expected .*? at ([\w.\[\]]+), got", lambda m: f"config differs at {m.group(1)}"),
        (r"^shape ", "shape differs"),
        (r"dtype", "dtype differs"),
    )
    for pattern, name in patterns:
        match = re.search(pattern, message)
        if match:
            return name(match) if callable(name) else name
    words = re.sub(r"[-+]?\d[\w.+-]*", "N", message).split()[:4]
    return " ".join(words) or record["status"]


# ---------------------------------------------------------------------- grouping

def group_failures(records, cases=None, target=None, chosen=None):
    """The groups of the failing records (or of the records whose id is in `chosen`),
    largest first. `records` are every record of one target: the passing ones are
    what an attribution is measured against. `cases`: {id: Case}, optional."""
    cases = cases or {}
    info = {r["id"]: (r, set(facts(r, cases.get(r["id"])))) for r in records}
    if chosen is None:
        failing = [r for r in records if r["status"] in FAILING]
    else:
        failing = [info[i][0] for i in chosen if i in info]
    passing = [f for r, f in info.values() if r["status"] in PASSING]
    clusters = defaultdict(list)
    for r in failing:
        clusters[(r["status"], r.get("op"), kind_of(r))].append(r)
    groups = []
    for (status, op, kind), members in clusters.items():
        shared, passing_too = _attribute([info[r["id"]][1] for r in members], passing)
        members.sort(key=lambda r: (len(r["id"]), r["id"]))
        rep = members[0]
        groups.append(Group(status, op, kind, [r["id"] for r in members], shared, passing_too,
                            _others_pass(shared, info), rep, source_of(cases.get(rep["id"])), target))
    groups.sort(key=lambda g: (-len(g.cases), g.op or "", g.kind))
    return groups


def _rank(fact):
    """Tie-break: matrix parameters name a cause best, then features, tags, areas."""
    return (0 if "=" in fact else 2 if fact.startswith("tag:") else 3 if fact.startswith("area:") else 1), fact


def _attribute(member_facts, passing):
    """(facts shared by every member that together exclude the most passing cases, passing cases left)."""
    shared = set.intersection(*member_facts) if member_facts else set()
    chosen, left = [], passing
    while left and shared and len(chosen) < MAX_FACTS:
        best = min(sorted(shared, key=_rank), key=lambda f: sum(1 for p in left if f in p))
        remaining = [p for p in left if best in p]
        if len(remaining) == len(left):
            break
        chosen.append(best)
        shared.discard(best)
        left = remaining
    if chosen and len(left) > MAX_PASSING_TOO * len(member_facts):
        chosen, left = [], []  # shared by too many passing cases to name a cause
    if not chosen:
        return _values_no_pass_has(member_facts, passing), 0
    return chosen, len(left)


@functools.lru_cache(maxsize=4096)
def _split(fact):
    """("activation", "elu") for activation=elu or activation:elu; None for tags, areas, flags."""
    if fact.startswith(("tag:", "area:")):
        return None
    match = re.match(r"([\w.]+)([=:])(.+)$", fact)
    return (match.group(1) + match.group(2), match.group(3)) if match else None


def _values_no_pass_has(member_facts, passing):
    """Where the members share no fact: a parameter every member has, with values no passing
    case has, as one fact: ["activation:elu|selu|softplus"]."""
    named = [dict(split for split in map(_split, facts) if split) for facts in member_facts]
    common = set.intersection(*(set(n) for n in named)) if named else set()
    if not common:
        return []
    passed = defaultdict(set)  # the values each common parameter takes in the passing cases
    for facts in passing:
        for split in map(_split, facts):
            if split and split[0] in common:
                passed[split[0]].add(split[1])
    for name in sorted(common):
        values = {n[name] for n in named}
        if len(values) > 1 and not values & passed[name]:
            shown = sorted(values)
            return [name + "|".join(shown[:6]) + ("|..." if len(shown) > 6 else "")]
    return []


def _others_pass(shared, info):
    """For each shared parameter name=v: "name=w" when every case with another value w passes."""
    out = []
    for fact in shared:
        if "=" not in fact or fact.startswith(("tag:", "area:")):
            continue
        name = fact.split("=", 1)[0]
        others = defaultdict(list)
        for r, f in info.values():
            for g in f:
                if g.startswith(name + "=") and g != fact:
                    others[g].append(r["status"])
        for value, statuses in sorted(others.items()):
            judged = [s for s in statuses if s != "unsupported"]
            if judged and all(s in PASSING for s in judged):
                out.append(value)
    return out


# ---------------------------------------------------------------------- rendering

def render_text(groups, limit=10, indent="  "):
    """The grouped summary for a console: a headline, a representative, its rerun command and file:line."""
    if not groups:
        return ""
    total = sum(len(g.cases) for g in groups)
    lines = [f"{total} case{'s' if total != 1 else ''} did not pass, in {len(groups)} group"
             f"{'s' if len(groups) != 1 else ''} by cause:"]
    for i, g in enumerate(groups[:limit], 1):
        message = one_line(g.representative.get("message", ""), 200)  # no control character reaches a terminal
        lines += [f"{indent}{i}. {one_line(g.headline, 300)}",
                  f"{indent}   e.g. {one_line(g.representative['id'], 300)}: {message}",
                  f"{indent}   rerun: {g.rerun}" + (f"  ({g.source})" if g.source else "")]
    if len(groups) > limit:
        rest = groups[limit:]
        lines.append(f"{indent}... and {len(rest)} more groups ({sum(len(g.cases) for g in rest)} cases)")
    return "\n".join(lines)


def render_markdown(groups, limit=30, heading="## Failures by cause"):
    """The grouped summary as Markdown (summary.md, diff's Markdown)."""
    if not groups:
        return ""
    lines = [heading, ""]
    for g in groups[:limit]:
        message = md_text(g.representative.get("message", ""), 300)  # target text, escaped (report/text.py)
        where = f" ({g.source})" if g.source else ""
        lines += [f"- **{_md(g.headline)}**", f"  e.g. {md_code(g.representative['id'])}{where}: {message}",
                  f"  rerun: `{g.rerun}`"]
    if len(groups) > limit:
        lines.append(f"- ... and {len(groups) - limit} more groups")
    lines.append("")
    return "\n".join(lines)


def _md(text):
    return text.replace("*", "\\*").replace("_", "\\_")


def load_catalog(report=None):
    """{id: Case} of the suite's catalog (loaded once), or {} when it cannot be read. A report's
    own `options.cases` is a record of its run, never a path to read."""
    global _SUITE
    if _SUITE is None:
        from conformance.catalog.cases import CaseFileError, load_cases

        try:
            _SUITE = {c.id: c for c in load_cases()}
        except (CaseFileError, OSError):
            _SUITE = {}
    return _SUITE


_SUITE = None


def group_report(report, cases=None, chosen=None):
    """The groups of one report.json (its target named in the rerun commands)."""
    if cases is None:
        cases = load_catalog(report)
    return group_failures(report["cases"], cases, (report.get("target") or {}).get("name"), chosen)


def diff_section(result, new_records, markdown=False):
    """`conformance diff`'s regressions grouped by cause, per target of the new run.
    result: diff's compare() result; new_records: {(target, id): record} of the new run."""
    regressed = {key[1] for key, _, _ in result.get("regressions", []) if not key[0]}
    regressed_at = {key for key, _, _ in result.get("regressions", []) if key[0]}
    by_target = defaultdict(list)
    for (target, _), record in new_records.items():
        by_target[target].append(record)
    catalog = load_catalog()
    out = []
    for target, records in sorted(by_target.items()):
        chosen = [r["id"] for r in records if r["id"] in regressed or (target, r["id"]) in regressed_at]
        groups = group_failures(records, catalog, target, chosen) if chosen else []
        if not groups:
            continue
        if markdown:
            out.append(render_markdown(groups, heading=f"### Regressions by cause: {target}"))
        else:
            out.append(f"Regressions by cause, {target}: " + render_text(groups))
    return "\n".join(out) + ("\n" if out else "")

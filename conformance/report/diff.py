"""`conformance diff OLD NEW`: what changed between two runs, case by case.

OLD and NEW are report.json files or report folders. A folder without a
report.json of its own but with report folders below it (the output of
`conformance merge`, or downloaded CI artifacts) counts as one run of several
targets; cases are then keyed by target and id.

A report folder whose run was stopped before it wrote report.json is read
from its report.jsonl (and counts as interrupted).

Sections: regressions (a case that did not fail in OLD fails in NEW), fixed
(failed or xfail in OLD, passes in NEW), changed errors (fails in both, with
another status or message), other status changes, cases added and removed.
"Fails" means fail, error, crash or timeout; xfail does not fail.

The gate (`gate`): exit status 1 when there is a regression, when a case of
OLD is missing from NEW (unless --allow-removed), or when NEW is not a whole
run (interrupted, or fewer cases recorded than selected); else 0. Exit status
2, with one line, when OLD or NEW is not a report.
"""

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from conformance.report.record import FAILING, JOURNAL_NAME, ReportError, load
from conformance.report.text import md_code, md_text, one_line


class DiffError(Exception):
    pass


@dataclass
class Side:
    """One side of a diff: its records by (target, case id), its targets, and what makes it
    incomplete (an interrupted run, cases selected but not recorded), one line each."""
    records: dict
    targets: list
    incomplete: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def _report_files(path):
    """The report files a path stands for: a report.json (or report.jsonl of a run that wrote
    no report.json), a report folder, or a folder with report folders below it."""
    path = Path(path)
    if path.is_file():
        return [path]
    if (path / "report.json").is_file() or (path / JOURNAL_NAME).is_file():
        return [path]
    if path.is_dir():
        # A folder of report folders; a merged report.json at the top would count its cases twice.
        folders = sorted({p.parent for p in path.rglob("report.json")} | {p.parent for p in path.rglob(JOURNAL_NAME)})
        if not folders:
            raise DiffError(f"{path}: no report.json in this folder or below it")
        return folders
    raise DiffError(f"{path}: no such file or folder")


def load_side(path):
    """A Side from a report.json, a report folder or a folder of them (report.jsonl where a run was
    stopped before it wrote report.json). Raises DiffError, one line, for anything not a report."""
    side = Side({}, [])
    for source in _report_files(path):
        try:
            report = load(source)
        except ReportError as exc:
            raise DiffError(str(exc)) from None
        if report.get("journal_note"):
            side.notes.append(report["journal_note"])
        if report.get("merged"):  # conformance merge: every case names its target
            for target in report.get("targets") or []:
                name = target.get("name", "?") if isinstance(target, dict) else "?"
                side.targets.append(name)
                side.incomplete.extend(_incomplete(target if isinstance(target, dict) else {}, f"{source} [{name}]"))
            for case in report["cases"]:
                side.records[(case["target"], case["id"])] = case
            continue
        target = report["target"]["name"]
        side.targets.append(target)
        side.incomplete.extend(_incomplete(report, str(source)))
        for case in report["cases"]:
            side.records[(target, case["id"])] = case
    return side


def _incomplete(report, where):
    """Why a report (or a merged report's target entry) is not a whole run: [] when it is."""
    found = []
    if report.get("from_journal"):
        found.append(f"{where}: only report.jsonl: the run was stopped before it wrote report.json")
    elif report.get("interrupted"):
        found.append(f"{where}: the run was interrupted")
    done = report.get("completeness") or {}
    if done.get("complete") is False and not report.get("from_journal"):
        found.append(f"{where}: {done.get('recorded')} of {done.get('selected')} selected cases recorded")
    return found


def load_runs(path):
    """{(target, case id): record} and the target names, from a report.json, a report folder or a folder of them."""
    side = load_side(path)
    return side.records, side.targets


def _failing(record):
    return record["status"] in FAILING


def compare(old, new):
    """The differences between two {key: record} maps, as lists of (key, old record, new record)."""
    result = {"regressions": [], "fixed": [], "changed_errors": [], "changed": [], "added": [], "removed": []}
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a is None:
            result["added"].append((key, None, b))
        elif b is None:
            result["removed"].append((key, a, None))
        elif _failing(b) and not _failing(a):
            result["regressions"].append((key, a, b))
        elif _failing(a) and not _failing(b) and b["status"] in ("pass", "xpass"):
            result["fixed"].append((key, a, b))
        elif a["status"] == "xfail" and b["status"] in ("pass", "xpass"):
            result["fixed"].append((key, a, b))
        elif _failing(a) and _failing(b):
            if a["status"] != b["status"] or _message(a) != _message(b):
                result["changed_errors"].append((key, a, b))
        elif a["status"] != b["status"]:
            result["changed"].append((key, a, b))
    return result


def _message(record):
    return " ".join(str(record.get("message", "")).split())


def _name(key, several_targets):
    target, case_id = key
    return one_line(f"{target}: {case_id}" if several_targets else case_id, 1000)


def _brief(text, width=200):
    return one_line(text, width)  # control characters from a report never reach the terminal raw


def render(result, old_desc, new_desc, several_targets=False, limit=50, gate_reasons=None, incomplete=()):
    """The diff as text; `gate_reasons` (from `gate`) decide the last line, `incomplete` (the new
    side's) is listed above it."""
    lines = [f"conformance diff: {one_line(old_desc, 1000)} -> {one_line(new_desc, 1000)}"]
    counts = {k: len(v) for k, v in result.items()}
    lines.append("  " + ", ".join(f"{counts[k]} {k.replace('_', ' ')}" for k in result))

    def section(title, items, describe):
        if not items:
            return
        lines.append("")
        lines.append(f"{title} ({len(items)}):")
        for key, a, b in items[:limit]:
            lines.append(f"  - {_name(key, several_targets)}: {describe(a, b)}")
        if len(items) > limit:
            lines.append(f"  ... and {len(items) - limit} more")

    section("REGRESSIONS: newly failing", result["regressions"],
            lambda a, b: f"{a['status']} -> {b['status']}: {_brief(b.get('message', ''))}")
    section("Fixed", result["fixed"], lambda a, b: f"{a['status']} -> {b['status']}")
    section("Changed errors", result["changed_errors"],
            lambda a, b: f"{a['status']} -> {b['status']}: {_brief(b.get('message', ''))} "
                         f"(was: {_brief(a.get('message', ''), 120)})")
    section("Other status changes", result["changed"], lambda a, b: f"{a['status']} -> {b['status']}")
    section("Added", result["added"], lambda a, b: b["status"])
    section("Removed", result["removed"], lambda a, b: f"was {a['status']}")
    if incomplete:
        lines += ["", f"NEW IS NOT A WHOLE RUN ({len(incomplete)}):"]
        lines += [f"  - {one_line(reason, 1000)}" for reason in incomplete]
    lines.append("")
    if gate_reasons is None:
        lines.append(f"{counts['regressions']} regression{'s' if counts['regressions'] != 1 else ''}"
                     + (": the gate fails" if counts["regressions"] else ""))
    else:
        word = f"{counts['regressions']} regression{'s' if counts['regressions'] != 1 else ''}"
        if not gate_reasons:
            lines.append(word)
        else:
            lines.append(f"{word}{':' if counts['regressions'] else ', but'} the gate fails: {'; '.join(gate_reasons)}")
    return "\n".join(lines) + "\n"


def render_markdown(result, old_desc, new_desc, several_targets=False, limit=100, gate_reasons=None):
    lines = ["## Conformance diff", "", f"{md_code(old_desc)} → {md_code(new_desc)}", "",
             "| regressions | fixed | changed errors | other changes | added | removed |",
             "|---:|---:|---:|---:|---:|---:|",
             "| " + " | ".join(str(len(result[k])) for k in result) + " |", ""]
    if gate_reasons:
        lines += [f"**The gate fails**: {md_text('; '.join(gate_reasons), 2000)}.", ""]
    for title, key in (("Regressions", "regressions"), ("Fixed", "fixed"), ("Changed errors", "changed_errors"),
                       ("Removed", "removed")):
        if result[key]:
            lines += [f"### {title}", ""]
            for k, a, b in result[key][:limit]:
                after = f"{md_text(b['status'])} {md_text(b.get('message', ''), 200)}" if b else "not in the new run"
                lines.append(f"- {md_code(_name(k, several_targets))}: {md_text(a['status'])} → {after}".rstrip())
            lines.append("")
    return "\n".join(lines)


def diff(old_path, new_path):
    """(differences, several targets?, old target names, new target names)."""
    result, several, old_side, new_side = diff_sides(old_path, new_path)
    return result, several, old_side.targets, new_side.targets


def diff_sides(old_path, new_path):
    """(differences, several targets?, old Side, new Side): what `gate` judges."""
    old_side, new_side = load_side(old_path), load_side(new_path)
    old, new = old_side.records, new_side.records
    several = len(set(old_side.targets)) > 1 or len(set(new_side.targets)) > 1
    if not several:
        # One target on each side, perhaps under different names (a renamed factory): key by id alone.
        old = {("", k[1]): v for k, v in old.items()}
        new = {("", k[1]): v for k, v in new.items()}
    return compare(old, new), several, old_side, new_side


def gate(result, new_side, allow_removed=False):
    """Why the gate fails, one phrase each ([] when it passes): a regression; a case of OLD missing
    from NEW (unless allow_removed); NEW interrupted or not recording every case it selected."""
    reasons = []
    if result["regressions"]:
        reasons.append(f"{len(result['regressions'])} newly failing")
    if result["removed"] and not allow_removed:
        count = len(result["removed"])
        reasons.append(f"{count} case{'s' if count != 1 else ''} of the baseline missing from the new run "
                       "(--allow-removed if they were removed on purpose)")
    if new_side.incomplete:
        reasons.append("the new run is not whole (interrupted or cases not recorded)")
    return reasons


def catalog_note(old_path, new_path):
    """A line saying that OLD and NEW were run with different suites or catalogs (None when the same):
    a case that changed may then have changed in the catalog, not in the implementation."""
    def versions(path):
        path = Path(path)
        files = [path] if path.is_file() else [path / "report.json"] if (path / "report.json").is_file() \
            else sorted(path.rglob("report.json")) if path.is_dir() else []
        found = set()
        for file in files:
            try:
                report = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(report, dict) and not report.get("merged"):
                found.add(((report.get("suite") or {}).get("version", "?"),
                           (report.get("catalog") or {}).get("version", "unrecorded")))
        return found

    old, new = versions(old_path), versions(new_path)
    if not old or not new or old == new:
        return None
    def say(found):
        return ", ".join(f"suite {suite}, catalog {catalog}" for suite, catalog in sorted(found))
    return (f"note: the reports come from different suites or catalogs: {say(old)} -> {say(new)}; "
            "a changed case may have changed in the catalog, not in the target")


def cmd_diff(args):
    try:
        result, several, old_side, new_side = diff_sides(args.old, args.new)
    except DiffError as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return 2
    for note in old_side.notes + new_side.notes:
        print(f"conformance: warning: {note}", file=sys.stderr)
    reasons = gate(result, new_side, allow_removed=getattr(args, "allow_removed", False))
    old_desc = f"{args.old} ({', '.join(sorted(set(old_side.targets)))})"
    new_desc = f"{args.new} ({', '.join(sorted(set(new_side.targets)))})"
    sys.stdout.write(render(result, old_desc, new_desc, several, args.limit, reasons, new_side.incomplete))
    if note := catalog_note(args.old, args.new):
        print(note)
    from conformance.report.grouping import diff_section  # the regressions grouped by cause

    new_records = new_side.records
    sys.stdout.write(diff_section(result, new_records))
    if args.markdown:
        Path(args.markdown).write_text(render_markdown(result, old_desc, new_desc, several, gate_reasons=reasons)
                                       + diff_section(result, new_records, markdown=True), encoding="utf-8")
    if args.json:
        data = {k: [{"target": key[0] or None, "id": key[1], "old": a and a["status"], "new": b and b["status"],
                     "message": (b or {}).get("message", "")} for key, a, b in v] for k, v in result.items()}
        data["gate"] = {"passes": not reasons, "reasons": reasons, "incomplete": new_side.incomplete}
        Path(args.json).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 1 if reasons else 0

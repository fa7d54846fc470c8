"""`conformance diff OLD NEW`: what changed between two runs, case by case.

OLD and NEW are report.json files or report folders. A folder without a
report.json of its own but with report folders below it (the output of
`conformance merge`, or downloaded CI artifacts) counts as one run of several
targets; cases are then keyed by target and id.

Sections: regressions (a case that did not fail in OLD fails in NEW), fixed
(failed or xfail in OLD, passes in NEW), changed errors (fails in both, with
another status or message), other status changes, cases added and removed.
"Fails" means fail, error, crash or timeout; xfail does not fail.
Exit status 1 when there is a regression, else 0 (2 when a report cannot be read).
"""

import json
import sys
from pathlib import Path

from conformance.report.record import FAILING


class DiffError(Exception):
    pass


def load_runs(path):
    """{(target, case id): record} and a description, from a report.json, a report folder or a folder of them."""
    path = Path(path)
    if path.is_file():
        reports = [path]
    elif (path / "report.json").is_file():
        reports = [path / "report.json"]
    elif path.is_dir():
        # A folder of report folders; a merged report.json at the top would count its cases twice.
        reports = sorted(p for p in path.rglob("report.json"))
        if not reports:
            raise DiffError(f"{path}: no report.json in this folder or below it")
    else:
        raise DiffError(f"{path}: no such file or folder")
    records, targets = {}, []
    for report_path in reports:
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DiffError(f"{report_path}: cannot read: {exc}") from None
        if "cases" not in report:
            raise DiffError(f"{report_path}: not a report.json (no `cases`)")
        if report.get("merged"):  # conformance merge: every case names its target
            targets.extend(t["name"] for t in report.get("targets", []))
            for case in report["cases"]:
                records[(case["target"], case["id"])] = case
            continue
        target = (report.get("target") or {}).get("name", "?")
        targets.append(target)
        for case in report["cases"]:
            records[(target, case["id"])] = case
    return records, targets


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
    return f"{target}: {case_id}" if several_targets else case_id


def _brief(text, width=200):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def render(result, old_desc, new_desc, several_targets=False, limit=50):
    lines = [f"conformance diff: {old_desc} -> {new_desc}"]
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
    lines.append("")
    lines.append(f"{counts['regressions']} regression{'s' if counts['regressions'] != 1 else ''}"
                 + (": the gate fails" if counts["regressions"] else ""))
    return "\n".join(lines) + "\n"


def render_markdown(result, old_desc, new_desc, several_targets=False, limit=100):
    lines = [f"## Conformance diff", "", f"`{old_desc}` → `{new_desc}`", "",
             "| regressions | fixed | changed errors | other changes | added | removed |",
             "|---:|---:|---:|---:|---:|---:|",
             "| " + " | ".join(str(len(result[k])) for k in result) + " |", ""]
    for title, key in (("Regressions", "regressions"), ("Fixed", "fixed"), ("Changed errors", "changed_errors")):
        if result[key]:
            lines += [f"### {title}", ""]
            for k, a, b in result[key][:limit]:
                lines.append(f"- `{_name(k, several_targets)}`: {a['status']} → {b['status']} "
                             f"{_brief(b.get('message', ''))}".rstrip())
            lines.append("")
    return "\n".join(lines)


def diff(old_path, new_path):
    old, old_targets = load_runs(old_path)
    new, new_targets = load_runs(new_path)
    several = len(set(old_targets)) > 1 or len(set(new_targets)) > 1
    if not several:
        # One target on each side, perhaps under different names (a renamed factory): key by id alone.
        old = {("", k[1]): v for k, v in old.items()}
        new = {("", k[1]): v for k, v in new.items()}
    return compare(old, new), several, old_targets, new_targets


def cmd_diff(args):
    try:
        result, several, old_targets, new_targets = diff(args.old, args.new)
    except DiffError as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return 2
    old_desc = f"{args.old} ({', '.join(sorted(set(old_targets)))})"
    new_desc = f"{args.new} ({', '.join(sorted(set(new_targets)))})"
    sys.stdout.write(render(result, old_desc, new_desc, several, args.limit))
    if args.markdown:
        Path(args.markdown).write_text(render_markdown(result, old_desc, new_desc, several), encoding="utf-8")
    if args.json:
        data = {k: [{"target": key[0] or None, "id": key[1], "old": a and a["status"], "new": b and b["status"],
                     "message": (b or {}).get("message", "")} for key, a, b in v] for k, v in result.items()}
        Path(args.json).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 1 if result["regressions"] else 0

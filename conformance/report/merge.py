"""`conformance merge --from-reports DIR1,DIR2 --out DIR`: the reports of several runs in one folder.

For CI matrices that run one target per job: each job uploads its report
folder; a final job downloads them all and merges them. The merged folder holds

    DIR/<target-name-sanitized>/   a copy of each run's report.json, junit.xml, summary.md
    DIR/report.json                every target's cases (each with its `target`), summaries per target
    DIR/summary.md                 one table, a row per target, and each target's cases that failed
    DIR/junit.xml                  a <testsuites> with one <testsuite> per target

`--from-reports` takes report folders (or report.json files), comma-separated
or repeated, or a folder with report folders below it (a download of all
artifacts). The same target twice is refused unless --rename-duplicates.
Exit status 0; with --gate, 1 when a case failed in any target (xfail does not count).
"""

import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import conformance

from conformance.report.expectations import sanitize_target
from conformance.report.junit import render_junit
from conformance.report.record import (FAILING, STATUSES, SCHEMA_VERSION, ReportError, atomic_write, exit_status,
                                       load, write_json)
from conformance.report.text import md_code, md_text


class MergeError(Exception):
    pass


def find_reports(sources):
    """report.json paths, in the order given (a folder of report folders: sorted)."""
    found = []
    for source in sources:
        path = Path(source)
        if path.is_file():
            found.append(path)
        elif (path / "report.json").is_file():
            found.append(path / "report.json")
        elif path.is_dir():
            below = sorted(path.rglob("report.json"))
            if not below:
                raise MergeError(f"{path}: no report.json in this folder or below it")
            found.extend(below)
        else:
            raise MergeError(f"{path}: no such file or folder")
    return found


def merge(report_paths, out, rename_duplicates=False):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    targets, cases, seen, reports = [], [], {}, []
    for path in report_paths:
        try:
            report = load(path)
        except ReportError as exc:
            raise MergeError(str(exc)) from None
        if report.get("merged"):
            raise MergeError(f"{path} is already a merged report; merge its target folders instead")
        reports.append(report)
        name = report["target"]["name"]
        folder = sanitize_target(name)
        if folder in seen:
            if not rename_duplicates:
                raise MergeError(f"target {name} appears twice ({seen[folder]} and {path})")
            number = 2
            while f"{folder}-{number}" in seen:
                number += 1
            folder = f"{folder}-{number}"
        seen[folder] = path
        destination = out / folder
        destination.mkdir(parents=True, exist_ok=True)
        for extra in ("report.json", "junit.xml", "summary.md"):
            source = Path(path).parent / extra
            if source.is_file() and source.resolve() != (destination / extra).resolve():
                shutil.copyfile(source, destination / extra)
        summary = report.get("summary") or {}
        targets.append({"name": name, "profile": report["target"].get("profile"), "dir": folder,
                        "implementation": report["target"].get("implementation"),
                        "summary": summary, "interrupted": report.get("interrupted", False),
                        "completeness": report.get("completeness"),
                        "duration_s": report.get("duration_s"), "started": report.get("started"),
                        "suite": report.get("suite")})
        for case in report["cases"]:
            cases.append({**case, "target": name})
    summary = {"total": sum(t["summary"].get("total", 0) for t in targets)}
    summary.update({s: sum(t["summary"].get(s, 0) for t in targets) for s in STATUSES})
    merged = {"schema_version": SCHEMA_VERSION, "merged": True,
              "suite": {"name": conformance.SUITE_NAME, "version": conformance.__version__},
              "targets": targets, "summary": summary,
              "cases": sorted(cases, key=lambda c: (c["target"], c["id"]))}
    write_json(out / "report.json", merged)
    atomic_write(out / "summary.md", render_markdown(merged))
    write_junit(out, reports)
    return merged


def render_markdown(merged):
    columns = ["total", *STATUSES]
    lines = ["# SimpleRNN conformance: all targets", "",
             "| target | profile | " + " | ".join(columns) + " |",
             "|---|---|" + "---:|" * len(columns)]
    for t in merged["targets"]:
        lines.append(f"| [{md_code(t['name'], in_table=True)}]({t['dir']}/summary.md) | {md_text(t.get('profile') or '')} | "
                     + " | ".join(str(t["summary"].get(c, 0)) for c in columns) + " |")
    lines.append("| **all** | | " + " | ".join(str(merged["summary"].get(c, 0)) for c in columns) + " |")
    lines.append("")
    problems = [c for c in merged["cases"] if c["status"] in FAILING]
    if problems:
        lines += ["## Cases that did not pass", ""]
        for case in problems[:200]:
            lines.append(f"- {md_code(case['target'])} **{md_text(case['status'])}** {md_code(case['id'])}: "
                         f"{md_text(case.get('message', ''), 300)}")
        if len(problems) > 200:
            lines.append(f"- ... and {len(problems) - 200} more")
        lines.append("")
    return "\n".join(lines)


def write_junit(out, reports):
    """One <testsuite> per target, rendered from its report.json (never parsed from a junit.xml,
    which another tool may have written)."""
    root = ET.Element("testsuites", {"name": "simplernn-conformance"})
    for report in reports:
        report = {"summary": {}, "started": "", **report}
        report["summary"] = {"total": len(report["cases"]), **{s: 0 for s in STATUSES}, **report["summary"]}
        root.append(ET.fromstring(render_junit(report)))
    ET.indent(root)
    atomic_write(Path(out) / "junit.xml", ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")


def cmd_merge(args):
    sources = [s for group in args.from_reports for s in group.split(",") if s] + list(args.sources)
    if not sources:
        print("conformance: error: merge needs report folders (--from-reports DIR1,DIR2)", file=sys.stderr)
        return 2
    try:
        out = Path(args.out).resolve()
        reports = [p for p in find_reports(sources) if out not in p.resolve().parents and p.resolve() != out / "report.json"]
        merged = merge(reports, args.out, args.rename_duplicates)
    except OSError as exc:
        print(f"conformance: error: {exc.filename or args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except (MergeError, ValueError) as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return 2
    s = merged["summary"]
    print(f"merged {len(merged['targets'])} targets into {args.out}/: {s['total']} cases, "
          + ", ".join(f"{s[k]} {k}" for k in STATUSES if s.get(k)))
    if args.gate:
        return max([exit_status(t) for t in merged["targets"]] or [0])
    return 0

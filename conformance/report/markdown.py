"""A Markdown summary of report.json: what ran, on what, and what was found."""

from collections import defaultdict
from pathlib import Path


def render_markdown(report):
    target = report["target"]
    impl = target.get("implementation") or {}
    versions = ", ".join(f"{k} {v}" for k, v in (impl.get("versions") or {}).items())
    s = report["summary"]
    lines = [
        f"# SimpleRNN conformance: `{target['name']}`",
        "",
        f"Suite {report['suite']['name']} {report['suite']['version']}; profile `{target.get('profile')}`; "
        f"{versions or 'versions unknown'}.",
        f"Python {report['environment']['python']} on {report['environment']['platform']}; "
        f"{report['started']}, {report.get('duration_s') or 0:.1f} s"
        + (" (**interrupted**: the run did not finish)" if report.get("interrupted") else "") + ".",
        "",
        "| total | pass | fail | error | crash | timeout | unsupported | xfail | xpass |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s['total']} | {s['pass']} | {s['fail']} | {s['error']} | {s['crash']} | {s['timeout']} | {s['unsupported']} "
        f"| {s.get('xfail', 0)} | {s.get('xpass', 0)} |",
        "",
    ]
    deselected = {k: v for k, v in (report.get("deselected") or {}).items() if v}
    if deselected:
        lines += ["Not selected: " + ", ".join(f"{v} by {k}" for k, v in deselected.items()) + ".", ""]
    by_area = defaultdict(lambda: defaultdict(int))
    for case in report["cases"]:
        by_area[case["id"].split("/")[0]][case["status"]] += 1
    lines += ["| area | pass | fail | error | crash | timeout | unsupported | xfail | xpass |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for area in sorted(by_area):
        c = by_area[area]
        lines.append(f"| {area} | {c['pass']} | {c['fail']} | {c['error']} | {c['crash']} | {c['timeout']} | {c['unsupported']} "
                     f"| {c['xfail']} | {c['xpass']} |")
    lines.append("")
    problems = [c for c in report["cases"] if c["status"] in ("fail", "error", "crash", "timeout")]
    if problems:
        lines += ["## Cases that did not pass", ""]
        for case in problems:
            where = f" (step {case['step']}, `{case.get('op')}`)" if case.get("step") is not None else ""
            lines.append(f"- **{case['status']}** `{case['id']}`{where}: {_one_line(case.get('message', ''))}")
        lines.append("")
    for status, title in (("xpass", "Listed as known failures, but passing now (xpass)"),
                          ("xfail", "Known failures (xfail)")):
        listed = [c for c in report["cases"] if c["status"] == status]
        if listed:
            lines += [f"## {title}", ""]
            for case in listed:
                known = case.get("expectation") or {}
                link = f" ([link]({known['link']}))" if known.get("link") else ""
                lines.append(f"- `{case['id']}` ({case.get('original_status')}; {known.get('category', '')}): "
                             f"{_one_line(known.get('reason', ''))}{link}")
            lines.append("")
    unsupported = [c for c in report["cases"] if c["status"] == "unsupported"]
    if unsupported:
        reasons = defaultdict(int)
        for case in unsupported:
            reasons[case.get("message", "")] += 1
        lines += ["## Unsupported", ""]
        lines += [f"- {n} cases: {_one_line(r)}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])]
        lines.append("")
    variants = [c for c in report["cases"] if c.get("variant")]
    if variants:
        lines += ["## Implementation-defined outcomes taken", ""]
        lines += [f"- `{c['id']}`: {c['variant']}" for c in variants]
        lines.append("")
    return "\n".join(lines)


def write_markdown(report, path):
    Path(path).write_text(render_markdown(report), encoding="utf-8")


def _one_line(text):
    text = " ".join(str(text).split())
    return text if len(text) <= 400 else text[:397] + "..."

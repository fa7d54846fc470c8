"""A Markdown summary of report.json: what ran, on what, and what was found."""

import re
from collections import defaultdict

from conformance.report.record import FAILING
from conformance.report.text import md_code, md_text


def render_markdown(report, cases=None):
    """The summary; `cases` ({id: Case}, optional) saves loading the case files the report names."""
    from conformance.report.grouping import group_report, load_catalog, render_markdown as render_groups

    cases = load_catalog(report) if cases is None else cases
    target = report["target"]
    impl = target.get("implementation") or {}
    versions = ", ".join(f"{k} {v}" for k, v in (impl.get("versions") or {}).items())
    s = report["summary"]
    load = load_text(report.get("load_average"))
    lines = [
        f"# SimpleRNN conformance: {md_code(target['name'])}",
        "",
        f"Suite {report['suite']['name']} {report['suite']['version']}; profile `{target.get('profile')}`; "
        f"{versions or 'versions unknown'}.",
        f"Python {report['environment']['python']} on {report['environment']['platform']}; "
        f"{report['started']}, {report.get('duration_s') or 0:.1f} s"
        + (f" at load {load}" if load else "")
        + (" (**interrupted**: the run did not finish)" if report.get("interrupted") else "") + ".",
        _machine(report["environment"]),
        _expectations(report.get("options") or {}),
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
        lines.append(f"| {md_text(area, 100)} | {c['pass']} | {c['fail']} | {c['error']} | {c['crash']} | {c['timeout']} | {c['unsupported']} "
                     f"| {c['xfail']} | {c['xpass']} |")
    lines.append("")
    problems = [c for c in report["cases"] if c["status"] in FAILING]
    if problems:
        lines.append(render_groups(group_report(report, cases)))
        lines += ["## Cases that did not pass", ""]
        for case in problems:
            where = f" (step {case['step']}, `{case.get('op')}`)" if case.get("step") is not None else ""
            lines.append(f"- **{case['status']}** {md_code(case['id'])}{where}: {_one_line(case.get('message', ''))}")
        lines.append("")
    for status, title in (("xpass", "Listed as known failures, but passing now (xpass)"),
                          ("xfail", "Known failures (xfail)")):
        listed = [c for c in report["cases"] if c["status"] == status]
        if listed:
            lines += [f"## {title}", ""]
            for case in listed:
                known = case.get("expectation") or {}
                link = _link(known.get("link"))
                lines.append(f"- {md_code(case['id'])} ({case.get('original_status')}; "
                             f"{_one_line(known.get('category', ''))}): "
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
    told = [(c, _distinguishable(c, cases.get(c["id"]))) for c in variants]
    told = [(c, choices) for c, choices in told if choices]
    if variants:
        lines += ["## Implementation-defined outcomes taken", "",
                  f"Where the acceptable outcomes differ for the case's inputs ({len(told)} of the {len(variants)} "
                  "cases that took a variant; in the others every variant gives the same result, so the choice "
                  "cannot be seen):", ""]
        lines += [f"- {md_code(c['id'])}: {_one_line(choices)}" for c, choices in told]
        lines.append("")
    return "\n".join(lines)


def load_text(load):
    """'1.3 to 1.5': a report's `load_average`, how busy the machine was while the run took its time
    ('' when the report has none)."""
    if not isinstance(load, dict) or not all(isinstance(load.get(k), (int, float)) for k in ("start", "end")):
        return ""
    return f"{load['start']:.1f} to {load['end']:.1f}"


def _machine(env):
    """The machine facts that change numerics: CPU model and features, thread settings."""
    if "cpu_model" not in env:
        return f"{env.get('cpu_count', '?')} CPUs."
    threads = ", ".join(f"{k}={v}" for k, v in env.get("threads", {}).items()) or "no thread settings in the environment"
    flags = ", ".join(env.get("cpu_flags") or []) or "none of fma, avx2, avx512f, avx512_bf16, amx"
    return f"CPU {env['cpu_model']} ({env.get('cpu_count')} CPUs; numerics features: {flags}); {threads}."


def _expectations(options):
    if not options.get("expectations"):
        return "No expectations file: every failure counts."
    how = " (the suite's own, applied by default)" if options.get("expectations_implicit") else ""
    return f"Known failures from `{options['expectations']}`{how} are reported as xfail."


def _distinguishable(record, case):
    """The variants a case took, each only where its expected outcome differs from another
    acceptable one for this case's inputs (the reference computes each variant's outcome);
    "" when no choice can be told apart. Without the case, the record's text as it is."""
    if case is None:
        return record["variant"]
    from conformance.judge.expected import expected_outcome

    concrete = case.concrete()
    try:
        expected, by_variant = expected_outcome(concrete)
    except Exception:  # noqa: BLE001 - the reference cannot play it: say what the target took
        return record["variant"]
    told = []
    for taken in record["variant"].split("; "):
        index, _, name = taken.partition(": ")
        step = concrete["steps"][int(index.split()[-1])]
        options = (step.get("expect") or {}).get("any_of") or []
        at = int(index.split()[-1])

        def outcome(option):
            extra = {k: v for k, v in option.items() if k not in ("variant", "description", "reference")}
            return _text(extra), _text((by_variant.get(option["variant"]) or expected)[at])

        mine = [o for o in options if o["variant"] == name]
        same = [o["variant"] for o in options if o["variant"] != name and mine and outcome(o) == outcome(mine[0])]
        if mine and len(same) < len(options) - 1:
            told.append(f"{taken}" + (f" (same outcome as {', '.join(same)} here)" if same else ""))
    return "; ".join(told)


def _text(value):
    import json

    from conformance.arrays import to_wire

    return json.dumps(to_wire(value), sort_keys=True, default=str)


def write_markdown(report, path, cases=None):
    from conformance.report.record import atomic_write

    atomic_write(path, render_markdown(report, cases))


def _one_line(text):
    """Target text on one line, Markdown's markup characters escaped (report/text.py)."""
    return md_text(text, 400)


def _link(url):
    """ ([link](URL)) for an http(s) address; any other text is shown, escaped, not linked."""
    url = str(url or "").strip()
    if not url:
        return ""
    if re.fullmatch(r"https?://[^\s()<>]+", url):
        return f" ([link]({url}))"
    return f" (link: {md_text(url, 200)})"

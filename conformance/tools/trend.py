"""The trend of a history: what each release of a framework did with the catalog.

Written from stored report.json files only (the folders `conformance history`
writes, a download of a CI job matrix's artifacts, or `conformance merge`'s
output), so the trend of one machine and of forty runners is the same. Per
release: totals by verdict, the catalog version, the framework's and its
dependencies' versions. Between consecutive releases: the changes of
`conformance diff` (report/diff.py's compare), grouped by root cause with
report/grouping.py (one entry per cause, its count, its shared detail and one
representative case). Per case: every release where its verdict changed, with
the reason before and after. A sudden drop (the pass count falling by more
than --drop-percent, or to 0, or a release that did not run whole) is
flagged at the top of every page, and `--trend-only` exits 1 on one.

Files: trend.json, trend.md, trend.html, verdicts.svg and verdicts.png.
"""

import html
import json
import re
from collections import defaultdict
from pathlib import Path

from packaging.version import InvalidVersion, Version

from conformance.report.diff import compare
from conformance.report.grouping import group_failures, load_catalog

VERDICTS = ("pass", "fail", "error", "crash", "timeout", "unsupported")
COLORS = {"pass": "#2e7d32", "fail": "#c62828", "error": "#ef6c00", "crash": "#6a1b9a", "timeout": "#4e342e",
          "unsupported": "#9e9e9e"}
DEFAULT_DROP_PERCENT = 10.0
# The dependencies worth a column: what the framework computes with.
DEPENDENCIES = ("numpy", "scipy", "jax", "jaxlib", "tensorflow", "tensorflow-cpu", "torch", "ml-dtypes", "optree")


class TrendError(ValueError):
    pass


def version_key(text):
    """A sortable key for a release number, in PEP 440's order: 3.16.0.dev0 < 3.16.0rc1 < 3.16.0 < 3.16.0.post1.
    A label that is no version (a local build's name) sorts after every release, by its text."""
    try:
        return (0, Version(text), "")
    except InvalidVersion:
        return (1, None, text)


# ---------------------------------------------------------------- reading

def load_history(sources):
    """({target: [run]} oldest release first, {target: {release: why not}}) from report folders.
    A run is {"label", "report", "path", "local"}."""
    runs, not_installed = defaultdict(dict), defaultdict(dict)
    for source in sources:
        source = Path(source)
        if not source.exists():
            raise TrendError(f"{source}: no such file or folder")
        paths = [source] if source.is_file() else sorted(source.rglob("report.json"))
        for path in paths:
            try:
                report = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise TrendError(f"{path}: cannot read: {exc}") from None
            if report.get("merged") or "cases" not in report:
                continue  # a merged report repeats the per-target copies next to it
            target, label = _release_of(report)
            if label is None:
                continue
            runs[target][label] = {"label": label, "report": report, "path": path,
                                   "local": bool((report.get("release") or {}).get("local"))}
        for path in ([] if source.is_file() else sorted(source.rglob("not-installed.json"))):
            known = json.loads(path.read_text(encoding="utf-8"))
            not_installed[known["target"]].update(known["releases"])
    if not runs:
        raise TrendError(f"no release report (report.json of `conformance history`) in {', '.join(map(str, sources))}")
    ordered = {t: sorted(r.values(), key=lambda run: (run["local"], version_key(run["label"]))) for t, r in runs.items()}
    for target, labels in not_installed.items():
        for label in [l for l in labels if l in {r["label"] for r in ordered.get(target, [])}]:
            del labels[label]  # it ran after all (elsewhere, in a job matrix)
    return ordered, dict(not_installed)


def _release_of(report):
    """(base target, release label) of a history report: its target is named TARGET@RELEASE."""
    name = (report.get("target") or {}).get("name", "")
    release = report.get("release") or {}
    if "@" in name:
        base, _, label = name.partition("@")
        return base, label
    if release.get("label"):
        return release.get("target") or name, release["label"]
    return name, None


# ---------------------------------------------------------------- computing

def totals(report):
    s = report.get("summary", {})
    return {v: s.get(v, 0) for v in VERDICTS} | {"total": s.get("total", len(report.get("cases", [])))}


def release_row(run):
    report, release = run["report"], run["report"].get("release") or {}
    implementation = (report.get("target") or {}).get("implementation") or report.get("implementation") or {}
    versions = dict(implementation.get("versions") or {})
    packages = {}
    for line in release.get("packages") or []:
        name, _, version = line.partition("==")
        if name.lower().replace("_", "-") in DEPENDENCIES and version:
            packages[name.lower().replace("_", "-")] = version
    date = release.get("released") or _minus_week(release.get("uploaded_prior_to"))
    return {"label": run["label"], "local": run["local"], "totals": totals(report),
            "catalog": (report.get("catalog") or {}).get("version"), "versions": versions,
            "dependencies": packages, "released": date[:10] if date else None,
            "duration_s": report.get("duration_s"), "interrupted": bool(report.get("interrupted")),
            "start_error": report.get("start_error")}


def _minus_week(stamp):
    if not stamp:
        return None
    from datetime import datetime, timedelta

    return (datetime.fromisoformat(stamp) - timedelta(days=7)).isoformat()


def transition(old_run, new_run):
    """What changed from one release to the next: diff's comparison, each kind grouped by cause."""
    old = {r["id"]: r for r in old_run["report"]["cases"]}
    new = {r["id"]: r for r in new_run["report"]["cases"]}
    result = compare(old, new)
    catalog = load_catalog(new_run["report"])
    groups = {}
    for kind, records, side in (("regressions", new, new_run), ("changed_errors", new, new_run),
                                ("fixed", old, old_run)):
        chosen = [key for key, _, _ in result[kind]]
        found = group_failures(list(records.values()), catalog, None, chosen) if chosen else []
        groups[kind] = [_group_entry(g, records) for g in found]
    others = defaultdict(list)
    for key, a, b in result["changed"]:
        others[f"{a['status']} -> {b['status']}"].append(key)
    return {"from": old_run["label"], "to": new_run["label"], "counts": {k: len(v) for k, v in result.items()},
            "groups": groups, "other_changes": {k: {"count": len(v), "example": v[0]} for k, v in others.items()},
            "added": [k for k, _, _ in result["added"]], "removed": [k for k, _, _ in result["removed"]],
            "_result": result}


def _group_entry(group, records):
    rep = records[group.representative["id"]]
    return {"count": len(group.cases), "headline": group.headline, "status": group.status,
            "detail": " ".join(str(rep.get("message", "")).split())[:300], "representative": rep["id"],
            "source": group.source, "cases": group.cases}


def case_changes(transitions):
    """{case id: [change]}: each release where the case's verdict (or failure) changed."""
    cases = defaultdict(list)
    for t in transitions:
        for kind in ("regressions", "fixed", "changed_errors", "changed"):
            for key, a, b in t["_result"][kind]:
                cases[key].append({"from": t["from"], "release": t["to"], "kind": kind,
                                   "before": a["status"], "after": b["status"],
                                   "reason_before": _reason(a), "reason_after": _reason(b)})
    return dict(sorted(cases.items()))


def _reason(record):
    return " ".join(str(record.get("message", "")).split())[:240] if record["status"] not in ("pass", "xpass") else ""


def drops(rows, percent):
    """The sudden drops: a release that did not run whole, or whose pass count fell to 0 or by
    more than `percent` per cent of the release before."""
    found = []
    for before, row in zip([None, *rows], rows):
        if row["start_error"] or row["interrupted"]:
            found.append({"release": row["label"], "why": "the run did not finish: "
                          + (row["start_error"] or "interrupted")})
        if before is None:
            continue
        a, b = before["totals"]["pass"], row["totals"]["pass"]
        if a and (b == 0 or (a - b) * 100 > percent * a):
            found.append({"release": row["label"], "why": f"pass count fell from {a} ({before['label']}) to {b} "
                                                          f"({(b - a) * 100 / a:+.0f}%)"})
    return found


def build_trend(runs, not_installed, percent=DEFAULT_DROP_PERCENT):
    """The trend of one target's runs (oldest first), as plain data (trend.json)."""
    rows = [release_row(r) for r in runs]
    transitions = [transition(a, b) for a, b in zip(runs, runs[1:])]
    catalogs = sorted({r["catalog"] for r in rows if r["catalog"]})
    return {"schema_version": 1, "releases": rows, "transitions": transitions, "cases": case_changes(transitions),
            "drops": drops(rows, percent), "drop_percent": percent, "not_installed": not_installed,
            "catalogs": catalogs}


# ---------------------------------------------------------------- writing

def write_trend(sources, out, drop_percent=DEFAULT_DROP_PERCENT):
    """Write the trend of every target found in `sources` into `out` (one target: the files at
    the top; several: a sub-folder per target). Returns {"releases": n, "drops": [...]}."""
    runs, not_installed = load_history(sources)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    releases, all_drops = 0, []
    for target, target_runs in runs.items():
        folder = out if len(runs) == 1 else out / re.sub(r"[^A-Za-z0-9._-]+", "_", target)
        folder.mkdir(parents=True, exist_ok=True)
        trend = build_trend(target_runs, not_installed.get(target, {}), drop_percent)
        trend["target"] = target
        plot(trend, folder / "verdicts.svg", folder / "verdicts.png")
        public = {k: v for k, v in trend.items() if k != "transitions"}
        public["transitions"] = [{k: v for k, v in t.items() if k != "_result"} for t in trend["transitions"]]
        (folder / "trend.json").write_text(json.dumps(public, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        (folder / "trend.md").write_text(render_markdown(trend), encoding="utf-8")
        (folder / "trend.html").write_text(render_html(trend, (folder / "verdicts.svg").read_text()), encoding="utf-8")
        releases += len(target_runs)
        all_drops += [dict(d, target=target) for d in trend["drops"]]
    return {"releases": releases, "drops": all_drops}


def plot(trend, svg_path, png_path):
    """A stacked bar of the verdict counts of each release (matplotlib, static files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "conformance-history"  # the same data gives the same file
    rows = trend["releases"]
    labels = [r["label"] for r in rows]
    figure, axes = plt.subplots(figsize=(max(6.0, 0.55 * len(rows) + 2), 4.2))
    bottom = [0] * len(rows)
    for verdict in VERDICTS:
        values = [r["totals"][verdict] for r in rows]
        if any(values):
            axes.bar(labels, values, bottom=bottom, color=COLORS[verdict], label=verdict, width=0.7)
            bottom = [b + v for b, v in zip(bottom, values)]
    dropped = {d["release"] for d in trend["drops"]}
    for i, label in enumerate(labels):
        if label in dropped:
            axes.annotate("DROP", (i, bottom[i]), ha="center", va="bottom", color="#c62828", fontweight="bold")
    axes.set_ylabel("cases")
    axes.set_title(f"{trend.get('target', '')}: verdicts per release")
    axes.tick_params(axis="x", labelrotation=60)
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    figure.tight_layout()
    figure.savefig(svg_path, metadata={"Date": None})
    figure.savefig(png_path, dpi=110, metadata={"Software": None})
    plt.close(figure)


def _versions(row):
    found = dict(row["versions"])
    found.update({k: v for k, v in row["dependencies"].items() if k not in found})
    return ", ".join(f"{k} {v}" for k, v in sorted(found.items()))


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(trend):
    target = trend.get("target", "")
    lines = [f"# History: {target}", ""]
    if trend["drops"]:
        lines += ["> **SUDDEN DROP**", ">"]
        lines += [f"> - **{d['release']}**: {d['why']}" for d in trend["drops"]]
        lines.append("")
    rows = trend["releases"]
    lines += [f"{len(rows)} releases, oldest first; raw verdicts (no expectations file). "
              f"Catalog {', '.join(trend['catalogs']) or '?'}"
              + (" **(the releases ran different catalogs: a change may be the catalog's)**"
                 if len(trend["catalogs"]) > 1 else "") + ".", "",
              "![verdicts per release](verdicts.svg)", "",
              "## Releases", "",
              "As of: the newest upload among the release's pinned packages (the release itself, or the "
              "TensorFlow it runs with); its dependencies were resolved as of a week later.", "",
              "| release | as of | pass | fail | error | crash | timeout | unsupported | versions |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        t = r["totals"]
        label = r["label"] + (" (local build)" if r["local"] else "")
        lines.append(f"| {label} | {r['released'] or ''} | {t['pass']} | {t['fail']} | {t['error']} | {t['crash']} "
                     f"| {t['timeout']} | {t['unsupported']} | {_md(_versions(r))} |")
    if trend["not_installed"]:
        lines += ["", "Not run here:", ""]
        lines += [f"- {label}: {_md(why)}" for label, why in trend["not_installed"].items()]
    lines += ["", "## Changes, release by release", ""]
    titles = {"regressions": "newly failing", "fixed": "fixed", "changed_errors": "fails otherwise"}
    quiet = []
    for t in trend["transitions"]:
        c = t["counts"]
        if not any(c[k] for k in ("regressions", "fixed", "changed_errors", "changed", "added", "removed")):
            quiet.append(t["to"])
            continue
        parts = [f"{c[k]} {titles.get(k, k.replace('_', ' '))}" for k in
                 ("regressions", "fixed", "changed_errors", "changed", "added", "removed") if c[k]]
        lines += [f"### {t['from']} → {t['to']}: {', '.join(parts)}", "",
                  "| change | cases | cause | detail | representative case |", "|---|---:|---|---|---|"]
        for kind in ("regressions", "changed_errors", "fixed"):
            for g in t["groups"][kind]:
                lines.append(f"| {titles[kind]} | {g['count']} | {_md(g['headline'])} | {_md(g['detail'][:200])} "
                             f"| `{_md(g['representative'])}` |")
        for change, info in t["other_changes"].items():
            lines.append(f"| {change} | {info['count']} | | | `{_md(info['example'])}` |")
        if c["added"] or c["removed"]:
            lines.append(f"| added / removed | {c['added']} / {c['removed']} | the catalogs differ | | |")
        lines.append("")
    if quiet:
        lines += [f"No verdict changed in: {', '.join(quiet)}.", ""]
    lines += ["## Cases whose verdict changed", "",
              "| case | release | before | after | reason before | reason after |", "|---|---|---|---|---|---|"]
    for case_id, changes in trend["cases"].items():
        for ch in changes:
            lines.append(f"| `{_md(case_id)}` | {ch['from']} → {ch['release']} | {ch['before']} | {ch['after']} "
                         f"| {_md(ch['reason_before'][:160])} | {_md(ch['reason_after'][:160])} |")
    lines.append("")
    return "\n".join(lines)


def render_html(trend, svg):
    """The same content as trend.md, with the chart inline: one page, no other files."""
    e = html.escape
    target = trend.get("target", "")
    parts = [f"<!doctype html><html lang='en'><meta charset='utf-8'><title>History: {e(target)}</title>",
             "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;"
             "margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
             "td.n{text-align:right}.drop{background:#c62828;color:#fff;padding:1em;font-size:1.2em}"
             "code{font-size:.9em}</style>", f"<h1>History: {e(target)}</h1>"]
    if trend["drops"]:
        parts.append("<div class='drop'><strong>SUDDEN DROP</strong><ul>" +
                     "".join(f"<li><strong>{e(d['release'])}</strong>: {e(d['why'])}</li>" for d in trend["drops"]) +
                     "</ul></div>")
    parts.append(f"<p>{len(trend['releases'])} releases, oldest first; raw verdicts. "
                 f"Catalog {e(', '.join(trend['catalogs']))}.</p>")
    parts.append(re.sub(r"^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>)?", "", svg.strip()))
    parts.append("<h2>Releases</h2><table><tr><th>release</th><th>as of</th>" +
                 "".join(f"<th>{v}</th>" for v in VERDICTS) + "<th>versions</th></tr>")
    for r in trend["releases"]:
        parts.append(f"<tr><td>{e(r['label'])}{' (local build)' if r['local'] else ''}</td>"
                     f"<td>{e(r['released'] or '')}</td>" +
                     "".join(f"<td class='n'>{r['totals'][v]}</td>" for v in VERDICTS) +
                     f"<td>{e(_versions(r))}</td></tr>")
    parts.append("</table>")
    if trend["not_installed"]:
        parts.append("<p>Not run here:</p><ul>" + "".join(
            f"<li>{e(k)}: {e(v)}</li>" for k, v in trend["not_installed"].items()) + "</ul>")
    parts.append("<h2>Changes, release by release</h2>")
    titles = {"regressions": "newly failing", "fixed": "fixed", "changed_errors": "fails otherwise"}
    for t in trend["transitions"]:
        entries = [(titles[k], g) for k in ("regressions", "changed_errors", "fixed") for g in t["groups"][k]]
        if not entries and not t["other_changes"]:
            continue
        parts.append(f"<h3>{e(t['from'])} → {e(t['to'])}</h3><table><tr><th>change</th><th>cases</th>"
                     "<th>cause</th><th>detail</th><th>representative case</th></tr>")
        for title, g in entries:
            parts.append(f"<tr><td>{title}</td><td class='n'>{g['count']}</td><td>{e(g['headline'])}</td>"
                         f"<td>{e(g['detail'])}</td><td><code>{e(g['representative'])}</code></td></tr>")
        for change, info in t["other_changes"].items():
            parts.append(f"<tr><td>{e(change)}</td><td class='n'>{info['count']}</td><td></td><td></td>"
                         f"<td><code>{e(info['example'])}</code></td></tr>")
        parts.append("</table>")
    parts.append("<h2>Cases whose verdict changed</h2><table><tr><th>case</th><th>release</th><th>before</th>"
                 "<th>after</th><th>reason before</th><th>reason after</th></tr>")
    for case_id, changes in trend["cases"].items():
        for ch in changes:
            parts.append(f"<tr><td><code>{e(case_id)}</code></td><td>{e(ch['from'])} → {e(ch['release'])}</td>"
                         f"<td>{ch['before']}</td><td>{ch['after']}</td><td>{e(ch['reason_before'])}</td>"
                         f"<td>{e(ch['reason_after'])}</td></tr>")
    parts.append("</table></html>\n")
    return "\n".join(parts)

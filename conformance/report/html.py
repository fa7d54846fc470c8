"""`conformance matrix`: several targets side by side, as static HTML and Markdown.

    conformance matrix --targets torch,flax,onnx,tfjs --out matrix/ [--cases PATH] [-k EXPR]
    conformance matrix --from-reports rep-a/,rep-b/ --out matrix/

Running: each target goes through the ordinary runner, in its own worker
process, and gets its own report folder `OUT/reports/<target>/` (report.json,
summary.md, junit.xml), exactly as `conformance run` writes it. The matrix is
then built from those report.json files and nothing else, so that
`--from-reports` gives the same pages from folders written earlier.

Two things the pages show that report.json does not hold are derived, never
invented:
* a case's config, inputs and expected values come from the case itself
  (cases are deterministic; the expected values are the reference's), found
  by id in the case files the report names; a case no longer in the catalog
  shows its verdict only;
* a target's actual values, for cases that did not pass, come from
  `observations.json` beside report.json, which the matrix writes when it
  runs the target itself: it plays the failing cases once more in a fresh
  worker and keeps what the target answered (targets are deterministic). A
  report folder from `conformance run` has none: its pages show the verdict.

Pages: OUT/index.html (feature areas x targets, each cell linking to the
target's list filtered to that area), OUT/targets/<t>.html (every case of one
target, failing first, with filters by status, area and text and the failures
grouped by cause), OUT/cases/<t>/<case>.html (drill-down, with matplotlib
plots of the error where the output is an array), OUT/agreement.html (per
case, which targets agree with the reference; the cases only one target
fails), OUT/badges/<t>.svg (pass rate and catalog version) and OUT/matrix.md.
"""

import hashlib
import json
import os
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np

from conformance.arrays import Observed, from_wire
from conformance.report import grouping, plots
from conformance.report.record import FAILING, load
from conformance.report.text import md_code, md_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
COLUMNS = ("pass", "fail", "unsupported", "other")  # other: error, crash, timeout, xfail, xpass
# A target page lists the worst first.
ORDER = {s: i for i, s in enumerate(("crash", "timeout", "error", "fail", "xpass", "xfail", "unsupported", "pass"))}


# ====================================================================== building

def slug(text):
    """A file name for a target or case id (stable, collision-safe)."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "x"
    if clean != text:
        clean += "-" + hashlib.sha1(text.encode()).hexdigest()[:8]
    return clean


def area(case_id):
    return case_id.split("/", 1)[0] if "/" in case_id else case_id.split("[", 1)[0]


def column(status):
    return status if status in ("pass", "fail", "unsupported") else "other"


class Target:
    def __init__(self, folder):
        folder = Path(folder)
        self.folder = folder if folder.is_dir() else folder.parent
        self.report = load(folder)  # a ReportError (one line) for anything that is not a report
        # What the pages show of a report that lacks it (an older or a hand-made one): "unknown".
        target = {"profile": None, **self.report["target"]}
        implementation = target.get("implementation")
        target["implementation"] = {"versions": {}, **(implementation if isinstance(implementation, dict) else {})}
        self.report["target"] = target
        self.name = self.report["target"]["name"]
        self.slug = slug(self.name)
        self.cases = {c["id"]: c for c in self.report["cases"]}
        self.observations = _observations(self.folder / "observations.json")


def _observations(path):
    """observations.json's cases, or {} when there is none or it is not one (the pages show verdicts)."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))["cases"] if path.is_file() else {}
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return found if isinstance(found, dict) else {}


def build(folders, out, all_pages=True, cases=None):
    """Write the HTML pages and matrix.md from report folders; return the index path.
    With all_pages=False only the cases that did not pass or were unsupported get a drill-down page
    (what a published matrix keeps). `cases`: the case files (paths) the drill-downs take configs and
    expected values from, default the suite's catalog; never the paths a report names."""
    import jinja2

    out = Path(out)
    targets = [Target(f) for f in folders]
    seen = Counter(t.slug for t in targets)
    for i, t in enumerate(targets):  # the same target twice (two runs): keep both, apart
        if seen[t.slug] > 1:
            t.slug = f"{t.slug}-{i + 1}"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    areas = sorted({area(cid) for t in targets for cid in t.cases})
    table = {a: {t.slug: Counter(column(c["status"]) for cid, c in t.cases.items() if area(cid) == a)
                 for t in targets} for a in areas}
    totals = {t.slug: Counter(column(c["status"]) for c in t.cases.values()) for t in targets}
    catalog = _Catalog(cases)
    (out / "targets").mkdir(parents=True, exist_ok=True)
    badges = write_badges(targets, totals, out)
    history, trends = release_history(targets, out)
    index = out / "index.html"
    index.write_text(env.get_template("matrix_index.html").render(
        targets=targets, areas=areas, table=table, totals=totals, columns=COLUMNS, badges=badges,
        history=history, trends=trends, generated=time.strftime("%Y-%m-%d %H:%M:%S")), encoding="utf-8")
    (out / "agreement.html").write_text(env.get_template("matrix_agreement.html").render(
        **agreement(targets, all_pages)), encoding="utf-8")
    for t in targets:
        case_dir = out / "cases" / t.slug
        case_dir.mkdir(parents=True, exist_ok=True)
        rows = []
        for cid in sorted(t.cases, key=lambda i: (ORDER.get(t.cases[i]["status"], 0), i)):
            record = t.cases[cid]
            page = f"{slug(cid)}.html"
            if not all_pages and record["status"] in ("pass", "unsupported", "xfail"):
                rows.append({"record": record, "area": area(cid), "href": None})
                continue
            rows.append({"record": record, "area": area(cid), "href": f"../cases/{t.slug}/{page}"})
            detail = catalog.detail(t.report, cid, record, t.observations.get(cid), case_dir / slug(cid))
            (case_dir / page).write_text(env.get_template("matrix_case.html").render(
                target=t, record=record, detail=detail), encoding="utf-8")
        groups = grouping.group_report(t.report, catalog.by_id())
        pages = {row["record"]["id"]: row["href"] for row in rows}
        (out / "targets" / f"{t.slug}.html").write_text(env.get_template("matrix_target.html").render(
            target=t, rows=rows, totals=totals[t.slug], columns=COLUMNS, areas=sorted({r["area"] for r in rows}),
            statuses=[s for s in ORDER if any(r["record"]["status"] == s for r in rows)],
            groups=groups, pages=pages, badge=badges[t.slug]), encoding="utf-8")
    (out / "matrix.md").write_text(markdown(targets, areas, table, totals, out), encoding="utf-8")
    return index


def _relative(folder, out):
    """A report folder as the matrix names it: relative to the matrix when it is inside it."""
    try:
        return str(Path(folder).resolve().relative_to(Path(out).resolve())) if out else str(folder)
    except ValueError:
        return str(folder)


def markdown(targets, areas, table, totals, out=None):
    head = "| area | " + " | ".join(f"{md_text(t.name, 200)} (pass/fail/unsupported/other)" for t in targets) + " |"
    lines = ["# Conformance matrix", "",
             "Counts are pass / fail / unsupported / other (error, crash, timeout). "
             "Built from report.json files: " + ", ".join(f"`{_relative(t.folder, out)}`" for t in targets) + ".", "",
             head, "|" + "---|" * (len(targets) + 1)]
    for a in areas + ["total"]:
        counts = totals if a == "total" else table[a]
        cells = [" / ".join(str(counts[t.slug].get(c, 0)) for c in COLUMNS) for t in targets]
        name = "**total**" if a == "total" else md_text(a, 200)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for t in targets:
        impl = (t.report["target"].get("implementation") or {})
        versions = ", ".join(f"{k} {v}" for k, v in (impl.get("versions") or {}).items())
        lines += ["", f"## {md_text(t.name, 200)}", "", f"Versions: {md_text(versions or 'unknown', 1000)}.", ""]
        bad = [c for c in t.report["cases"] if c["status"] not in ("pass", "unsupported")]
        if not bad:
            lines.append("No failing case.")
        for c in bad:
            lines.append(f"- **{md_text(c['status'], 20)}** {md_code(c['id'])}: {md_text(c.get('message') or '', 300)}")
        unsupported = Counter((c.get("message") or "").split(": ", 1)[-1][:120]
                              for c in t.report["cases"] if c["status"] == "unsupported")
        if unsupported:
            lines += ["", "Unsupported, by reason:", ""]
            lines += [f"- {n} × {md_text(reason, 120)}" for reason, n in unsupported.most_common()]
    return "\n".join(lines) + "\n"


def write_badges(targets, totals, out):
    """OUT/badges/<t>.svg for each target; returns {slug: path relative to OUT}."""
    folder = out / "badges"
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for t in targets:
        catalog = t.report.get("catalog") or {}
        version = catalog.get("release") and f"{catalog['release']}+{str(catalog.get('digest', ''))[:8]}".rstrip("+")
        (folder / f"{t.slug}.svg").write_text(plots.pass_badge(t.name, totals[t.slug], version), encoding="utf-8")
        written[t.slug] = f"badges/{t.slug}.svg"
    return written


def release_history(targets, out):
    """Links to the release history pages (`conformance history`, reports/history/ beside the
    matrix) where they exist: (its index or None, {target slug: its trend page})."""
    for folder in (out.parent / "history", out / "history"):
        if folder.is_dir():
            index = folder / "index.html"
            trends = {t.slug: page for t in targets
                      if (page := folder / re.sub(r"[^A-Za-z0-9._-]+", "-", t.name) / "trend.html").is_file()}
            def link(page):
                return Path(os.path.relpath(page.resolve(), out.resolve())).as_posix()

            return (link(index) if index.is_file() else None, {k: link(v) for k, v in trends.items()})
    return None, {}


def agreement(targets, all_pages=True):
    """Per case, which targets agree with the reference (pass) and which do not; the cases only
    one target fails. Like test262's "passed by N engines"."""
    judged = [t for t in targets if t.name != "reference"]
    ids = sorted({cid for t in judged for cid in t.cases})
    rows, only_one, passed_by = [], [], Counter()
    for cid in ids:
        cells = {t.slug: t.cases.get(cid, {}).get("status") for t in judged}
        ran = [s for s in cells.values() if s is not None and s != "unsupported"]
        agree = sum(1 for s in ran if s in ("pass", "xpass"))
        if ran:
            passed_by[len(ran) - agree] += 1
        failing = [t for t in judged if cells[t.slug] in FAILING or cells[t.slug] == "xfail"]
        links = {t.slug: f"cases/{t.slug}/{slug(cid)}.html" for t in judged if cells[t.slug] is not None
                 and (all_pages or cells[t.slug] not in ("pass", "unsupported", "xfail"))}
        if len(failing) == 1 and len(ran) > 1:
            only_one.append({"id": cid, "target": failing[0], "record": failing[0].cases[cid],
                             "href": links.get(failing[0].slug)})
        if agree < len(ran):
            rows.append({"id": cid, "area": area(cid), "cells": cells, "agree": agree, "ran": len(ran), "links": links})
    rows.sort(key=lambda r: (r["agree"] / r["ran"], r["id"]))
    return {"targets": judged, "rows": rows, "only_one": only_one, "total": len(ids),
            "all_agree": passed_by.get(0, 0), "failed_by": sorted(passed_by.items()),
            "column": column}


# ====================================================================== drill-down

class _Catalog:
    """Cases by id from the case files the command was given (default: the suite's catalog),
    loaded once; expected values on demand. A report never chooses which files are read: its
    `options.cases` is a record of the run, not an instruction."""

    def __init__(self, paths=None):
        self.paths = list(paths) if paths else None
        self._cases = None

    def case(self, report, case_id):
        return self.by_id().get(case_id)

    def by_id(self):
        from conformance.catalog.cases import CaseFileError, load_cases

        if self._cases is None:
            try:
                self._cases = {c.id: c for c in load_cases(self.paths)}
            except (CaseFileError, OSError):
                self._cases = {}
        return self._cases

    def detail(self, report, case_id, record, observations, stem=None):
        """What a case page shows; with `stem`, the plots are written as stem-*.png beside it."""
        case = self.case(report, case_id)
        detail = {"found": case is not None, "steps": [], "plot": None, "plots": [], "config": None, "source": None}
        if case is None:
            return detail
        concrete = case.concrete()
        detail["config"] = json.dumps(concrete["config"], indent=1, default=str)
        detail["source"] = grouping.source_of(case)
        detail["description"] = case.description
        expected = None
        if record["status"] != "pass":
            try:
                from conformance.judge.expected import expected_outcome

                expected, _ = expected_outcome(concrete)
            except Exception as exc:  # noqa: BLE001 - shown, not fatal
                detail["expected_error"] = f"{type(exc).__name__}: {exc}"
        actual = None
        if isinstance(observations, list):
            actual = from_wire(observations, observed=True)
        for i, step in enumerate(concrete["steps"]):
            row = {"index": i, "op": step["op"], "args": show(step["args"]),
                   "expect": json.dumps(step.get("expect"), default=str) if step.get("expect") else "",
                   "expected": show_obs(expected[i]) if expected and i < len(expected) else None,
                   "actual": show_obs(actual[i]) if actual and i < len(actual) else None,
                   "failed": record.get("step") == i}
            detail["steps"].append(row)
            if stem and record.get("step") == i and expected and actual and i < len(actual) and step["op"] == "call":
                detail["plots"] = plots.error_plots(expected[i], actual[i], stem)
        return detail


def show(value, depth=0):
    """Arguments as text: arrays with shape, dtype and (rounded) values."""
    if isinstance(value, Observed):
        return f"{value.dtype} {list(value.array.shape)}\n{_array_text(value.array)}"
    if isinstance(value, np.ndarray):
        return f"{value.dtype} {list(value.shape)}\n{_array_text(value)}"
    if isinstance(value, dict):
        return "\n".join(f"{k}: {show(v, depth + 1)}" for k, v in value.items() if v is not None) or "{}"
    if isinstance(value, list):
        return "[" + ", ".join(show(v, depth + 1) for v in value) + "]"
    return json.dumps(value, default=str)


def _array_text(array):
    if array.dtype == bool:
        return np.array2string(array.astype(int), threshold=200, max_line_width=100)
    return np.array2string(np.asarray(array, dtype=np.float64), precision=5, threshold=200,
                           max_line_width=100, suppress_small=True)


def show_obs(obs):
    if obs is None:
        return None
    if "ok" in obs:
        return show(obs["ok"])
    if "raised" in obs:
        r = obs["raised"]
        return f"raised {r.get('type')}: {r.get('message')}"
    if "unsupported" in obs:
        return f"unsupported: {obs['unsupported']}"
    return f"skipped: {obs.get('skipped')}"

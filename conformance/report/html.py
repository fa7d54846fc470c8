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

Pages: OUT/index.html (feature areas x targets), OUT/targets/<t>.html (every
case of one target), OUT/cases/<t>/<case>.html (drill-down, with an inline
SVG of the error along the sequence where the output is a sequence), and
OUT/matrix.md.
"""

import hashlib
import html
import json
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np

from conformance.arrays import Observed, from_wire, to_wire
from conformance.report.record import load, write_json

TEMPLATES = Path(__file__).resolve().parent / "templates"
COLUMNS = ("pass", "fail", "unsupported", "other")  # other: error, crash, timeout, xfail, xpass


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
        self.report = load(folder)
        self.name = self.report["target"]["name"]
        self.slug = slug(self.name)
        self.cases = {c["id"]: c for c in self.report["cases"]}
        path = self.folder / "observations.json"
        self.observations = json.loads(path.read_text(encoding="utf-8"))["cases"] if path.is_file() else {}


def build(folders, out, all_pages=True):
    """Write the HTML pages and matrix.md from report folders; return the index path.
    With all_pages=False only the cases that did not pass or were unsupported get a drill-down page
    (what a published matrix keeps)."""
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
    catalog = _Catalog()
    (out / "targets").mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    index.write_text(env.get_template("matrix_index.html").render(
        targets=targets, areas=areas, table=table, totals=totals, columns=COLUMNS,
        generated=time.strftime("%Y-%m-%d %H:%M:%S")), encoding="utf-8")
    for t in targets:
        case_dir = out / "cases" / t.slug
        case_dir.mkdir(parents=True, exist_ok=True)
        rows = []
        for cid in sorted(t.cases):
            record = t.cases[cid]
            page = f"{slug(cid)}.html"
            if not all_pages and record["status"] in ("pass", "unsupported", "xfail"):
                rows.append({"record": record, "area": area(cid), "href": None})
                continue
            rows.append({"record": record, "area": area(cid), "href": f"../cases/{t.slug}/{page}"})
            detail = catalog.detail(t.report, cid, record, t.observations.get(cid))
            (case_dir / page).write_text(env.get_template("matrix_case.html").render(
                target=t, record=record, detail=detail), encoding="utf-8")
        (out / "targets" / f"{t.slug}.html").write_text(env.get_template("matrix_target.html").render(
            target=t, rows=rows, totals=totals[t.slug], columns=COLUMNS), encoding="utf-8")
    (out / "matrix.md").write_text(markdown(targets, areas, table, totals, out), encoding="utf-8")
    return index


def _relative(folder, out):
    """A report folder as the matrix names it: relative to the matrix when it is inside it."""
    try:
        return str(Path(folder).resolve().relative_to(Path(out).resolve())) if out else str(folder)
    except ValueError:
        return str(folder)


def markdown(targets, areas, table, totals, out=None):
    head = "| area | " + " | ".join(f"{t.name} (pass/fail/unsupported/other)" for t in targets) + " |"
    lines = ["# Conformance matrix", "",
             "Counts are pass / fail / unsupported / other (error, crash, timeout). "
             "Built from report.json files: " + ", ".join(f"`{_relative(t.folder, out)}`" for t in targets) + ".", "",
             head, "|" + "---|" * (len(targets) + 1)]
    for a in areas + ["total"]:
        counts = totals if a == "total" else table[a]
        cells = [" / ".join(str(counts[t.slug].get(c, 0)) for c in COLUMNS) for t in targets]
        name = "**total**" if a == "total" else a
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for t in targets:
        impl = (t.report["target"].get("implementation") or {})
        versions = ", ".join(f"{k} {v}" for k, v in (impl.get("versions") or {}).items())
        lines += ["", f"## {t.name}", "", f"Versions: {versions or 'unknown'}.", ""]
        bad = [c for c in t.report["cases"] if c["status"] not in ("pass", "unsupported")]
        if not bad:
            lines.append("No failing case.")
        for c in bad:
            message = (c.get("message") or "").replace("|", "\\|").replace("\n", " ")
            lines.append(f"- **{c['status']}** `{c['id']}`: {message[:300]}")
        unsupported = Counter((c.get("message") or "").split(": ", 1)[-1][:120]
                              for c in t.report["cases"] if c["status"] == "unsupported")
        if unsupported:
            lines += ["", "Unsupported, by reason:", ""]
            lines += [f"- {n} × {reason}" for reason, n in unsupported.most_common()]
    return "\n".join(lines) + "\n"


# ====================================================================== drill-down

class _Catalog:
    """Cases by id, loaded once per set of case paths a report names; expected values on demand."""

    def __init__(self):
        self._loaded = {}

    def case(self, report, case_id):
        from conformance.catalog.cases import CaseFileError, load_cases

        paths = tuple((report.get("options") or {}).get("cases") or ["<suite cases>"])
        if paths not in self._loaded:
            try:
                chosen = None if paths == ("<suite cases>",) else list(paths)
                self._loaded[paths] = {c.id: c for c in load_cases(chosen)}
            except (CaseFileError, OSError):
                self._loaded[paths] = {}
        return self._loaded[paths].get(case_id)

    def detail(self, report, case_id, record, observations):
        case = self.case(report, case_id)
        detail = {"found": case is not None, "steps": [], "plot": None, "config": None, "source": None}
        if case is None:
            return detail
        concrete = case.concrete()
        detail["config"] = json.dumps(concrete["config"], indent=1, default=str)
        detail["source"] = case.source
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
            if detail["plot"] is None and expected and actual and i < len(actual) and step["op"] == "call":
                detail["plot"] = error_plot(expected[i], actual[i])
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


def error_plot(expected, actual, width=360, height=120):
    """Inline SVG: the largest absolute error at each timestep of a sequence output, or None."""
    e, a = expected.get("ok"), actual.get("ok")
    if not (isinstance(e, list) and isinstance(a, list) and e and a):
        return None
    e, a = e[0], a[0]
    if not (isinstance(e, Observed) and isinstance(a, Observed)) or e.array.ndim != 3 or e.array.shape != a.array.shape:
        return None
    with np.errstate(invalid="ignore"):
        err = np.abs(a.array.astype(np.float64) - e.array.astype(np.float64))
    # The largest finite error at each step (a step with none finite plots as zero).
    per_step = np.where(np.isfinite(err), err, 0.0).max(axis=(0, 2)) if np.isfinite(err).any() else None
    if per_step is None or len(per_step) < 2:
        return None
    top = float(np.nanmax(per_step)) or 1.0
    pad = 28
    xs = [pad + i * (width - pad - 8) / (len(per_step) - 1) for i in range(len(per_step))]
    ys = [height - pad - (0 if np.isnan(v) else v / top) * (height - pad - 8) for v in per_step]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2"><title>t={i}: {v:.3g}</title></circle>'
                   for i, (x, y, v) in enumerate(zip(xs, ys, per_step)))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="max abs error per timestep">'
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - 8}" y2="{height - pad}" stroke="#888"/>'
            f'<line x1="{pad}" y1="8" x2="{pad}" y2="{height - pad}" stroke="#888"/>'
            f'<text x="2" y="14" font-size="10">{html.escape(f"{top:.2g}")}</text>'
            f'<text x="2" y="{height - pad}" font-size="10">0</text>'
            f'<text x="{width / 2:.0f}" y="{height - 6}" font-size="10" text-anchor="middle">'
            f'timestep (processing order), max |actual - expected|</text>'
            f'<polyline fill="none" stroke="#c0392b" stroke-width="1.5" points="{points}"/>{dots}</svg>')

"""The matrix report, built from two small real runs (reference and Keras 3 on NumPy)."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from conformance.report import html as matrix_report
from conformance.tools import matrix as matrix_tool

CASES = """
defaults:
  profiles: [keras3]
  spec: [{page: keras3, item: units, observed: matrix report test}]
cases:
  - id: forward/sequences
    description: return_sequences.
    layer: {units: 3, return_sequences: true}
    arrays:
      x: {random: uniform, shape: [2, 5, 4], low: -1, high: 1, seed: 1}
    weights: {random: normal, seed: 3, scale: 0.5}
    steps:
      - call: {inputs: x}
  - id: weights/count
    description: count_params after build.
    layer: {units: 3}
    steps:
      - build: {input_shape: [2, 5, 4]}
      - count_params:
        expect: {equals: 24}
  - id: mask/leading
    description: a leading mask.
    layer: {units: 3, return_sequences: true}
    arrays:
      x: {random: uniform, shape: [2, 6, 4], low: -1, high: 1, seed: 7}
      m: {mask: leading, shape: [2, 6]}
    weights: {random: normal, seed: 8, scale: 0.5}
    steps:
      - call: {inputs: x, mask: m}
"""


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.tables = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "table":
            self.tables.append(attrs.get("id"))


def parse(path):
    parser = Links()
    parser.feed(Path(path).read_text(encoding="utf-8"))
    return parser


def check_links(root):
    """Every relative link of every page names a file that exists; returns the pages seen."""
    pages = sorted(Path(root).rglob("*.html"))
    for page in pages:
        for href in parse(page).links:
            if re.match(r"^[a-z]+:", href) or href.startswith("#"):
                continue
            target = (page.parent / href.split("#")[0]).resolve()
            assert target.is_file(), f"{page}: link {href} -> {target} does not exist"
    return pages


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix")
    cases = root / "cases.yaml"
    cases.write_text(CASES)
    args = SimpleNamespace(targets="reference,keras:numpy", from_reports=None, out=str(root / "out"),
                           cases=[str(cases)], keyword=None, timeout=120.0, quiet=True)
    assert matrix_tool.main(args) == 0
    return root


def test_index_has_the_table_and_working_links(matrix):
    out = matrix / "out"
    index = parse(out / "index.html")
    assert "matrix" in index.tables
    text = (out / "index.html").read_text()
    for area in ("forward", "mask", "weights"):
        assert f"<th>{area}</th>" in text
    assert "targets/reference.html" in index.links
    pages = check_links(out)
    assert len(pages) == 1 + 1 + 2 + 2 * 3  # index, agreement, two target pages, a drill-down per case per target


def test_reports_are_the_source(matrix):
    out = matrix / "out"
    for name in ("reference", "keras_numpy-"):
        folder = next(p for p in (out / "reports").iterdir() if p.name.startswith(name))
        report = json.loads((folder / "report.json").read_text())
        assert report["summary"]["total"] == 3
    md = (out / "matrix.md").read_text()
    assert "| forward |" in md and "| **total** |" in md


def test_from_reports_rebuilds_the_same_table(matrix, tmp_path):
    reports = matrix / "out" / "reports"
    folders = [reports / "reference", next(reports.glob("keras_numpy-*"))]  # the order of --targets
    args = SimpleNamespace(targets=None, from_reports=",".join(str(f) for f in folders), out=str(tmp_path),
                           cases=None, keyword=None, timeout=60.0, quiet=True)
    assert matrix_tool.main(args) == 0
    assert (tmp_path / "matrix.md").read_text().split("\n", 4)[4] == \
        (matrix / "out" / "matrix.md").read_text().split("\n", 4)[4]
    check_links(tmp_path)


def test_failing_case_page_shows_expected_and_actual(tmp_path):
    # A report with one failing case (as from another target), plus the values it sent.
    from conformance.arrays import Observed, to_wire
    from conformance.catalog.cases import load_cases
    from conformance.judge.expected import expected_outcome
    from conformance.report.record import write_json

    cases_file = tmp_path / "cases.yaml"
    cases_file.write_text(CASES)
    case = next(c for c in load_cases([cases_file]) if c.id == "forward/sequences")
    expected, _ = expected_outcome(case.concrete())
    actual = [dict(o) for o in expected]
    out = expected[-1]["ok"][0]
    actual[-1] = {"ok": [Observed(out.array * 1.1, out.dtype)]}
    folder = tmp_path / "rep"
    folder.mkdir()
    write_json(folder / "report.json", {
        "target": {"name": "fake", "profile": "keras3", "implementation": {"versions": {"fake": "1"}}},
        "options": {"cases": [str(cases_file)]}, "summary": {"total": 1, "fail": 1},
        "cases": [{"id": case.id, "status": "fail", "message": "values differ", "step": len(expected) - 1,
                   "op": "call"}]})
    write_json(folder / "observations.json", {"cases": {case.id: to_wire(actual)}})
    matrix_report.build([folder], tmp_path / "m", cases=[cases_file])  # case files: the command's, not the report's
    page = next((tmp_path / "m" / "cases" / "fake").glob("*.html")).read_text()
    assert "expected (reference)" in page and "actual (fake)" in page
    assert "-heatmap.png" in page and "-unit.png" in page  # the error plots, files beside the page
    assert len(list((tmp_path / "m" / "cases" / "fake").glob("*.png"))) == 2
    check_links(tmp_path / "m")


def _chromium():
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


# CI installs Chromium where it can and then says so (CONFORMANCE_CI_CHROMIUM=1): there a missing
# browser fails this test instead of skipping it.
_REQUIRED = __import__("os").environ.get("CONFORMANCE_CI_CHROMIUM") == "1"


@pytest.mark.skipif(_chromium() is None and not _REQUIRED, reason="no Chromium on PATH (Debian: apt-get install chromium)")
def test_pages_load_in_a_real_headless_browser(matrix, tmp_path):
    """Chromium loads the index, shows its table, and every page linked from it loads too."""
    import subprocess

    assert _chromium(), "CI installed Chromium (CONFORMANCE_CI_CHROMIUM=1), but it is not on PATH"

    def dom(page):
        proc = subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-500:]
        return proc.stdout

    out = matrix / "out"
    index = dom(out / "index.html")
    assert '<table id="matrix"' in index and "<th>forward</th>" in index
    for href in sorted(set(parse(out / "index.html").links)):
        if re.match(r"^[a-z]+:", href) or href.startswith("#") or not href.split("#")[0].endswith(".html"):
            continue  # other files (matrix.md) are checked to exist by check_links
        page = dom((out / href.split("#")[0]).resolve())
        assert "ERR_FILE_NOT_FOUND" not in page and "<table" in page, href

"""The matrix pages in a real headless Chromium: screenshots, and the filters at work.

The matrix is built from three small real runs: the reference and two ports with
one planted bug each (go_backwards un-reversed; relu leaking), so that there are
failures with actual values (the plots), cases only one target fails (the
agreement view) and areas to filter by. The screenshots are written to
$MATRIX_SCREENSHOTS when it is set (to look at them), else to a temporary folder.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conformance.tools import matrix as matrix_tool

DATA = Path(__file__).resolve().parent / "data"
TARGETS = ["reference", f"{DATA / 'go_backwards_bug.py'}:buggy", f"{DATA / 'planted_bug.py'}:buggy"]
KEYWORD = "mask/activations[activation=relu, or go_backwards/first_output_is_last_input[activation=tanh,"


def chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    assert found, "the browser test needs Chromium on PATH (.ci/run installs it; Debian: apt-get install chromium)"
    return found


def browse(url, profile, *flags):
    proc = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         f"--user-data-dir={profile}", "--virtual-time-budget=3000", *flags, url],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-800:]
    return proc.stdout


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    out = tmp_path_factory.mktemp("matrix")
    args = SimpleNamespace(targets=",".join(TARGETS), from_reports=None, out=str(out), cases=None,
                           keyword=KEYWORD, timeout=120.0, quiet=True, failing_pages_only=True)
    assert matrix_tool.main(args) == 0
    return out


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = Path(os.environ.get("MATRIX_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def target_page(matrix, name):
    return next(p for p in (matrix / "targets").glob("*.html") if name in p.name)


def screenshot(url, path, profile, height=1100):
    browse(url, profile, "--window-size=1280,%d" % height, f"--screenshot={path}")
    import matplotlib.image

    pixels = matplotlib.image.imread(path)[..., :3]
    assert pixels.shape[:2] == (height, 1280)
    # Not a blank page: a good share of the pixels are text, lines or colour.
    assert (pixels.min(axis=2) < 0.8).mean() > 0.02, path
    return pixels


def rows(dom):
    """(status, area, hidden) of each case row of a target page, from the DOM the browser built."""
    return [(m.group(2), m.group(3), m.group(1) is not None or m.group(4) is not None)
            for m in re.finditer(r'<tr( hidden="")? data-status="(\w+)" data-area="(\w+)"( hidden="")?', dom)]


def test_filters_work_from_the_url(matrix, tmp_path):
    page = target_page(matrix, "go_backwards_bug")
    everything = rows(page.read_text())  # as written: every row shown
    assert len(everything) >= 10 and not any(hidden for *_, hidden in everything)
    statuses = [s for s, _, _ in everything]
    assert statuses.index("fail") < statuses.index("pass") and "pass" not in statuses[:statuses.count("fail")]
    failing = rows(browse(page.as_uri() + "#status=fail", tmp_path / "p1", "--dump-dom"))
    shown = [(s, a) for s, a, hidden in failing if not hidden]
    assert shown and all(s == "fail" for s, _ in shown)
    assert len(shown) == statuses.count("fail")
    dom = browse(page.as_uri() + "#area=go_backwards&text=first_output", tmp_path / "p2", "--dump-dom")
    shown = [(s, a) for s, a, hidden in rows(dom) if not hidden]
    assert shown and all(a == "go_backwards" for _, a in shown) and len(shown) < len(everything)
    assert f"{len(shown)} of {len(everything)} cases shown" in dom
    # The index's area cells link to the filtered list.
    index = (matrix / "index.html").read_text()
    assert f'href="targets/{page.name}#area=mask"' in index


def test_screenshots_show_filters_heatmap_and_agreement(matrix, shots, tmp_path):
    screenshot((matrix / "index.html").as_uri(), shots / "index.png", tmp_path / "s1")
    page = target_page(matrix, "go_backwards_bug")
    screenshot(page.as_uri() + "#status=fail", shots / "target.png", tmp_path / "s2")
    assert 'id="filters"' in page.read_text() and "Failures by cause" in page.read_text()
    # A failing case's page: the heatmap and the unit plot are files beside it, shown as images.
    case_dir = matrix / "cases" / page.stem
    heatmaps = sorted(case_dir.glob("*-heatmap.png"))
    assert heatmaps, "no heatmap written for a failing call"
    case_page = heatmaps[0].with_name(heatmaps[0].name[:-len("-heatmap.png")] + ".html")
    html = case_page.read_text()
    assert f'src="{heatmaps[0].name}"' in html and "-unit.png" in html
    pixels = screenshot(case_page.as_uri(), shots / "case.png", tmp_path / "s4", height=1400)
    colourful = (np.ptp(pixels, axis=2) > 0.25).mean()  # the heatmap's colour scale
    assert colourful > 0.01
    agreement = matrix / "agreement.html"
    only_one = agreement.read_text().split('id="only-one"', 1)[1].split("</table>", 1)[0]
    assert "go_backwards/first_output_is_last_input" in only_one and "activation=relu" in only_one
    screenshot(agreement.as_uri(), shots / "agreement.png", tmp_path / "s6")
    badge = (matrix / "badges" / f"{page.stem}.svg").read_text()
    assert "% pass" in badge and badge.startswith("<svg")

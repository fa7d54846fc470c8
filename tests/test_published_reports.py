"""The published matrix (reports/matrix) is what a fresh run gives.

Regenerate it after changing cases or targets:
    conformance matrix -q --failing-pages-only --out reports/matrix \\
        --targets reference,keras:numpy,keras:tensorflow,keras:jax,keras:torch,tf_keras,torch,flax,onnx,tfjs
"""

import json
from pathlib import Path

import pytest

from conformance.report import html as matrix_report
from conformance.catalog.cases import load_cases
from conformance.run.runner import Runner
from conformance.catalog.select import select
from conformance.targets import resolve

PUBLISHED = Path(__file__).resolve().parents[1] / "reports" / "matrix"


def published(name):
    for folder in sorted((PUBLISHED / "reports").iterdir()):
        report = json.loads((folder / "report.json").read_text())
        if report["target"]["name"] == name:
            return report
    raise AssertionError(f"no published report for {name}")


@pytest.mark.parametrize("name", ["reference", "keras:numpy"])
def test_a_fresh_run_gives_the_published_verdicts(name):
    spec = resolve(name)
    cases, _ = select(load_cases(), profile=spec.profile)
    records = []
    Runner(spec, timeout=120).run(cases, records.append)
    fresh = {r.id: r.status for r in records}
    old = {c["id"]: c["status"] for c in published(name)["cases"]}
    assert fresh == old, sorted(set(fresh.items()) ^ set(old.items()))[:10]


def test_the_published_matrix_is_built_from_the_published_reports(tmp_path):
    folders = [PUBLISHED / "reports" / line.strip("` ,.")[len("reports/"):]
               for line in (PUBLISHED / "matrix.md").read_text().split("Built from report.json files: ")[1]
               .split("\n")[0].split(", ")]
    matrix_report.build(folders, tmp_path, all_pages=False)
    assert (tmp_path / "matrix.md").read_text().split("\n", 4)[4] == (PUBLISHED / "matrix.md").read_text().split("\n", 4)[4]
    names = [json.loads((f / "report.json").read_text())["target"]["name"] for f in folders]
    assert names == ["reference", "keras:numpy", "keras:tensorflow", "keras:jax", "keras:torch", "tf_keras",
                     "torch", "flax", "onnx", "tfjs"]


@pytest.mark.parametrize("name", ["keras:numpy", "keras:tensorflow", "keras:jax", "keras:torch", "tf_keras"])
def test_the_bundled_expectations_list_exactly_the_published_failures(name):
    """expectations/<target>.yaml, applied by default, names each case that the published run
    of that target does not pass, and nothing else: `conformance run --target T` exits 0 on
    the known deviations and 1 on anything new."""
    from conformance.report.expectations import Expectations, expectations_path
    from conformance.report.record import FAILING

    known = Expectations.load(expectations_path(Path(__file__).resolve().parents[1] / "expectations", name))
    cases = published(name)["cases"]
    failing = {c["id"] for c in cases if c["status"] in FAILING}
    listed = {c["id"] for c in cases if known.find(c["id"]) is not None}
    assert failing == listed, {"failing, not listed": sorted(failing - listed), "listed, passing": sorted(listed - failing)}

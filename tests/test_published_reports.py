"""The published matrix (reports/matrix) is what a fresh run gives.

Regenerate it after changing cases or targets (the OpenVINO targets need a longer timeout):
    conformance matrix -q --failing-pages-only --no-expectations --timeout 300 --out reports/matrix \\
        --targets reference,keras:numpy,keras:tensorflow,keras:jax,keras:torch,tf_keras,torch,flax,onnx,tfjs,\\
onnx-reference,mlx,keras:openvino,keras:numpy:predict,keras:tensorflow:predict,keras:tensorflow:jit,\\
keras:jax:predict,keras:jax:jit,keras:torch:predict,keras:openvino:predict,export:onnx,export:tf2onnx,\\
export:saved_model,export:litert,export:openvino
and keras:torch:jit on the quick tier alone (`--quick`: torch.compile costs 10 to 20 s a model), its report
folder placed after keras:torch:predict's. Or, to rebuild the pages from the report folders alone, `conformance matrix --from-reports DIRS --out reports/matrix`.
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
# The targets of the published matrix, in its column order.
PUBLISHED_TARGETS = [
    "reference", "keras:numpy", "keras:tensorflow", "keras:jax", "keras:torch", "tf_keras",
    "torch", "flax", "onnx", "tfjs", "onnx-reference", "mlx", "keras:openvino",
    "keras:numpy:predict", "keras:tensorflow:predict", "keras:tensorflow:jit", "keras:jax:predict",
    "keras:jax:jit", "keras:torch:predict", "keras:torch:jit", "keras:openvino:predict",
    "export:onnx", "export:tf2onnx", "export:saved_model", "export:litert", "export:openvino"]


def published(name):
    for folder in sorted((PUBLISHED / "reports").iterdir()):
        report = json.loads((folder / "report.json").read_text())
        if report["target"]["name"] == name:
            return report
    raise AssertionError(f"no published report for {name}")


_FRESH = {}


def fresh(name):
    """{case id: status} of a fresh run of `name` on the whole catalog (once per test session)."""
    if name not in _FRESH:
        spec = resolve(name)
        cases, _ = select(load_cases(), profile=spec.profile)
        records = []
        Runner(spec, timeout=120).run(cases, records.append)
        _FRESH[name] = {r.id: r.status for r in records}
    return _FRESH[name]


@pytest.mark.parametrize("name", ["reference", "keras:numpy"])
def test_a_fresh_run_gives_the_published_verdicts(name):
    old = {c["id"]: c["status"] for c in published(name)["cases"]}
    assert fresh(name) == old, sorted(set(fresh(name).items()) ^ set(old.items()))[:10]


def test_the_published_matrix_is_built_from_the_published_reports(tmp_path):
    folders = [PUBLISHED / "reports" / line.strip("` ,.")[len("reports/"):]
               for line in (PUBLISHED / "matrix.md").read_text().split("Built from report.json files: ")[1]
               .split("\n")[0].split(", ")]
    matrix_report.build(folders, tmp_path, all_pages=False)
    assert (tmp_path / "matrix.md").read_text().split("\n", 4)[4] == (PUBLISHED / "matrix.md").read_text().split("\n", 4)[4]
    names = [json.loads((f / "report.json").read_text())["target"]["name"] for f in folders]
    assert names == PUBLISHED_TARGETS


def test_the_bundled_expectations_list_exactly_the_failures_of_a_fresh_run():
    """expectations/keras-numpy.yaml, applied by default, names each case that a fresh run of the
    default target does not pass, and nothing else: `conformance run` exits 0 on the known
    deviations and 1 on anything new. (Recomputed here for the default target, which the test
    install runs in seconds; the other targets' files are checked by their own runs with
    `--strict`, which fails on a listed case that passes.)"""
    from conformance.report.expectations import Expectations, expectations_path
    from conformance.report.record import FAILING

    name = "keras:numpy"
    known = Expectations.load(expectations_path(Path(__file__).resolve().parents[1] / "expectations", name))
    statuses = fresh(name)
    failing = {i for i, status in statuses.items() if status in FAILING}
    listed = {i for i in statuses if known.find(i) is not None}
    assert failing == listed, {"failing, not listed": sorted(failing - listed), "listed, passing": sorted(listed - failing)}

"""The Keras targets, for real, on cases of behaviour that every Keras backend shares.

These frameworks are installed in CI: a missing one is a failure, not a skip.
Select them with `-m keras_backend` or `-m tf_keras`.
"""

import pytest

from conftest import DATA, assert_reports_agree, load_report, run_cli, statuses

SHARED = DATA / "shared.yaml"


def run_shared(target, folder):
    proc = run_cli("run", "--target", target, "--cases", SHARED, "-o", folder, "-q", timeout=600)
    report = load_report(folder)
    failing = {k: v for k, v in statuses(report).items() if v != "pass"}
    messages = {c["id"]: c.get("message") for c in report["cases"] if c["status"] != "pass"}
    assert proc.returncode == 0, (failing, messages, proc.stderr[-2000:])
    assert report["summary"]["total"] == 17 == report["summary"]["pass"]
    assert_reports_agree(folder)
    return report


@pytest.mark.keras_backend("numpy")
def test_keras_numpy(tmp_path):
    report = run_shared("keras:numpy", tmp_path)
    assert report["target"]["implementation"]["name"] == "keras:numpy"
    assert report["target"]["implementation"]["versions"]["keras"].startswith("3.")


@pytest.mark.keras_backend("tensorflow")
def test_keras_tensorflow(tmp_path):
    report = run_shared("keras:tensorflow", tmp_path)
    assert "tensorflow" in report["target"]["implementation"]["versions"]


@pytest.mark.keras_backend("jax")
def test_keras_jax(tmp_path):
    report = run_shared("keras:jax", tmp_path)
    assert "jax" in report["target"]["implementation"]["versions"]


@pytest.mark.keras_backend("torch")
def test_keras_torch(tmp_path):
    report = run_shared("keras:torch", tmp_path)
    assert "torch" in report["target"]["implementation"]["versions"]


@pytest.mark.tf_keras
def test_tf_keras(tmp_path):
    report = run_shared("tf_keras", tmp_path)
    assert report["target"]["profile"] == "keras2"
    assert "tf_keras" in report["target"]["implementation"]["versions"]


@pytest.mark.keras_backend("numpy")
def test_keras_numpy_catches_a_wrong_expectation(tmp_path):
    """The Keras target is really compared: a case whose literal expectation is wrong fails."""
    case_file = tmp_path / "wrong.yaml"
    case_file.write_text(
        "cases:\n"
        "  - id: wrong/count\n"
        "    description: d\n"
        "    spec: [{page: keras3, item: units}]\n"
        "    layer: {units: 3}\n"
        "    steps:\n"
        "      - build: {input_shape: [2, 5, 4]}\n"
        "      - count_params:\n"
        "        expect: {equals: 25}\n")
    proc = run_cli("run", "--cases", case_file, "-o", tmp_path / "r", "-q")
    assert proc.returncode == 1
    (case,) = load_report(tmp_path / "r")["cases"]
    assert case["status"] == "fail" and "25" in case["message"]

"""The C harness (harnesses/c): a second-language worker written from docs/protocol.md alone.

It is built here with gcc (standard library only), then has to pass `conformance smoke` and
every case of the suite it does not declare unsupported, in both profiles; a bug planted in it
(compiled with -DPLANT_BUG) must be caught, with messages that name the tensor.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.cli import main

SOURCE = Path(__file__).resolve().parent.parent / "harnesses" / "c" / "harness.c"


def _build(folder, *flags):
    gcc = shutil.which("gcc") or shutil.which("cc")
    assert gcc, "gcc is needed to build harnesses/c (it is on every CI machine)"
    binary = folder / ("harness-bug" if flags else "harness")
    subprocess.run([gcc, "-O2", "-std=c11", "-Wall", "-Wextra", *flags, "-o", str(binary), str(SOURCE), "-lm"],
                   check=True, capture_output=True, text=True)
    return binary


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("c-harness"))


def _report(folder):
    return json.loads((folder / "report.json").read_text())


def test_builds_without_warnings(tmp_path):
    gcc = shutil.which("gcc") or shutil.which("cc")
    result = subprocess.run([gcc, "-O2", "-std=c11", "-Wall", "-Wextra", "-o", str(tmp_path / "h"), str(SOURCE), "-lm"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr


def test_passes_smoke(harness, capsys):
    assert main(["smoke", "--target", f"exec:{harness}"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "warn" not in out, out


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["keras3", "keras2"])
def test_passes_every_case_it_does_not_declare_unsupported(harness, tmp_path, profile):
    out = tmp_path / profile
    code = main(["run", "--target", f"exec:{harness}", "--profile", profile, "-o", str(out), "--quiet",
                 "--no-expectations"])
    report = _report(out)
    bad = [(c["id"], c["status"], c.get("message")) for c in report["cases"] if c["status"] not in ("pass", "unsupported")]
    assert not bad, f"{len(bad)} cases do not pass, e.g. {bad[:3]}"
    assert code == 0
    passed = sum(c["status"] == "pass" for c in report["cases"])
    # The forward pass, masks, initial states, weights and the errors of create: most of the suite.
    assert passed > len(report["cases"]) / 2, passed
    unsupported = {c.get("message", "") for c in report["cases"] if c["status"] == "unsupported"}
    assert all(m.startswith("the C harness declares unsupported: ") for m in unsupported), unsupported


@pytest.mark.slow
def test_a_planted_bug_is_caught(tmp_path):
    buggy = _build(tmp_path, "-DPLANT_BUG")
    out = tmp_path / "bug"
    assert main(["run", "--target", f"exec:{buggy}", "-k", "forward", "-o", str(out), "--quiet",
                 "--no-expectations"]) == 1
    failed = [c for c in _report(out)["cases"] if c["status"] == "fail"]
    assert len(failed) > 20
    assert any("values differ in output" in c["message"] for c in failed)

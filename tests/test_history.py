"""`conformance history` on two local builds of Keras, and the candidate-build gate.

The two builds are wheels made here from the installed Keras: one as it is,
one with a planted regression in keras/src/layers/rnn/simple_rnn.py (the cell
subtracts its bias). Each is installed without dependencies over this test's
own environment (--base-python), so nothing is downloaded.
"""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conformance.report.diff import diff
from conformance.tools.history import FAMILIES, HistoryError, select_releases, version_key

SELECTION = "strength"  # a few dozen cases, most of them running the cell with a bias
PLANT = ("h = ops.add(h, self.bias)", "h = ops.subtract(h, self.bias)")


def conformance(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True, cwd=cwd)


def installed_keras():
    """(the installed keras package's folder, its version), without importing it."""
    import importlib.metadata
    import importlib.util

    return Path(importlib.util.find_spec("keras").origin).parent, importlib.metadata.version("keras")


def make_wheel(folder, version, plant=False):
    """A wheel of the installed keras package under another version (and, with `plant`, the bug)."""
    package, installed = installed_keras()
    name = f"keras-{version}-py3-none-any.whl"
    info = f"keras-{version}.dist-info"
    with zipfile.ZipFile(folder / name, "w", zipfile.ZIP_DEFLATED) as wheel:
        for path in sorted(package.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts:
                continue
            arcname = "keras/" + path.relative_to(package).as_posix()
            data = path.read_bytes()
            if arcname == "keras/src/version.py":
                data = data.replace(installed.encode(), version.encode())
            if plant and arcname == "keras/src/layers/rnn/simple_rnn.py":
                assert PLANT[0].encode() in data, "the line to plant the bug in is gone"
                data = data.replace(PLANT[0].encode(), PLANT[1].encode())
            wheel.writestr(arcname, data)
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: keras\nVersion: {version}\n")
        wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", "")
    return folder / name


pytestmark = pytest.mark.slow  # four catalog runs in fresh environments: a minute or two


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    version = installed_keras()[1]
    folder = tmp_path_factory.mktemp("wheels")
    good = make_wheel(folder, version)
    bad = make_wheel(folder, version + ".post1", plant=True)
    return {"folder": folder, "good": good, "bad": bad, "cache": tmp_path_factory.mktemp("envs"),
            "version": version}


@pytest.fixture(scope="module")
def history(builds, tmp_path_factory):
    out = tmp_path_factory.mktemp("history")
    done = conformance("history", "--releases", f"{builds['bad']},{builds['good']}", "-k", SELECTION,
                       "--base-python", sys.executable, "--cache", str(builds["cache"]), "--out", str(out), "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    return out, done


def test_each_build_is_stored_and_the_trend_written(history, builds):
    out, done = history
    good, bad = builds["version"], builds["version"] + ".post1"
    for label in (good, bad):
        report = json.loads((out / "releases" / label / "report.json").read_text())
        assert report["target"]["name"] == f"keras:numpy@{label}"
        assert report["target"]["implementation"]["versions"]["keras"] == label  # the wheel's Keras ran
        assert report["release"]["local"].endswith(".whl")
    for name in ("trend.json", "trend.md", "trend.html", "verdicts.svg", "verdicts.png"):
        assert (out / name).stat().st_size > 0, name
    trend = json.loads((out / "trend.json").read_text())
    assert [r["label"] for r in trend["releases"]] == [good, bad]  # ordered by version, not as given


def test_the_trend_changes_are_the_diff_of_the_two_reports(history, builds):
    out, _ = history
    good, bad = builds["version"], builds["version"] + ".post1"
    trend = json.loads((out / "trend.json").read_text())
    result, _, _, _ = diff(out / "releases" / good / "report.json", out / "releases" / bad / "report.json")
    regressed = {key[1] for key, _, _ in result["regressions"]}
    assert regressed, "the planted bug made no case fail"
    (step,) = trend["transitions"]
    assert (step["from"], step["to"]) == (good, bad)
    assert step["counts"] == {k: len(v) for k, v in result.items()}
    # Grouped by cause: every regression in exactly one group, each with a member as representative.
    grouped = [c for g in step["groups"]["regressions"] for c in g["cases"]]
    assert sorted(grouped) == sorted(regressed)
    for group in step["groups"]["regressions"]:
        assert group["count"] == len(group["cases"]) and group["representative"] in group["cases"]
    # Per case: the release it changed in, with the reason after (the failure message of the new report).
    new = {r["id"]: r for r in json.loads((out / "releases" / bad / "report.json").read_text())["cases"]}
    changed = {case for case, changes in trend["cases"].items() if any(c["kind"] == "regressions" for c in changes)}
    assert changed == regressed
    some = sorted(regressed)[0]
    (change,) = trend["cases"][some]
    assert (change["before"], change["after"], change["release"]) == ("pass", new[some]["status"], bad)
    assert change["reason_after"] and change["reason_after"] in " ".join(new[some]["message"].split())
    markdown = (out / "trend.md").read_text()
    assert f"{good} → {bad}" in markdown and f"`{step['groups']['regressions'][0]['representative']}`" in markdown
    # Most cases lost their passes: a sudden drop, flagged.
    drop = len(regressed) * 100 > 10 * trend["releases"][0]["totals"]["pass"]
    assert bool(trend["drops"]) == drop and ("SUDDEN DROP" in markdown) == drop


def test_merged_reports_give_the_same_trend(history, builds, tmp_path):
    """A CI job matrix: one build a job, the reports merged with `conformance merge`, one trend."""
    out, _ = history
    good, bad = builds["version"], builds["version"] + ".post1"
    merged = conformance("merge", "--from-reports", f"{out / 'releases' / good},{out / 'releases' / bad}",
                         "--out", str(tmp_path / "merged"))
    assert merged.returncode == 0, merged.stderr
    again = conformance("history", "--trend-only", "--from-reports", str(tmp_path / "merged"),
                        "--out", str(tmp_path / "trend"))
    first = json.loads((out / "trend.json").read_text())
    second = json.loads((tmp_path / "trend" / "trend.json").read_text())
    assert again.returncode == 0, again.stderr
    assert ("SUDDEN DROP" in again.stderr) == bool(first["drops"])
    assert second["transitions"] == first["transitions"] and second["cases"] == first["cases"]


def test_the_gate_fails_a_candidate_with_the_planted_regression(history, builds, tmp_path):
    common = ["-k", SELECTION, "--base-python", sys.executable, "--cache", str(builds["cache"]), "-q"]
    failed = conformance("history", "--releases", str(builds["good"]), "--candidate", str(builds["bad"]),
                         "--out", str(tmp_path / "bad"), *common)
    assert failed.returncode == 1, failed.stderr[-2000:]
    assert "REGRESSIONS" in failed.stdout and "the gate fails" in failed.stdout
    # The gate passes a candidate that fails nothing the release before did not (here: the fix).
    passed = conformance("history", "--releases", str(builds["bad"]), "--candidate", str(builds["good"]),
                         "--out", str(tmp_path / "good"), *common)
    assert passed.returncode == 0, passed.stdout + passed.stderr[-2000:]
    assert "0 regressions" in passed.stdout


def test_release_ranges():
    available = ["3.15.1", "3.15.0", "3.14.1", "3.14.0", "3.13.2", "3.13.1", "3.12.0", "3.10.0", "2.15.0", "3.0.5"]
    family = FAMILIES["keras:numpy"]
    labels = [r.label for r in select_releases("3.12..3.14,3.15.0..3.15.1", family, available)]
    assert labels == ["3.12.0", "3.13.2", "3.14.1", "3.15.0", "3.15.1"]
    assert [r.label for r in select_releases("3.0.5,3.14.0..3.14.9", family, available)] == ["3.0.5", "3.14.0", "3.14.1"]
    assert version_key("3.15.1.post1") > version_key("3.15.1") > version_key("3.9.2")
    # A candidate build comes before its release, not after it.
    ordered = ["3.15.1", "3.16.0.dev0", "3.16.0rc1", "3.16.0", "3.16.0.post1", "my-build"]
    assert sorted(reversed(ordered), key=version_key) == ordered
    with pytest.raises(HistoryError, match="no keras release"):
        select_releases("3.16..3.17", family, available)


def test_bad_input_is_one_line(tmp_path):
    (tmp_path / "keras-1.0-py3-none-any.whl").write_text("not a zip")
    for args, words in ((["--releases", str(tmp_path / "keras-1.0-py3-none-any.whl")], "not a wheel"),
                        (["--releases", "three"], "neither a release number"),
                        (["--target", "torch", "--releases", "2.0"], "history knows the targets"),
                        (["--releases", "3.14.1,3.15.1", "--release", "3.9.9"], "is not among the releases"),
                        (["--trend-only", "--from-reports", str(tmp_path)], "no release report")):
        done = conformance("history", *args, "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "c"))
        assert done.returncode == 2 and words in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1

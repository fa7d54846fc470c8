"""The suite as a tool: its versions, `targets`, `export-cases`, the small command-line promises,
and (slow) the built wheel installed in a fresh virtualenv, run from a folder with no checkout."""

import importlib.metadata
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
import referencing

import conformance
from conformance.catalog import paths
from conformance.catalog.cases import load_cases
from conformance.catalog.select import select
from conformance.cli import main
from conformance.targets import builtin_names

from conftest import CATALOG, DATA, REPO, load_report, run_cli

THREE = DATA / "three.yaml"


def cli(capsys, *args):
    """`conformance ARGS` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse: --help, --version, a usage error
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------- versions

def test_version_names_the_suite_and_the_catalog(capsys):
    code, out, err = cli(capsys, "--version")
    assert code == 0, err
    assert f"conformance {conformance.__version__}" in out and f"catalog {paths.catalog_version()}" in out
    assert paths.catalog_version().startswith(paths.CATALOG_RELEASE + "+")


def test_the_catalog_digest_follows_the_case_files(tmp_path):
    copy = tmp_path / "cases"
    shutil.copytree(CATALOG, copy)
    assert paths.catalog_digest(copy) == paths.catalog_digest(CATALOG)
    first = sorted(copy.glob("*.yaml"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\n# one more line\n", encoding="utf-8")
    paths.catalog_digest.cache_clear()
    assert paths.catalog_digest(copy) != paths.catalog_digest(CATALOG)


def test_reports_record_the_catalog_and_diff_says_when_it_differs(tmp_path, capsys):
    code, _, err = cli(capsys, "run", "-t", "reference", "-c", THREE, "-o", tmp_path / "a", "-q")
    assert code == 0, err
    report = load_report(tmp_path / "a")
    assert report["suite"]["version"] == conformance.__version__
    assert report["catalog"]["version"] == paths.catalog_version()
    assert "different suites or catalogs" not in cli(capsys, "diff", tmp_path / "a", tmp_path / "a")[1]
    report["catalog"]["version"] = "0.9+0000000000000000"
    (tmp_path / "old.json").write_text(json.dumps(report))
    code, out, err = cli(capsys, "diff", tmp_path / "old.json", tmp_path / "a")
    assert code == 0, err
    assert "different suites or catalogs" in out
    assert "catalog 0.9+0000000000000000" in out and paths.catalog_version() in out


# --------------------------------------------------------------------------- conformance targets

def test_targets_lists_every_builtin_target_with_its_packages():
    result = run_cli("targets", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert list(rows) == builtin_names()
    assert rows["reference"]["ready"] is True and rows["reference"]["install"] == "(included)"
    keras = {p["package"]: p for p in rows["keras:numpy"]["packages"]}
    assert keras["keras"]["version"] == importlib.metadata.version("keras") and keras["keras"]["importable"]
    assert "[tensorflow]" in rows["keras:tensorflow"]["install"]
    assert "download.pytorch.org/whl/cpu" in rows["torch"]["install"]
    assert "npm ci" in rows["tfjs"]["install"] and str(paths.TFJS_DIR) in rows["tfjs"]["install"]
    # A package that is not there is said so, and the target is not ready.
    table = run_cli("targets").stdout
    assert "reference" in table and "install:" in table


def test_targets_imports_no_framework():
    code = ("import sys; from conformance.tools.targets_info import targets; targets(); "
            "print(sorted(m for m in ('keras', 'tensorflow', 'torch', 'jax', 'flax', 'onnxruntime') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --------------------------------------------------------------------------- conformance export-cases

def _check_export(folder):
    document = json.loads((folder / "catalog.json").read_text(encoding="utf-8"))
    case_schema = json.loads((folder / "case.schema.json").read_text(encoding="utf-8"))
    schema = json.loads((folder / "catalog.schema.json").read_text(encoding="utf-8"))
    registry = referencing.Registry().with_resource("case.schema.json",
                                                    referencing.Resource.from_contents(case_schema))
    jsonschema.Draft202012Validator(schema, registry=registry).validate(document)
    return document


def test_export_cases_writes_the_expanded_catalog_with_its_schema(tmp_path, capsys):
    code, _, err = cli(capsys, "export-cases", "--out", tmp_path / "a", "-k", "stateful")
    assert code == 0, err
    document = _check_export(tmp_path / "a")
    chosen, _ = select(load_cases(), keyword="stateful")
    assert document["count"] == len(chosen) == len(document["cases"])
    assert [c["id"] for c in document["cases"]] == sorted(c.id for c in chosen)
    assert document["catalog"]["version"] == paths.catalog_version()
    # The concrete steps carry every array's values, the same as the loader makes them.
    by_id = {c.id: c for c in chosen}
    exported = next(c for c in document["cases"] if any(s["op"] == "call" for s in c["steps"]))
    call = next(s for s in exported["steps"] if s["op"] == "call")
    inputs = next(s for s in by_id[exported["id"]].concrete()["steps"] if s["op"] == "call")["args"]["inputs"]
    assert call["args"]["inputs"]["shape"] == list(inputs.shape)
    assert call["args"]["inputs"]["dtype"] == str(inputs.dtype)
    assert call["args"]["inputs"]["data"][:5] == inputs.reshape(-1)[:5].tolist()
    # Deterministic: the same selection gives the same bytes.
    assert cli(capsys, "export-cases", "--out", tmp_path / "b", "-k", "stateful")[0] == 0
    for name in ("catalog.json", "catalog.schema.json", "case.schema.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_schema_violation_in_an_export_is_caught(tmp_path, capsys):
    assert cli(capsys, "export-cases", "--out", tmp_path, "-c", THREE)[0] == 0
    document = json.loads((tmp_path / "catalog.json").read_text())
    document["cases"][0]["case"]["layer"] = "not a mapping"
    (tmp_path / "catalog.json").write_text(json.dumps(document))
    with pytest.raises(jsonschema.ValidationError):
        _check_export(tmp_path)


# --------------------------------------------------------------------------- small promises of the command line

def test_list_into_head_ends_quietly():
    result = subprocess.run(f"{sys.executable} -m conformance list | head -n 2", shell=True, cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 2
    assert result.stderr == ""


def test_list_selecting_nothing_is_a_usage_error(capsys):
    code, out, err = cli(capsys, "list", "-k", "no_such_case_anywhere")
    assert code == 2 and out == ""
    assert err.strip() == "conformance: error: no case selected (-k 'no_such_case_anywhere')"


def test_bad_jobs_empty_folders_and_misspelled_commands_get_one_line(tmp_path, capsys):
    for command in (["run", "-t", "reference", "--jobs", "0"], ["mutants", "--jobs", "-1"]):
        code, _, err = cli(capsys, *command)
        assert code == 2 and "must be 1 or more" in err
    for command in (["run", "-t", "reference", "-c", tmp_path], ["list", "-c", tmp_path], ["validate", tmp_path]):
        code, _, err = cli(capsys, *command)
        assert code == 2, (command, err)
        assert err.strip() == f"conformance: case file error: {tmp_path}: no case files (*.yaml) in this folder"
    code, _, err = cli(capsys, "rnu", "-t", "reference")
    assert code == 2 and err == "conformance: error: no command 'rnu'; did you mean 'run'?\n"
    code, _, err = cli(capsys, "xyzzy")
    assert code == 2 and "the commands are run, list" in err


def test_coverage_help_names_the_default_it_uses(capsys):
    text = " ".join(cli(capsys, "coverage", "--help")[1].split())
    assert "(default: the suite's spec/)" in text and "shared" not in text
    assert paths.SPEC_DIR == (REPO / "spec") and (paths.SPEC_DIR / "keras3-SimpleRNN.md").is_file()


def test_benchmark_out_is_checked_before_measuring(tmp_path):
    (tmp_path / "a-file").write_text("")
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "run.py"), "--out", str(tmp_path / "a-file" / "x")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Not a directory" in result.stderr
    assert "catalog on" not in result.stdout  # nothing was measured


def test_the_checkout_reads_its_own_folders():
    assert paths.IS_CHECKOUT and paths.CASES_DIR == CATALOG
    assert paths.EXPECTATIONS_DIR == REPO / "expectations" and paths.TFJS_HARNESS.is_file()
    assert paths.FOUND_CASES_DIR == CATALOG / "found"


# --------------------------------------------------------------------------- the wheel, installed

def _checkout_files(folder, pattern):
    return sorted(p.relative_to(REPO / folder).as_posix() for p in (REPO / folder).rglob(pattern) if p.is_file())


@pytest.mark.slow
def test_the_wheel_carries_the_catalog_and_no_generated_files(installed_suite):
    wheel = Path(installed_suite["wheel"])
    names = zipfile.ZipFile(wheel).namelist()
    for folder, packaged, pattern in (("cases", "cases", "*.yaml"), ("expectations", "expectations", "*.yaml"),
                                      ("spec", "spec", "*.md")):
        inside = sorted(n.split(f"conformance/data/{packaged}/", 1)[1] for n in names
                        if n.startswith(f"conformance/data/{packaged}/"))
        assert inside == _checkout_files(folder, pattern), folder
    assert "conformance/data/tfjs/harness.js" in names and "conformance/catalog/schema/case.schema.json" in names
    assert not [n for n in names if "node_modules" in n or n.startswith(("fixtures/", "reports/", "tests/"))]
    assert wheel.stat().st_size < 2_000_000


def _user(installed_suite, cwd, *args, timeout=600):
    return subprocess.run([str(Path(installed_suite["bin"]) / "conformance"), *map(str, args)], cwd=cwd,
                          env=installed_suite["env"], capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_the_installed_suite_runs_from_a_folder_without_a_checkout(installed_suite, tmp_path):
    here = tmp_path / "elsewhere"
    here.mkdir()
    version = _user(installed_suite, here, "--version")
    assert version.returncode == 0, version.stderr
    assert f"catalog {paths.catalog_version()}" in version.stdout  # the same case files, byte for byte
    assert "site-packages" in version.stdout and str(REPO) not in version.stdout

    keras3, _ = select(load_cases(), profile="keras3")
    for target in ("reference", None):  # None: the default target, Keras 3 on NumPy
        out = here / (target or "default")
        result = _user(installed_suite, here, "run", *(["--target", target] if target else []), "-q", "-o", out)
        assert result.returncode == 0, result.stdout + result.stderr
        report = load_report(out)
        assert report["summary"]["total"] == len(keras3) and report["catalog"]["version"] == paths.catalog_version()
        assert report["summary"]["fail"] == report["summary"]["error"] == 0
    assert load_report(here / "reference")["summary"]["pass"] == len(keras3)
    assert str(REPO) not in (here / "default" / "report.json").read_text()

    targets = json.loads(_user(installed_suite, here, "targets", "--json").stdout)
    ready = {row["name"]: row["ready"] for row in targets}
    assert ready["reference"] and ready["keras:numpy"] and ready["keras:tensorflow"] is False
    assert 'pip install "simplernn-conformance[tensorflow]"' in next(
        row["install"] for row in targets if row["name"] == "keras:tensorflow")

    listed = _user(installed_suite, here, "list")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == len(load_cases())
    assert _user(installed_suite, here, "validate").returncode == 0
    coverage = _user(installed_suite, here, "coverage", "--fail-under", "100", "--out", here / "coverage.md")
    assert coverage.returncode == 0, coverage.stderr
    fixtures = _user(installed_suite, here, "fixtures", "--out", here / "fx", "-k", "forward")
    assert fixtures.returncode == 0 and (here / "fx" / "index.json").is_file(), fixtures.stderr
    mutants = _user(installed_suite, here, "mutants", "-m", "go_backwards_ignored", "-k", "go_backwards")
    assert mutants.returncode == 0 and "1/1 mutants killed" in mutants.stdout, mutants.stdout + mutants.stderr
    export = _user(installed_suite, here, "export-cases", "--out", here / "export")
    assert export.returncode == 0, export.stderr
    assert _check_export(here / "export")["count"] == len(load_cases())
    # Installed, the suite is no checkout: `fuzz` writes what it finds into ./found-cases, not into the package.
    where = subprocess.run([installed_suite["python"], "-c", "from conformance.catalog import paths; "
                            "print(paths.IS_CHECKOUT, paths.FOUND_CASES_DIR, paths.CASES_DIR)"],
                           cwd=here, env=installed_suite["env"], capture_output=True, text=True, timeout=60)
    checkout, found, cases = where.stdout.split()
    assert (checkout, found) == ("False", "found-cases") and "site-packages" in cases, where.stderr

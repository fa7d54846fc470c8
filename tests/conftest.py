"""Shared helpers of the harness's own tests.

`run_cli` runs the `conformance` command in a subprocess (as a user would), so
exit statuses, stderr and the files written are observed from outside.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
CATALOG = REPO / "cases"


def run_cli(*args, timeout=300, cwd=None, env=None):
    """`python -m conformance ARGS`; returns the CompletedProcess (text mode)."""
    full_env = dict(os.environ)
    full_env.pop("KERAS_BACKEND", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "conformance", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          cwd=cwd or REPO, env=full_env)


def factory(name):
    """A `path/to/file.py:function` target naming a factory of tests/data/factories.py."""
    return f"{DATA / 'factories.py'}:{name}"


def load_report(folder):
    return json.loads((Path(folder) / "report.json").read_text(encoding="utf-8"))


def load_journal(folder):
    lines = (Path(folder) / "report.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def statuses(report):
    return {case["id"]: case["status"] for case in report["cases"]}


@pytest.fixture
def data():
    return DATA


def assert_reports_agree(folder):
    """junit.xml and summary.md say what report.json says, case by case."""
    import xml.etree.ElementTree as ET
    from collections import Counter

    report = load_report(folder)
    cases = report["cases"]
    counts = Counter(c["status"] for c in cases)
    summary = report["summary"]
    assert summary["total"] == len(cases)
    for status in ("pass", "fail", "error", "crash", "timeout", "unsupported"):
        assert summary[status] == counts.get(status, 0), (status, summary)

    suite = ET.parse(Path(folder) / "junit.xml").getroot()
    if suite.tag == "testsuites":
        (suite,) = list(suite)
    assert int(suite.get("tests")) == len(cases)
    assert int(suite.get("failures")) == counts.get("fail", 0)
    assert int(suite.get("errors")) == sum(counts.get(s, 0) for s in ("error", "crash", "timeout"))
    assert int(suite.get("skipped", 0)) == counts.get("unsupported", 0)
    testcases = suite.findall("testcase")
    assert len(testcases) == len(cases)
    by_id = {c["id"]: c for c in cases}
    seen = set()
    for element in testcases:
        classname, name = element.get("classname"), element.get("name")
        case_id = next(i for i in by_id if i.endswith("/" + name) and i[: -len(name) - 1].replace("/", ".") == classname)
        seen.add(case_id)
        kinds = [child.tag for child in element if child.tag in ("failure", "error", "skipped")]
        status = by_id[case_id]["status"]
        want = {"pass": [], "fail": ["failure"], "error": ["error"], "crash": ["error"],
                "timeout": ["error"], "unsupported": ["skipped"]}[status]
        assert kinds == want, (case_id, status, kinds)
        if status in ("error", "crash", "timeout"):
            assert element.find("error").get("type") == status
    assert seen == set(by_id)

    markdown = (Path(folder) / "summary.md").read_text(encoding="utf-8")
    table = markdown_table(markdown, "total")
    for status in ("total", "pass", "fail", "error", "crash", "timeout", "unsupported"):
        assert int(table[status]) == summary[status], (status, table, summary)
    listed = markdown.split("## Cases that did not pass")[1].split("\n## ")[0] if "## Cases that did not pass" in markdown else ""
    for case in cases:
        mentioned = f"`{case['id']}`" in listed
        assert mentioned == (case["status"] in ("fail", "error", "crash", "timeout")), (case, listed)
        if mentioned:
            assert f"**{case['status']}** `{case['id']}`" in listed
    return report


def markdown_table(markdown, first_column):
    """{column: cell} of the first row of the Markdown table whose header starts with first_column."""
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == first_column:
            values = [c.strip() for c in lines[i + 2].strip().strip("|").split("|")]
            return dict(zip(cells, values))
    raise AssertionError(f"no table with a {first_column!r} column in:\n{markdown}")


# --------------------------------------------------------------------------- the suite as a user installs it

def _clean_copy(folder):
    """The checkout's files that git tracks or would (untracked ones it does not ignore), as a release
    is built from them: what an editable install or an earlier build left behind (an egg-info's file
    list above all, which setuptools would take as the manifest) must not decide what the wheel carries."""
    try:
        listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                check=True, capture_output=True, timeout=60).stdout.decode().split("\0")
    except (OSError, subprocess.SubprocessError):
        return REPO  # not a git checkout (an unpacked sdist): build it as it is
    copy = folder / "source"
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


@pytest.fixture(scope="session")
def installed_suite(tmp_path_factory):
    """The suite built as a wheel (sdist first, then the wheel from it, as `python -m build` does) and
    installed in a fresh virtualenv outside the checkout: {"wheel", "python", "bin", "env"}.

    Built once per test session: under pytest-xdist the first worker builds while the others wait
    on a file lock, then reuse what it made (the folder is the session's, shared by the workers)."""
    import fcntl

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / "installed-suite"
    with open(root / "installed-suite.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder / "done.json"
        if not done.is_file():
            folder.mkdir(exist_ok=True)
            subprocess.run([sys.executable, "-m", "build", "--outdir", str(folder / "dist"), str(_clean_copy(folder))],
                           check=True, capture_output=True, text=True, timeout=600)
            (wheel,) = (folder / "dist").glob("*.whl")
            subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True, timeout=300)
            python = folder / "venv" / "bin" / "python"
            result = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)],
                                    capture_output=True, text=True, timeout=1200)
            assert result.returncode == 0, result.stdout + result.stderr
            done.write_text(json.dumps({"wheel": str(wheel), "python": str(python)}))
    made = json.loads((folder / "done.json").read_text())
    bin_dir = str(Path(made["python"]).parent)
    # The environment of a user's shell with that virtualenv active, and nothing of the checkout's.
    here = str(Path(sys.executable).parent)
    path = [bin_dir] + [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != here]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "KERAS_BACKEND")}
    env.update(PATH=os.pathsep.join(path), VIRTUAL_ENV=str(Path(bin_dir).parent))
    return {**made, "bin": bin_dir, "env": env}

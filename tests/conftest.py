"""Shared helpers of the harness's own tests.

`run_cli` runs the `conformance` command in a subprocess (as a user would), so
exit statuses, stderr and the files written are observed from outside.
"""

import json
import os
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

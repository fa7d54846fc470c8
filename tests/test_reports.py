"""report.json and what is derived from it: report.jsonl, JUnit XML, summary.md, the exit status."""

import json
import xml.etree.ElementTree as ET

import pytest

from conformance.report import record as report_mod
from conformance.report import write_junit, write_markdown
from conformance.report.markdown import render_markdown
from conformance.run.runner import Record
from conftest import assert_reports_agree, markdown_table

RECORDS = [
    Record("forward/a", "pass", 0.01, {"max_abs_error": 0.0, "variant": "step 1: zeros"}, ["forward"]),
    Record("forward/b", "fail", 0.02, {"message": "3 of 6 values differ", "step": 3, "op": "call"}, ["forward"]),
    Record("mask/c", "error", 0.03, {"message": "call raised RuntimeError: boom", "step": 2, "op": "call"}),
    Record("mask/d", "crash", 0.04, {"message": "the worker killed by signal SIGABRT"}),
    Record("state/e", "timeout", 3.0, {"message": "no answer within 3 s"}),
    Record("state/f", "unsupported", 0.0, {"message": "stateful is not supported"}),
    Record("state/g", "unsupported", 0.0, {"message": "stateful is not supported"}),
]


@pytest.fixture
def finished(tmp_path):
    recorder = report_mod.Recorder(tmp_path, {"name": "demo", "profile": "keras3"}, {"jobs": 1})
    for record in reversed(RECORDS):
        recorder.add(record)
    report = recorder.finish({"name": "demo", "versions": {"demo": "1.0"}}, interrupted=False,
                             deselected={"profile": 2, "keyword": 0}, duration_s=3.5)
    write_junit(report, tmp_path / "junit.xml")
    write_markdown(report, tmp_path / "summary.md")
    return tmp_path, report


def test_recorder_journals_each_record_at_once(tmp_path):
    recorder = report_mod.Recorder(tmp_path, {"name": "demo", "profile": "keras3"}, {})
    recorder.add(RECORDS[1])
    lines = (tmp_path / "report.jsonl").read_text().splitlines()   # before finish: already on disk
    assert [json.loads(line)["id"] for line in lines] == ["forward/b"]
    assert json.loads(lines[0]) == RECORDS[1].to_dict()
    recorder.add(RECORDS[0])
    assert len((tmp_path / "report.jsonl").read_text().splitlines()) == 2
    assert not (tmp_path / "report.json").exists()
    recorder.finish(interrupted=True)
    assert report_mod.load(tmp_path)["interrupted"] is True


def test_report_json_contents(finished):
    folder, report = finished
    on_disk = report_mod.load(folder)
    assert on_disk == json.loads(json.dumps(report))
    assert on_disk["schema_version"] == report_mod.SCHEMA_VERSION
    assert on_disk["target"]["name"] == "demo" and on_disk["target"]["implementation"]["name"] == "demo"
    assert on_disk["interrupted"] is False and on_disk["duration_s"] == 3.5
    assert [c["id"] for c in on_disk["cases"]] == sorted(r.id for r in RECORDS)
    summary = on_disk["summary"]
    assert (summary["total"], summary["pass"], summary["fail"], summary["error"], summary["crash"],
            summary["timeout"], summary["unsupported"]) == (7, 1, 1, 1, 1, 1, 2)
    case = next(c for c in on_disk["cases"] if c["id"] == "forward/b")
    assert case["status"] == "fail" and case["message"] == "3 of 6 values differ" and case["step"] == 3
    assert case["tags"] == ["forward"]
    assert on_disk["environment"]["python"]
    load = on_disk["load_average"]  # how busy the machine was while the run took its time
    assert all(isinstance(load[k], float) and load[k] >= 0 for k in ("start", "end"))
    assert not list(folder.glob("*.tmp"))
    journal = [json.loads(line) for line in (folder / "report.jsonl").read_text().splitlines()]
    assert sorted(journal, key=lambda r: r["id"]) == on_disk["cases"]


def test_exit_status():
    assert report_mod.exit_status({"summary": report_mod.summarize([r.to_dict() for r in RECORDS])}) == 1
    for status in ("fail", "error", "crash", "timeout"):
        summary = report_mod.summarize([{"status": "pass"}, {"status": status}])
        assert report_mod.exit_status({"summary": summary}) == 1
    summary = report_mod.summarize([{"status": "pass"}, {"status": "unsupported"}])
    assert report_mod.exit_status({"summary": summary}) == 0


def test_junit_agrees(finished):
    folder, report = finished
    assert_reports_agree(folder)
    suite = ET.parse(folder / "junit.xml").getroot()
    assert suite.get("name") == "simplernn-conformance[demo]"
    (b,) = [t for t in suite.iter("testcase") if t.get("name") == "b"]
    assert b.get("classname") == "forward"
    assert "3 of 6 values differ" in b.find("failure").get("message")
    (d,) = [t for t in suite.iter("testcase") if t.get("name") == "d"]
    assert d.find("error").get("type") == "crash" and "SIGABRT" in d.find("error").text
    (f,) = [t for t in suite.iter("testcase") if t.get("name") == "f"]
    assert "stateful is not supported" in f.find("skipped").get("message")


def test_markdown_agrees(finished):
    folder, report = finished
    markdown = (folder / "summary.md").read_text()
    assert_reports_agree(folder)  # the summary's counts and listed cases are report.json's
    assert "`demo`" in markdown.splitlines()[0]
    assert "**fail** `forward/b` (step 3, `call`): 3 of 6 values differ" in markdown
    assert "**crash** `mask/d`" in markdown and "**timeout** `state/e`" in markdown
    assert "2 cases: stateful is not supported" in markdown
    assert "`forward/a`: step 1: zeros" in markdown             # the variant taken
    assert "2 by profile" in markdown                          # deselected
    assert "interrupted" not in markdown
    load = report["load_average"]
    assert f"3.5 s at load {load['start']:.1f} to {load['end']:.1f}." in markdown
    assert "at load" not in render_markdown({**report, "load_average": None})  # an older report: nothing said
    areas = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] in ("forward", "mask", "state"):
            areas[cells[0]] = cells
    assert areas["forward"][1:3] == ["1", "1"] and areas["state"][5:7] == ["1", "2"]
    assert markdown_table(markdown, "total")["total"] == "7"


def test_interrupted_report_says_so(tmp_path):
    recorder = report_mod.Recorder(tmp_path, {"name": "demo", "profile": "keras3"}, {})
    recorder.add(RECORDS[0])
    report = recorder.finish(interrupted=True, duration_s=1.0)
    assert "interrupted" in render_markdown(report)

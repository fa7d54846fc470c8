"""JUnit XML from report.json, for CI systems that read test results."""

import xml.etree.ElementTree as ET
from pathlib import Path


def write_junit(report, path):
    summary = report["summary"]
    suite = ET.Element("testsuite", {
        "name": f"simplernn-conformance[{report['target']['name']}]",
        "tests": str(summary["total"]),
        "failures": str(summary["fail"]),
        "errors": str(summary["error"] + summary["crash"] + summary["timeout"]),
        "skipped": str(summary["unsupported"]),
        "time": f"{report.get('duration_s') or 0:.3f}",
        "timestamp": report["started"],
    })
    for case in report["cases"]:
        group, _, name = case["id"].rpartition("/")
        element = ET.SubElement(suite, "testcase", {
            "classname": group.replace("/", ".") or "cases", "name": name or case["id"],
            "time": f"{case.get('duration_s', 0):.6f}"})
        status, message = case["status"], case.get("message", "")
        if status == "fail":
            ET.SubElement(element, "failure", {"message": message[:500], "type": "fail"}).text = message
        elif status in ("error", "crash", "timeout"):
            ET.SubElement(element, "error", {"message": message[:500], "type": status}).text = message
        elif status == "unsupported":
            ET.SubElement(element, "skipped", {"message": f"unsupported: {message}"[:500]})
    tree = ET.ElementTree(suite)
    ET.indent(tree)
    tree.write(Path(path), encoding="utf-8", xml_declaration=True)

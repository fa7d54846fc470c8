"""JUnit XML from report.json, for CI systems that read test results."""

import xml.etree.ElementTree as ET
from pathlib import Path


def write_junit(report, path):
    summary = report["summary"]
    strict = bool((report.get("options") or {}).get("strict"))  # --strict: an xpass fails
    suite = ET.Element("testsuite", {
        "name": f"simplernn-conformance[{report['target']['name']}]",
        "tests": str(summary["total"]),
        "failures": str(summary["fail"] + (summary.get("xpass", 0) if strict else 0)),
        "errors": str(summary["error"] + summary["crash"] + summary["timeout"]),
        "skipped": str(summary["unsupported"] + summary.get("xfail", 0)),
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
        elif status == "xfail":  # a known failure, listed in the expectations file
            ET.SubElement(element, "skipped", {"message": f"xfail ({case.get('original_status')}): "
                                               f"{_known(case)}; {message}"[:500], "type": "xfail"})
        elif status == "xpass":  # listed as a known failure, but passes now
            text = f"xpass: listed as a known failure ({_known(case)}), but passes"
            if strict:
                ET.SubElement(element, "failure", {"message": text[:500], "type": "xpass"}).text = text
            else:
                ET.SubElement(element, "system-out").text = text
    tree = ET.ElementTree(suite)
    ET.indent(tree)
    tree.write(Path(path), encoding="utf-8", xml_declaration=True)


def _known(case):
    known = case.get("expectation") or {}
    return " ".join(str(known.get(k)) for k in ("category", "reason", "link") if known.get(k))

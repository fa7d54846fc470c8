"""JUnit XML from report.json, for CI systems that read test results.

Every text goes through `xml_text`: a character XML 1.0 forbids (ESC, NUL, ...)
in a message or a case id is written as an escape, so the file always parses.
"""

import xml.etree.ElementTree as ET

from conformance.report.text import xml_text


def write_junit(report, path):
    from conformance.report.record import atomic_write

    atomic_write(path, render_junit(report))


def render_junit(report):
    """The JUnit XML document (bytes, UTF-8, with its declaration)."""
    summary = report["summary"]
    strict = bool((report.get("options") or {}).get("strict"))  # --strict: an xpass fails
    suite = ET.Element("testsuite", {
        "name": xml_text(f"simplernn-conformance[{report['target']['name']}]"),
        "tests": str(len(report["cases"])),
        "failures": str(_count(summary, "fail") + (_count(summary, "xpass") if strict else 0)),
        "errors": str(sum(_count(summary, s) for s in ("error", "crash", "timeout"))),
        "skipped": str(_count(summary, "unsupported") + _count(summary, "xfail")),
        "time": f"{_seconds(report.get('duration_s')):.3f}",
        "timestamp": xml_text(report.get("started") or ""),
    })
    for case in report["cases"]:
        group, _, name = xml_text(case["id"]).rpartition("/")
        element = ET.SubElement(suite, "testcase", {
            "classname": group.replace("/", ".") or "cases", "name": name or xml_text(case["id"]),
            "time": f"{_seconds(case.get('duration_s')):.6f}"})
        status, message = case["status"], xml_text(case.get("message", ""))
        if status == "fail":
            ET.SubElement(element, "failure", {"message": message[:500], "type": "fail"}).text = message
        elif status in ("error", "crash", "timeout"):
            ET.SubElement(element, "error", {"message": message[:500], "type": status}).text = message
        elif status == "unsupported":
            ET.SubElement(element, "skipped", {"message": f"unsupported: {message}"[:500]})
        elif status == "xfail":  # a known failure, listed in the expectations file
            ET.SubElement(element, "skipped", {"message": xml_text(f"xfail ({case.get('original_status')}): "
                                               f"{_known(case)}; {message}"[:500]), "type": "xfail"})
        elif status == "xpass":  # listed as a known failure, but passes now
            text = xml_text(f"xpass: listed as a known failure ({_known(case)}), but passes")
            if strict:
                ET.SubElement(element, "failure", {"message": text[:500], "type": "xpass"}).text = text
            else:
                ET.SubElement(element, "system-out").text = text
    ET.indent(suite)
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True) + b"\n"


def _count(summary, status):
    value = summary.get(status, 0)
    return value if isinstance(value, int) else 0


def _seconds(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _known(case):
    known = case.get("expectation") or {}
    return " ".join(str(known.get(k)) for k in ("category", "reason", "link") if known.get(k))

"""The pytest face: `pytest --conformance-target T` runs each case as a test item."""

import xml.etree.ElementTree as ET

import pytest

from conftest import DATA, factory

THREE = str(DATA / "three.yaml")
SHARED = str(DATA / "shared.yaml")


def run(pytester, target, cases, *args):
    return pytester.runpytest("-p", "no:cacheprovider", "--conformance-target", target,
                              "--conformance-cases", cases, *args)


def test_each_case_is_an_item(pytester):
    result = run(pytester, "reference", THREE, "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*probe/first PASSED*", "*probe/second PASSED*",
                                 "*probe/third PASSED*", "*probe/fourth PASSED*"])
    assert result.ret == 0


def test_collect_only_counts_the_cases(pytester):
    result = run(pytester, "reference", SHARED, "--collect-only", "-q")
    ids = [line for line in result.stdout.lines if "shared/" in line]
    assert len(ids) == 17


def test_k_selects_by_id(pytester):
    result = run(pytester, "reference", THREE, "-k", "second or fourth", "-v")
    result.assert_outcomes(passed=2, deselected=2)
    result.stdout.fnmatch_lines(["*probe/second PASSED*", "*probe/fourth PASSED*"])


def test_k_selects_by_tag(pytester):
    result = run(pytester, "reference", SHARED, "-k", "roundtrip", "-v")
    result.assert_outcomes(passed=1, deselected=16)
    result.stdout.fnmatch_lines(["*shared/weights PASSED*"])
    result = run(pytester, "reference", SHARED, "-k", "state and not forward")
    result.assert_outcomes(passed=1, deselected=16)


def test_failing_case_fails_its_item_with_the_verdict(pytester):
    result = run(pytester, factory("sign_flipped"), THREE, "-k", "first or fourth")
    result.assert_outcomes(failed=2, deselected=2)
    assert result.ret == 1
    text = result.stdout.str()
    assert "probe/first" in text and "probe/fourth" in text
    result.stdout.fnmatch_lines(["*fail at step * (call): * values differ*"])
    result.stdout.fnmatch_lines(["*three.yaml*"])   # where the case is


def test_crash_and_error_fail_their_items(pytester):
    result = run(pytester, factory("abort_on_units_5"), THREE)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*crash*SIGABRT*"])
    result = run(pytester, factory("always_raises"), THREE, "-k", "first")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(["*error at step * (call)*RuntimeError*planted failure*"])


def test_junitxml(pytester, tmp_path):
    xml = tmp_path / "junit.xml"
    result = run(pytester, factory("sign_flipped"), THREE, "-k", "not second", f"--junitxml={xml}")
    result.assert_outcomes(failed=3, deselected=1)
    suite = ET.parse(xml).getroot()
    if suite.tag == "testsuites":
        (suite,) = list(suite)
    assert suite.get("tests") == "3" and suite.get("failures") == "3"
    names = [t.get("name") for t in suite.iter("testcase")]
    for case_id in ("probe/first", "probe/third", "probe/fourth"):
        assert sum(case_id in name for name in names) == 1, names
    for testcase in suite.iter("testcase"):
        assert "values differ" in testcase.find("failure").get("message") + (testcase.find("failure").text or "")
    ok = tmp_path / "ok.xml"
    run(pytester, "reference", THREE, f"--junitxml={ok}").assert_outcomes(passed=4)
    suite = ET.parse(ok).getroot()
    assert sum(1 for _ in suite.iter("testcase")) == 4 and not list(suite.iter("failure"))


def test_unknown_target_is_a_usage_error(pytester):
    result = run(pytester, "no_such_target", THREE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown target" in result.stderr.str()


def test_bad_case_file_is_a_usage_error(pytester):
    result = run(pytester, "reference", str(DATA / "bad" / "wrong_type.yaml"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "wrong_type.yaml:7" in result.stderr.str()


def test_without_the_option_the_plugin_is_inert(pytester):
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_with_paths_the_tests_run_besides_the_cases(pytester):
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--conformance-target", "reference",
                                "--conformance-cases", THREE, "test_plain.py")
    result.assert_outcomes(passed=5)

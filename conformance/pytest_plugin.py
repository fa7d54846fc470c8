"""The pytest face of the suite: `pytest --conformance-target T` runs the cases as test items.

Each case becomes an item named by its id, so `-k`, `-x`, `-n` (pytest-xdist:
each pytest worker starts its own target worker) and `--junitxml` work as
usual. A failing case fails its item with the verdict's message; an
`unsupported` case is skipped with the reason; a known deviation of a built-in
target (the suite's expectations/, applied as `conformance run` applies them)
is xfail. Cases are loaded and run through run/pipeline.py. Without positional paths only
the cases run; with paths, the cases run besides the tests found there.
"""

import pytest

from conformance.catalog.cases import CaseFileError
from conformance.run.pipeline import Settings, bundled_expectations, select_cases
from conformance.run.runner import DEFAULT_TIMEOUT
from conformance.run.transport import STARTUP_TIMEOUT
from conformance.targets import UnknownTarget, resolve


def pytest_addoption(parser):
    group = parser.getgroup("conformance", "SimpleRNN conformance cases")
    group.addoption("--conformance-target", metavar="T", help="run the conformance cases against target T")
    group.addoption("--conformance-cases", metavar="PATH", action="append",
                    help="case file or folder (repeatable; default: the suite's cases/)")
    group.addoption("--conformance-timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                    help=f"seconds per case (default {DEFAULT_TIMEOUT:g})")
    group.addoption("--conformance-startup-timeout", type=float, default=STARTUP_TIMEOUT, metavar="S",
                    help=f"seconds a worker may take to start (default {STARTUP_TIMEOUT:g})")
    group.addoption("--conformance-profile", choices=("keras2", "keras3"),
                    help="profile of a factory or exec target (default keras3)")
    group.addoption("--conformance-no-expectations", action="store_true",
                    help="do not apply the suite's expectations/<target>.yaml (known deviations are xfail by default, "
                         "as in `conformance run`)")


def pytest_configure(config):
    name = config.getoption("conformance_target")
    if not name:
        return
    try:
        spec = resolve(name, profile=config.getoption("conformance_profile"))
    except UnknownTarget as exc:
        raise pytest.UsageError(str(exc)) from None
    settings = Settings(timeout=config.getoption("conformance_timeout"),
                        startup_timeout=config.getoption("conformance_startup_timeout"))
    try:
        settings.check()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config._conformance = {"spec": spec, "session": None, "settings": settings, "expectations": None}


class CaseFailed(Exception):
    pass


class CaseCollector(pytest.Collector):
    def collect(self):
        return []


class CaseItem(pytest.Item):
    def __init__(self, *, case, **kwargs):
        super().__init__(**kwargs)
        self.case = case
        self.extra_keyword_matches.update(case.tags)  # so that -k matches tags too

    def runtest(self):
        state = self.config._conformance
        if state["session"] is None:
            state["session"] = state["settings"].session(state["spec"])
        record = state["session"].run_case(self.case).to_dict()
        if state["expectations"] is not None:
            record = state["expectations"].apply(record)
        self.user_properties.append(("status", record["status"]))
        if record["status"] in ("pass", "xpass"):
            return
        if record["status"] == "xfail":
            pytest.xfail(f"known deviation ({record.get('original_status')}): {record.get('message', '')}")
        if record["status"] == "unsupported":
            pytest.skip(f"unsupported: {record.get('message', '')}")
        step = f" at step {record['step']} ({record.get('op')})" if record.get("step") is not None else ""
        raise CaseFailed(f"{record['status']}{step}: {record.get('message', '')}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CaseFailed):
            return f"{self.case.id}\n  {excinfo.value}\n  case: {self.case.source}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        path, _, line = self.case.source.rpartition(":")
        return path, int(line) - 1 if line.isdigit() else None, self.case.id


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    state = getattr(config, "_conformance", None)
    if state is None:
        return
    paths = config.getoption("conformance_cases")
    try:
        _, chosen, _ = select_cases(paths, None, state["spec"].profile)  # pytest's own -k selects further
    except CaseFileError as exc:
        raise pytest.UsageError(f"case file error: {exc}") from None
    bundled = None if config.getoption("conformance_no_expectations") else bundled_expectations(state["spec"].name, paths)
    if bundled is not None:
        from conformance.report.expectations import Expectations

        state["expectations"] = Expectations.load(bundled)
    collector = CaseCollector.from_parent(session, name=f"conformance[{state['spec'].name}]")
    case_items = [CaseItem.from_parent(collector, name=case.id, case=case) for case in chosen]
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        items.extend(case_items)  # paths were given: their tests run too
    else:
        items[:] = case_items


def pytest_unconfigure(config):
    state = getattr(config, "_conformance", None)
    if state and state["session"] is not None:
        state["session"].close()

"""The run pipeline: load -> select -> expectations -> runner -> records -> reports.

Every command that runs a target goes through here, so that a fix holds for all:
`conformance run` and `conformance matrix` (`run_into_folder`), `mutants`'s kill
run and `fuzz`'s replay (`run_cases`: cases already loaded, records kept in
memory), the pytest plugin and `fuzz`'s drawing (`Settings.session`: one
case at a time, with the same defaults and bounds). docs/guarantees.md says
what a run promises.
"""

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from conformance.arrays import to_wire
from conformance.report.record import Recorder, exit_status, write_json
from conformance.run.runner import DEFAULT_TIMEOUT, Runner, TargetSession
from conformance.run.signals import interrupt_status, signals_as_interrupts
from conformance.run.transport import STARTUP_TIMEOUT, Limits

MAX_OBSERVATION_BYTES = 1_000_000  # a failing case's actual values are kept up to this size


class NoCases(ValueError):
    """The selection is empty: a usage error (one line, exit 2)."""


class TargetCannotStart(ValueError):
    """The target cannot be imported or started at all: one line, exit 2, no report written."""


@dataclass
class Settings:
    """How a target is run: the per-case timeout, its own start-up timeout, workers, bounds."""
    timeout: float = DEFAULT_TIMEOUT
    startup_timeout: float = STARTUP_TIMEOUT
    jobs: int = 1
    limits: Limits = field(default_factory=Limits)

    def check(self):
        for name in ("timeout", "startup_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"--{name.replace('_', '-')} must be positive")
        if self.jobs < 1:
            raise ValueError("--jobs must be at least 1")
        if self.limits.max_line_bytes < 1024:
            raise ValueError("--max-line-bytes must be at least 1024")
        if self.limits.memory_limit is not None and self.limits.memory_limit < 1 << 20:
            raise ValueError("--memory-limit must be at least 1 MiB")
        return self

    def runner(self, spec):
        return Runner(spec, self.timeout, self.jobs, self.startup_timeout, self.limits)

    def session(self, spec):
        """One worker for cases played one at a time (the pytest plugin, fuzzing)."""
        return TargetSession(spec, self.timeout, self.startup_timeout, self.limits)

    def options(self):
        return {"timeout": self.timeout, "startup_timeout": self.startup_timeout, "jobs": self.jobs,
                "max_line_bytes": self.limits.max_line_bytes, "memory_limit": self.limits.memory_limit}


def select_cases(paths, keyword, profile, freeze=False):
    """(all loaded cases, the chosen ones, {reason: count} deselected); `freeze` for a process
    that lives only for this run."""
    import gc

    from conformance.catalog.cases import load_cases
    from conformance.catalog.select import select

    cases = load_cases(paths)
    if freeze:
        gc.freeze()  # the cases live as long as the run: keep them out of the collector's scans
    chosen, deselected = select(cases, keyword=keyword, profile=profile)
    return cases, chosen, deselected


def bundled_expectations(target, case_paths):
    """The suite's expectations file of a built-in target, applied when the suite's own cases run."""
    from conformance.catalog.paths import EXPECTATIONS_DIR
    from conformance.report.expectations import expectations_path

    path = expectations_path(EXPECTATIONS_DIR, target)
    return path if path.is_file() and not case_paths else None


@dataclass
class Outcome:
    """What `run_into_folder` did: the report, the exit status, the loaded cases by id."""
    report: dict
    status: int
    interrupted: int | None = None  # the signal's number, when the run was interrupted
    cases: dict = field(default_factory=dict)
    start_error: str | None = None
    expectations: object = None


def run_into_folder(spec, out_dir, case_paths=None, keyword=None, settings=None, *, expectations=None,
                    update_expectations=None, strict=False, use_bundled=True, quiet=False, verbose=False,
                    observations=False, runner=None, stream=None, own_process=False):
    """Run `spec` on the selected cases into the report folder `out_dir`; an Outcome.

    Raises NoCases, TargetCannotStart (before the folder is touched) and the loaders' errors.
    `runner`, when given, was launched early by the caller (and is closed by it); `own_process`:
    the process lives for this run only (`conformance run`), so the cases can be frozen.
    """
    from types import SimpleNamespace

    from conformance.report import write_junit, write_markdown
    from conformance.report.expectations import RunExpectations
    from conformance.report.progress import Progress

    stream = stream or sys.stderr
    settings = (settings or Settings()).check()
    own_runner = runner is None
    runner = runner or settings.runner(spec)
    runner.launch()
    try:
        with signals_as_interrupts() as signals:
            cases, chosen, deselected = select_cases(case_paths, keyword, spec.profile, freeze=own_process)
            if not chosen:
                raise NoCases(f"no case selected (profile {spec.profile}"
                              + (f", -k {keyword!r})" if keyword else ")"))
            options = {"cases": [str(p) for p in case_paths] if case_paths else ["<suite cases>"],
                       "keyword": keyword, **settings.options()}
            implicit = False
            if expectations is None and update_expectations is None and use_bundled:
                bundled = bundled_expectations(spec.name, case_paths)
                if bundled is not None:
                    implicit, expectations = True, str(bundled)
                    print(f"conformance: known deviations of {spec.name} from {bundled} are reported as xfail "
                          "(--no-expectations to turn this off)", file=stream)
            known = RunExpectations.from_args(SimpleNamespace(expectations=expectations, strict=strict,
                                                              update_expectations=update_expectations), spec.name)
            if known:
                options.update(known.options())
                known.warn_unmatched(cases)
                options["expectations_implicit"] = implicit
            # Fail fast: a target that cannot start at all leaves the report folder as it was.
            start_error = runner.wait_started()
            if start_error:
                raise TargetCannotStart(start_error)
            progress = Progress(len(chosen), enabled=not quiet, verbose=verbose)
            recorder = Recorder(out_dir, {"name": spec.name, "profile": spec.profile}, options, progress.update,
                                derived=(("junit.xml", write_junit), ("summary.md", write_markdown)))
            started, interrupted = time.perf_counter(), None
            with progress:
                try:
                    runner.run(chosen, known.wrap(recorder.add) if known else recorder.add)
                    signals.defer()  # from here on a signal waits until every report is written
                except KeyboardInterrupt as exc:
                    signals.defer()
                    interrupted = interrupt_status(exc) - 128
            if known and interrupted is None:
                known.before_finish(recorder, cases)
            report = recorder.finish(runner.implementation, interrupted is not None, deselected,
                                     round(time.perf_counter() - started, 3),
                                     selected=[c.id for c in chosen])
            out = Path(out_dir)
            by_id = {case.id: case for case in cases}
            write_junit(report, out / "junit.xml")
            write_markdown(report, out / "summary.md", cases=by_id)
            if observations and interrupted is None:
                failing_ids = {r["id"] for r in report["cases"] if r["status"] in ("fail", "error")}
                found = replay(spec, [c for c in chosen if c.id in failing_ids], settings)
                write_json(out / "observations.json", {"schema_version": 1, "target": spec.name, "cases": found})
            if interrupted is None and signals.pending:
                interrupted = signals.pending  # came while the reports were written: they are whole
    finally:
        if own_runner:
            runner.close()
    status = 128 + interrupted if interrupted is not None else exit_status(report, strict=strict)
    return Outcome(report, status, interrupted, by_id, runner.start_error, known)


def run_cases(spec, cases, settings=None, on_record=None, until=None):
    """Run loaded cases without a report folder: the records, in the order they finished.
    `until(record)` true stops the run after that record (a killed mutant needs no more)."""
    settings = (settings or Settings()).check()
    records, lock = [], threading.Lock()

    def add(record):
        with lock:
            records.append(record)
        if on_record:
            on_record(record)

    runner = settings.runner(spec)
    try:
        if cases:
            runner.run(list(cases), add, until=until)
    finally:
        runner.close()
    return records, runner


def replay(spec, cases, settings=None):
    """{case id: observations} for cases played once more in a fresh worker (targets are
    deterministic): the actual values the drill-down shows. Only the Worker API is used."""
    from conformance.run.transport import Worker, WorkerFailure

    settings = settings or Settings()
    if not cases:
        return {}
    worker, found = Worker(spec, settings.startup_timeout, settings.limits), {}
    try:
        worker.start()
        for case in cases:
            try:
                reply = worker.run(case.concrete(), settings.timeout)
            except WorkerFailure:
                worker = Worker(spec, settings.startup_timeout, settings.limits)
                worker.start()
                continue
            if isinstance(reply.get("steps"), list):
                wire = to_wire(reply["steps"])
                # A million-value array makes a drill-down page nobody reads: its verdict says enough.
                if len(json.dumps(wire)) <= MAX_OBSERVATION_BYTES:
                    found[case.id] = wire
    except Exception:  # noqa: BLE001 - the values are a convenience; the report stands without them
        pass
    finally:
        worker.stop()
    return found


def run_target(target, case_paths, keyword, out_dir, timeout, quiet=True, use_bundled=False):
    """One target (a name or a TargetSpec) into a report folder with observations.json beside
    report.json, raw verdicts unless `use_bundled`: report.json's data. Raises TargetCannotStart."""
    from conformance.targets import resolve

    spec = resolve(target) if isinstance(target, str) else target
    outcome = run_into_folder(spec, out_dir, case_paths, keyword, Settings(timeout=timeout),
                              use_bundled=use_bundled, quiet=quiet, observations=True)
    return outcome.report

"""The run pipeline: load -> select -> expectations -> runner -> records -> reports.

Every command that runs a target into a report folder goes through here.
"""

import json
import time
from pathlib import Path

from conformance.arrays import to_wire
from conformance.report.record import Recorder, write_json

MAX_OBSERVATION_BYTES = 1_000_000  # a failing case's actual values are kept up to this size


def run_target(name, case_paths, keyword, out_dir, timeout, quiet=True):
    """Run one target through the runner; write its report folder; return report.json's data."""
    from conformance.catalog.cases import load_cases
    from conformance.report.progress import Progress
    from conformance.report import write_junit, write_markdown
    from conformance.run.runner import Runner
    from conformance.catalog.select import select
    from conformance.targets import resolve

    spec = resolve(name)
    cases = load_cases(case_paths)
    chosen, deselected = select(cases, keyword=keyword, profile=spec.profile)
    options = {"cases": case_paths or ["<suite cases>"], "keyword": keyword, "timeout": timeout, "jobs": 1}
    progress = Progress(len(chosen), enabled=not quiet)
    recorder = Recorder(out_dir, {"name": spec.name, "profile": spec.profile}, options, progress.update)
    runner = Runner(spec, timeout=timeout, jobs=1)
    started = time.perf_counter()
    with progress:
        if chosen:
            runner.run(chosen, recorder.add)
    report = recorder.finish(runner.implementation, False, deselected, round(time.perf_counter() - started, 3))
    out = Path(out_dir)
    write_junit(report, out / "junit.xml")
    write_markdown(report, out / "summary.md")
    failing = [c for c in chosen if c.id in {r["id"] for r in report["cases"] if r["status"] in ("fail", "error")}]
    observations = replay(spec, failing, timeout)
    write_json(out / "observations.json", {"schema_version": 1, "target": spec.name, "cases": observations})
    if runner.start_error:
        report.setdefault("start_error", runner.start_error)
    return report


def replay(spec, cases, timeout):
    """{case id: observations} for cases played once more in a fresh worker (targets are
    deterministic): the actual values the drill-down shows. Only the Worker API is used."""
    from conformance.run.runner import Worker, WorkerFailure

    if not cases:
        return {}
    worker, found = Worker(spec), {}
    try:
        worker.start()
        for case in cases:
            try:
                reply = worker.run(case.concrete(), timeout)
            except WorkerFailure:
                worker = Worker(spec)
                worker.start()
                continue
            if "steps" in reply:
                wire = to_wire(reply["steps"])
                # A million-value array makes a drill-down page nobody reads: its verdict says enough.
                if len(json.dumps(wire)) <= MAX_OBSERVATION_BYTES:
                    found[case.id] = wire
    except Exception:  # noqa: BLE001 - the values are a convenience; the report stands without them
        pass
    finally:
        worker.stop()
    return found



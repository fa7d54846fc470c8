"""`conformance mutants`: the kill run of the mutant catalog (conformance/targets/mutants.py).

`conformance mutants` runs the suite (profile keras3) against every mutant: a
mutant is *killed* when at least one case fails, errors, crashes or times out
on it that passes on the unmutated reference; the kill rate is the share of
mutants killed, and each survivor names a bug that no case detects.
"""

import threading
import time
from dataclasses import dataclass

from conformance.run.runner import DEFAULT_TIMEOUT
from conformance.report.record import FAILING as KILLING_STATUSES
from conformance.targets.mutants import CATALOG, MUTANTS

# --------------------------------------------------------------------------- the kill run

@dataclass
class MutantResult:
    name: str
    description: str
    killed_by: str | None = None     # the id of a case that kills it
    status: str | None = None        # that case's status on the mutant
    message: str = ""
    cases_run: int = 0
    seconds: float = 0.0
    broken: str = ""                 # why the mutant could not be built (its patch no longer applies)

    @property
    def killed(self):
        return self.killed_by is not None and not self.broken

    def to_dict(self):
        return {"name": self.name, "description": self.description, "killed": self.killed,
                "killed_by": self.killed_by, "status": self.status, "message": self.message,
                "broken": self.broken, "cases_run": self.cases_run, "seconds": round(self.seconds, 3)}


def baseline(cases, jobs=2, timeout=DEFAULT_TIMEOUT):
    """{case id: status} of the unmutated reference, run through the same pipeline."""
    from conformance.run.pipeline import Settings, run_cases
    from conformance.targets import resolve

    records, _ = run_cases(resolve("reference"), cases, Settings(timeout=timeout, jobs=jobs))
    return {r.id: r.status for r in records}


def kill_run(cases, names=None, jobs=2, timeout=DEFAULT_TIMEOUT, on_result=None):
    """Run `cases` against each mutant (default: the control and the whole catalog).

    Returns (results, reference statuses). Each mutant runs through the pipeline's
    `run_cases` (`mutant:NAME`, one worker) and stops at the first case that kills it; cases
    that killed earlier mutants are tried first, so most mutants die within a few cases.
    Only cases that pass on the reference can kill.
    """
    from conformance.run.pipeline import Settings, run_cases
    from conformance.targets import resolve

    names = list(names or MUTANTS)
    reference = baseline(cases, jobs, timeout)
    candidates = [c for c in cases if reference.get(c.id) == "pass"]
    by_id = {c.id: c for c in candidates}
    killers, lock = [], threading.Lock()
    pending = list(names)
    results = {}
    settings = Settings(timeout=timeout, jobs=1)

    def one(name):
        mutant = MUTANTS[name]
        started = time.perf_counter()
        result = MutantResult(name, mutant.description)
        with lock:
            first = [by_id[i] for i in killers]
        order = list({c.id: c for c in first + candidates}.values())
        records, runner = run_cases(resolve(f"mutant:{name}"), order, settings,
                                    until=lambda r: r.status in KILLING_STATUSES)
        if runner.start_error:  # a mutant that cannot be built kills nothing
            result.broken = runner.start_error
        else:
            result.cases_run = len(records)
            killer = next((r for r in records if r.status in KILLING_STATUSES), None)
            if killer is not None:
                result.killed_by, result.status = killer.id, killer.status
                result.message = killer.verdict.get("message", "")
                with lock:
                    if killer.id not in killers:
                        killers.append(killer.id)
        result.seconds = time.perf_counter() - started
        return result

    def serve():
        while True:
            with lock:
                if not pending:
                    return
                name = pending.pop(0)
            result = one(name)
            with lock:
                results[name] = result
            if on_result:
                on_result(result)

    threads = [threading.Thread(target=serve, daemon=True) for _ in range(max(1, min(jobs, len(names))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
    return [results[n] for n in names], reference


# --------------------------------------------------------------------------- the command

def main(args):
    """`conformance mutants`: exit 0 when every mutant is killed (and the control is not), else 1."""
    import json
    import sys
    import warnings

    warnings.simplefilter("ignore", RuntimeWarning)  # the reference's NaN and overflow cases, computed here

    from conformance.catalog.cases import load_cases
    from conformance.catalog.select import select

    if args.list:
        for mutant in CATALOG:
            print(f"{mutant.name:48s} {mutant.description}")
        return 0
    unknown = [n for n in args.mutant or [] if n not in MUTANTS]
    if unknown:
        raise ValueError(f"unknown mutant(s) {', '.join(unknown)}; `conformance mutants --list` names them")
    cases, _ = select(load_cases(args.cases), keyword=args.keyword, profile="keras3")
    if not cases:
        raise ValueError("no case selected (profile keras3" + (f", -k {args.keyword!r})" if args.keyword else ")"))
    names = args.mutant or list(MUTANTS)
    started = time.perf_counter()
    lock = threading.Lock()

    def progress(result):
        if args.quiet:
            return
        with lock:
            verdict = (f"killed by {result.killed_by} ({result.status})" if result.killed
                       else "BROKEN" if result.broken else "SURVIVED")
            print(f"  mutant:{result.name}: {verdict} after {result.cases_run} cases, {result.seconds:.1f} s", flush=True)

    bugs = [n for n in names if n != "control"]
    print(f"{len(cases)} cases (profile keras3), {len(bugs)} mutants" + (" and the control" if "control" in names else "")
          + f", {args.jobs} at a time", flush=True)
    results, reference = kill_run(cases, names, jobs=args.jobs, timeout=args.timeout, on_result=progress)
    elapsed = time.perf_counter() - started
    not_passing = sorted(i for i, s in reference.items() if s != "pass")
    real = [r for r in results if r.name != "control"]
    killed = [r for r in real if r.killed]
    broken = [r for r in real if r.broken]
    survivors = [r for r in real if not r.killed and not r.broken]
    control = next((r for r in results if r.name == "control"), None)
    if not_passing:
        print(f"{len(not_passing)} cases do not pass on the reference and cannot kill: "
              + ", ".join(not_passing[:5]) + (" ..." if len(not_passing) > 5 else ""))
    rate = 100.0 * len(killed) / len(real) if real else 100.0
    print(f"kill rate: {len(killed)}/{len(real)} mutants killed ({rate:.1f}%) in {elapsed:.1f} s")
    for r in survivors:
        print(f"SURVIVED mutant:{r.name}: no case detects: {r.description}")
    for r in broken:
        print(f"BROKEN mutant:{r.name}: it could not be built, so it proves nothing: {r.broken}")
    if control is not None and control.killed:
        print(f"conformance: the control mutant (no bug) is killed by {control.killed_by}: the recurrence copy in "
              f"conformance/mutants.py no longer computes what the reference does: {control.message}", file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"cases": len(cases), "seconds": round(elapsed, 3), "kill_rate": rate,
                       "reference_not_passing": not_passing, "mutants": [r.to_dict() for r in results]}, out, indent=1)
    return 1 if survivors or broken or (control is not None and control.killed) else 0

"""The kill matrix and the quick tier computed from it.

The kill matrix says, for every mutant of the catalog (conformance/targets/mutants.py), which
cases kill it: a case kills a mutant when it passes on the reference and fails, errs or
raises on the mutant. Unlike `conformance mutants`, which stops at a mutant's first killer,
every (case, mutant) pair is judged, in this process: mutants are NumPy code like the
reference, so no worker is needed.

The quick tier (conformance/catalog/quick.json, read by conformance/catalog/quick.py) is a
greedy set cover over that matrix: the fewest and cheapest cases that together kill every
mutant and cite every item of both spec pages. `conformance mutants --kill-matrix FILE`
writes the matrix; `python -m conformance.tools.killmatrix` regenerates both files.
"""

import json
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from conformance.report.record import FAILING as KILLING_STATUSES
QUICK_FILE = Path(__file__).resolve().parents[1] / "catalog" / "quick.json"
KILL_MATRIX_FILE = Path(__file__).resolve().parents[2] / "reports" / "kill-matrix.json"
# What a case costs: its time in the published keras:jax run (the slowest Keras backend per case).
COSTS_FILE = Path(__file__).resolve().parents[2] / "reports" / "matrix" / "reports" / "keras_jax-66f8a6eb" / "report.json"
MAX_SHARE = 0.15  # the quick tier holds at most this share of the catalog


def _verdicts(job):
    """{case id: {mutant name: status}} for the cases (paths, ids) that pass on the reference."""
    from conformance.catalog.cases import load_cases
    from conformance.judge.compare import judge
    from conformance.judge.expected import expected_outcome
    from conformance.targets.mutants import MUTANTS, make_adapter
    from conformance.targets.reference import ReferenceAdapter
    from conformance.targets.steps import run_steps

    warnings.simplefilter("ignore", RuntimeWarning)
    paths, case_ids = job
    wanted = set(case_ids)
    result = {}
    for case in load_cases(paths):
        if case.id not in wanted:
            continue
        concrete = case.concrete()
        with np.errstate(all="ignore"):
            expected, variants = expected_outcome(concrete)
            if judge(concrete, expected, run_steps(ReferenceAdapter(), concrete), variants).status != "pass":
                continue
            statuses = {}
            for name in MUTANTS:
                try:
                    actual = run_steps(make_adapter(name), concrete)
                    statuses[name] = judge(concrete, expected, actual, variants).status
                except Exception as exc:  # noqa: BLE001 - a mutant that breaks the interpreter errs
                    statuses[name] = f"error: {exc}"
        result[case.id] = statuses
    return result


def kill_matrix(cases, jobs=2, paths=None):
    """({mutant name: sorted ids of the cases (profile keras3) that kill it}, the control included;
    the ids of the cases judged, i.e. those that pass on the reference). `paths`: the case files
    the cases were loaded from (default: the catalog)."""
    from conformance.targets.mutants import MUTANTS

    ids = [c.id for c in cases if "keras3" in c.profiles]
    chunks = [(paths, ids[i::jobs]) for i in range(jobs)]
    verdicts = {}
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            for part in pool.map(_verdicts, chunks):
                verdicts.update(part)
    else:
        verdicts = _verdicts((paths, ids))
    matrix = {name: [] for name in MUTANTS}
    for case_id, statuses in verdicts.items():
        for name, status in statuses.items():
            if status.split(":")[0] in KILLING_STATUSES:
                matrix[name].append(case_id)
    return {name: sorted(killers) for name, killers in matrix.items()}, sorted(verdicts)


def spec_items_cited(case):
    return {(ref["page"], ref["item"]) for ref in case.spec}


def greedy_cover(cases, matrix, costs=None, spec_items=None):
    """The quick tier: case ids, chosen greedily until every mutant but the control is killed and
    every spec item (page, item) that some case cites is cited; each pick maximises new coverage
    per unit of cost (seconds on a slow target), ties broken by id."""
    costs = costs or {}
    by_id = {c.id: c for c in cases}
    covers = {c.id: set() for c in cases}
    for name, killers in matrix.items():
        if name == "control":
            continue
        for case_id in killers:
            if case_id in covers:
                covers[case_id].add(("mutant", name))
    for case in cases:
        covers[case.id] |= {("item", *key) for key in spec_items_cited(case)}
    wanted = set().union(*covers.values())
    if spec_items is not None:
        wanted &= {("item", *key) for key in spec_items} | {w for w in wanted if w[0] == "mutant"}
    chosen, left = [], set(wanted)
    while left:
        best = max(sorted(covers), key=lambda i: (len(covers[i] & left) / (costs.get(i, 0.05) + 0.01),
                                                  -len(by_id[i].concrete()["steps"])))
        gain = covers[best] & left
        if not gain:
            break
        chosen.append(best)
        left -= gain
    return sorted(chosen), sorted(map(list, left))


def case_costs(report_path):
    """{case id: seconds} from a report.json (the published keras:jax run: the slowest per case)."""
    try:
        report = json.loads(Path(report_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {c["id"]: float(c.get("duration_s") or 0.05) for c in report.get("cases", [])}


def regenerate(jobs=2, costs_from=None, out=QUICK_FILE, matrix_out=None, tier_only=False):
    """Compute the kill matrix and the quick tier from the catalog; write quick.json (and the matrix).
    `tier_only`: keep the published matrix (the cases' steps and the mutants are unchanged), only
    choose the tier again (after a change of the cases' spec citations, say)."""
    from conformance.catalog.cases import load_cases

    started = time.perf_counter()
    cases = load_cases()
    if tier_only:
        matrix, judged, matrix_out = published_matrix(), None, None
    else:
        matrix, judged = kill_matrix(cases, jobs)
    costs = case_costs(costs_from) if costs_from else {}
    tier, uncovered = greedy_cover(cases, matrix, costs)
    data = {"about": "the quick tier: a greedy set cover of the kill matrix and the spec items "
                     "(python -m conformance.tools.killmatrix regenerates it)",
            "catalog_cases": len(cases), "cases": tier, "uncovered": uncovered,
            "kills": {name: killers[:1] and sorted(set(killers) & set(tier))[:3] for name, killers in matrix.items()}}
    Path(out).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    if matrix_out:
        write_matrix(matrix, judged, matrix_out)
    return data, matrix, time.perf_counter() - started


def published_matrix(path=KILL_MATRIX_FILE):
    """{mutant: killer case ids} from the published kill matrix, or None where there is none."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))["kill_matrix"]
    except (OSError, ValueError, KeyError):
        return None


def write_matrix(matrix, judged, path):
    """One line per mutant, so that a change of the catalog reads as a diff of the lines it changes."""
    rows = ",\n".join(f"  {json.dumps(name)}: {json.dumps(killers)}" for name, killers in sorted(matrix.items()))
    Path(path).write_text(f'{{"cases_judged": {len(judged)},\n "kill_matrix": {{\n{rows}\n }}\n}}\n', encoding="utf-8")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--costs", default=str(COSTS_FILE), help="a report.json whose case times are the costs")
    parser.add_argument("--kill-matrix", metavar="FILE", default=str(KILL_MATRIX_FILE),
                        help=f"where the whole kill matrix goes (default {KILL_MATRIX_FILE.relative_to(KILL_MATRIX_FILE.parents[1])})")
    parser.add_argument("--tier-only", action="store_true", help="choose the tier again from the published matrix")
    args = parser.parse_args()
    data, matrix, seconds = regenerate(args.jobs, args.costs, matrix_out=args.kill_matrix, tier_only=args.tier_only)
    print(f"{len(data['cases'])} of {data['catalog_cases']} cases in the quick tier "
          f"({100 * len(data['cases']) / data['catalog_cases']:.1f}%), {len(data['uncovered'])} uncovered, "
          f"{seconds:.0f} s")

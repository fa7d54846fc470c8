"""`conformance matrix`: several targets side by side (conformance/report/html.py renders them).

    conformance matrix --targets torch,flax,onnx,tfjs --out matrix/ [--cases PATH] [-k EXPR]
    conformance matrix --from-reports rep-a/,rep-b/ --out matrix/
"""

import sys
from pathlib import Path

from conformance.report.html import build, slug
from conformance.run.pipeline import NoCases, Settings, TargetCannotStart, run_into_folder


def main(args, settings=None):
    """Run each target through the pipeline (or read their reports), then build the matrix.
    Expectations apply as in `conformance run` unless --no-expectations (raw verdicts)."""
    out = Path(args.out)
    if bool(args.targets) == bool(args.from_reports):
        raise ValueError("give either --targets T1,T2,... or --from-reports DIR1,DIR2,...")
    status = 0
    if args.from_reports:
        dirs = [Path(d) for d in args.from_reports.split(",") if d.strip()]
        for d in dirs:
            if not (d / "report.json").is_file() and not (d.is_file() and d.name.endswith(".json")):
                raise ValueError(f"{d} has no report.json")
    else:
        from conformance.targets import resolve

        settings = settings or Settings(timeout=args.timeout).check()
        names = [t.strip() for t in args.targets.split(",") if t.strip()]
        specs = [resolve(name) for name in names]  # an unknown name fails before anything runs
        dirs = []
        for spec in specs:
            folder = out / "reports" / slug(spec.name)
            try:
                outcome = run_into_folder(spec, folder, args.cases, args.keyword, settings, quiet=args.quiet,
                                          use_bundled=not getattr(args, "no_expectations", False), observations=True)
            except TargetCannotStart as exc:  # the others still run; the command exits 2
                print(f"conformance: error: {exc}", file=sys.stderr)
                status = 2
                continue
            except NoCases as exc:
                raise ValueError(str(exc)) from None
            s = outcome.report["summary"]
            print(f"{spec.name}: {s['total']} cases: {s['pass']} pass, {s['fail']} fail, {s.get('error', 0)} error, "
                  f"{s.get('crash', 0)} crash, {s.get('timeout', 0)} timeout, {s['unsupported']} unsupported"
                  + (f", {s.get('xfail', 0)} xfail, {s.get('xpass', 0)} xpass" if outcome.expectations else ""))
            dirs.append(folder)
            if outcome.interrupted:
                return outcome.status
    if dirs:
        index = build(dirs, out, all_pages=not getattr(args, "failing_pages_only", False), cases=args.cases)
        print(f"matrix of {len(dirs)} targets: {index} and {out / 'matrix.md'}")
    return status

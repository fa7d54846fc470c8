"""`conformance matrix`: several targets side by side (conformance/report/html.py renders them).

    conformance matrix --targets torch,flax,onnx,tfjs --out matrix/ [--cases PATH] [-k EXPR]
    conformance matrix --from-reports rep-a/,rep-b/ --out matrix/
"""

from pathlib import Path

from conformance.report.html import build, slug
from conformance.run.pipeline import run_target


def main(args):
    out = Path(args.out)
    if bool(args.targets) == bool(args.from_reports):
        raise ValueError("give either --targets T1,T2,... or --from-reports DIR1,DIR2,...")
    if args.from_reports:
        dirs = [Path(d) for d in args.from_reports.split(",") if d.strip()]
        for d in dirs:
            if not (d / "report.json").is_file() and not (d.is_file() and d.name.endswith(".json")):
                raise ValueError(f"{d} has no report.json")
    else:
        if args.timeout <= 0:
            raise ValueError("--timeout must be positive")
        from conformance.targets import resolve

        names = [t.strip() for t in args.targets.split(",") if t.strip()]
        for name in names:
            resolve(name)  # an unknown name fails before anything runs
        dirs = []
        for name in names:
            folder = out / "reports" / slug(name)
            report = run_target(name, args.cases, args.keyword, folder, args.timeout, args.quiet)
            s = report["summary"]
            print(f"{name}: {s['total']} cases: {s['pass']} pass, {s['fail']} fail, {s.get('error', 0)} error, "
                  f"{s.get('crash', 0)} crash, {s.get('timeout', 0)} timeout, {s['unsupported']} unsupported")
            if report.get("start_error"):
                print(f"conformance: {report['start_error']}")
            dirs.append(folder)
    index = build(dirs, out, all_pages=not getattr(args, "failing_pages_only", False))
    print(f"matrix of {len(dirs)} targets: {index} and {out / 'matrix.md'}")
    return 0

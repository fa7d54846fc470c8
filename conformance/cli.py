"""The `conformance` command line: a thin face over the loader, runner and reporters.

Exit status: 0 when no case failed, errored, crashed or timed out; 1 when one
did; 2 for a usage or case-file error (a one-line message, no traceback).
"""

import argparse
import sys
import time
from pathlib import Path

from . import __version__
from .cases import CaseFileError, load_cases
from .progress import Progress
from .report import Recorder, exit_status
from .reporters import write_junit, write_markdown
from .runner import DEFAULT_TIMEOUT, Runner
from .select import KeywordError, select
from .targets import UnknownTarget, builtin_names, resolve

DEFAULT_TARGET = "keras:numpy"
DEFAULT_REPORT_DIR = "conformance-report"


class UsageError(Exception):
    pass


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, UnknownTarget, KeywordError) as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return 2
    except CaseFileError as exc:
        for problem in exc.problems:
            print(f"conformance: case file error: {problem}", file=sys.stderr)
        return 2


def _parser():
    parser = argparse.ArgumentParser(prog="conformance", description="Conformance suite for the Keras SimpleRNN layer.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the cases against a target and write reports")
    run.add_argument("--target", "-t", default=DEFAULT_TARGET,
                     help=f"what to test (default {DEFAULT_TARGET}): {', '.join(builtin_names())}, "
                          "package.module:factory, path/to/file.py:factory, exec:COMMAND")
    _add_case_options(run)
    run.add_argument("--report-dir", "-o", default=DEFAULT_REPORT_DIR, help=f"where reports go (default ./{DEFAULT_REPORT_DIR})")
    run.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help=f"seconds per case (default {DEFAULT_TIMEOUT:g})")
    run.add_argument("--jobs", "-j", type=int, default=1, help="worker processes for the target (default 1)")
    run.add_argument("--profile", choices=("keras2", "keras3"),
                     help="the spec profile of a factory or exec target (default keras3; built-in targets know theirs)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    run.set_defaults(func=cmd_run)

    lister = sub.add_parser("list", help="print the id of every case, one a line")
    _add_case_options(lister)
    lister.add_argument("--profile", choices=("keras2", "keras3"), help="only cases of this profile")
    lister.set_defaults(func=cmd_list)

    validate = sub.add_parser("validate", help="check case files against the schema")
    validate.add_argument("paths", nargs="*", help="files or folders (default: the suite's cases/)")
    validate.set_defaults(func=cmd_validate)
    return parser


def _add_case_options(parser):
    parser.add_argument("--cases", "-c", action="append", metavar="PATH",
                        help="case file or folder (repeatable; default: the suite's cases/)")
    parser.add_argument("-k", dest="keyword", metavar="EXPR",
                        help="select cases whose id or tags match, e.g. 'mask and not stateful'")


def cmd_list(args):
    cases = load_cases(args.cases)
    chosen, _ = select(cases, keyword=args.keyword, profile=args.profile)
    for case in chosen:
        print(case.id)
    return 0


def cmd_validate(args):
    from .cases import case_files, load_file

    problems, count = [], 0
    files = case_files(args.paths or None)
    ids = {}
    for path in files:
        cases, file_problems = load_file(path)
        problems.extend(file_problems)
        for case in cases:
            if case.id in ids:
                problems.append(f"{case.source} [{case.id}]: duplicate case id (first defined at {ids[case.id]})")
            ids.setdefault(case.id, case.source)
        count += len(cases)
    for problem in problems:
        print(f"conformance: case file error: {problem}", file=sys.stderr)
    if problems:
        return 2
    print(f"{len(files)} files, {count} cases: valid")
    return 0


def cmd_run(args):
    spec = resolve(args.target, profile=args.profile)
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    cases = load_cases(args.cases)
    chosen, deselected = select(cases, keyword=args.keyword, profile=spec.profile)
    if not chosen:
        raise UsageError(f"no case selected (profile {spec.profile}" + (f", -k {args.keyword!r})" if args.keyword else ")"))
    options = {"cases": args.cases or ["<suite cases>"], "keyword": args.keyword, "timeout": args.timeout, "jobs": args.jobs}
    progress = Progress(len(chosen), enabled=not args.quiet)
    recorder = Recorder(args.report_dir, {"name": spec.name, "profile": spec.profile}, options, progress.update)
    runner = Runner(spec, timeout=args.timeout, jobs=args.jobs)
    started, interrupted = time.perf_counter(), False
    with progress:
        try:
            runner.run(chosen, recorder.add)
        except KeyboardInterrupt:
            interrupted = True
    report = recorder.finish(runner.implementation, interrupted, deselected, round(time.perf_counter() - started, 3))
    out = Path(args.report_dir)
    write_junit(report, out / "junit.xml")
    write_markdown(report, out / "summary.md")
    s = report["summary"]
    print(f"{spec.name}: {s['total']} cases: {s['pass']} pass, {s['fail']} fail, {s['error']} error, "
          f"{s['crash']} crash, {s['timeout']} timeout, {s['unsupported']} unsupported"
          f"{' (interrupted)' if interrupted else ''} in {report['duration_s']:.1f} s; report in {out}/")
    if runner.start_error:
        print(f"conformance: {runner.start_error}", file=sys.stderr)
    if interrupted:
        return 130
    return exit_status(report)


if __name__ == "__main__":
    sys.exit(main())

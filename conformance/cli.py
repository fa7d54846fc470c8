"""The `conformance` command line: a thin face over the loader, runner and reporters.

Exit status: 0 when no case failed, errored, crashed or timed out; 1 when one
did; 2 for a usage or case-file error (a one-line message, no traceback).
"""

import argparse
import sys
import time
from pathlib import Path

from conformance import __version__
from conformance.run.runner import DEFAULT_TIMEOUT, Runner
from conformance.targets import UnknownTarget, builtin_names, resolve

# Only what parsing and starting workers need is imported up front: `conformance run`
# starts the target's workers first, and imports the rest while they load their framework.
DEFAULT_TARGET = "keras:numpy"
DEFAULT_REPORT_DIR = "conformance-report"
# The suite's record of the built-in targets' known deviations from the spec.
BUNDLED_EXPECTATIONS = Path(__file__).resolve().parents[1] / "expectations"


class UsageError(Exception):
    pass


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except _usage_errors() as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return 2
    except _case_file_error() as exc:
        for problem in exc.problems:
            print(f"conformance: case file error: {problem}", file=sys.stderr)
        return 2


# The except clauses name these only when an exception arrives, so their modules load lazily.
def _usage_errors():
    from conformance.report.expectations import ExpectationsError
    from conformance.catalog.select import KeywordError

    return (UsageError, UnknownTarget, KeywordError, ExpectationsError)


def _case_file_error():
    from conformance.catalog.cases import CaseFileError

    return CaseFileError


def _command(module, function):
    """A subcommand whose module is imported when it runs."""
    def run(args):
        import importlib

        return getattr(importlib.import_module(f"conformance.{module}"), function)(args)
    return run


def _parser():
    top = argparse.ArgumentParser(prog="conformance", description="Conformance suite for the Keras SimpleRNN layer.")
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

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
    run.add_argument("--expectations", "-e", metavar="FILE",
                     help="known failures of this target (YAML; a folder means FOLDER/<target>.yaml): "
                          "a listed failure is xfail, a listed case that passes xpass")
    run.add_argument("--update-expectations", metavar="FILE",
                     help="run with FILE's expectations (if it exists), then rewrite FILE from the run")
    run.add_argument("--strict", action="store_true", help="exit status 1 when a listed case passes (xpass)")
    run.add_argument("--no-expectations", action="store_true",
                     help="do not apply the suite's own expectations/<target>.yaml (the known deviations of "
                          "the built-in targets, applied by default)")
    run.set_defaults(func=cmd_run)

    lister = sub.add_parser("list", help="print the id of every case, one a line")
    _add_case_options(lister)
    lister.add_argument("--profile", choices=("keras2", "keras3"), help="only cases of this profile")
    lister.set_defaults(func=cmd_list)

    validate = sub.add_parser("validate", help="check case files against the schema")
    validate.add_argument("paths", nargs="*", help="files or folders (default: the suite's cases/)")
    validate.set_defaults(func=cmd_validate)

    smoke = sub.add_parser("smoke", help="check that a target's harness speaks the worker protocol (docs/protocol.md)")
    smoke.add_argument("--target", "-t", required=True, help="the target, e.g. tfjs or exec:'./my-harness'")
    smoke.add_argument("--profile", choices=("keras2", "keras3"), help="the profile sent in `start` (default keras3)")
    smoke.set_defaults(func=cmd_smoke)

    matrix = sub.add_parser("matrix", help="run several targets and write an HTML + Markdown matrix report")
    matrix.add_argument("--targets", "-T", help="comma-separated targets, e.g. torch,flax,onnx,tfjs")
    matrix.add_argument("--from-reports", metavar="DIRS", help="comma-separated report folders (report.json): run nothing")
    matrix.add_argument("--out", "-o", required=True, help="folder for the matrix (and, when running, each target's report)")
    _add_case_options(matrix)
    matrix.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help=f"seconds per case (default {DEFAULT_TIMEOUT:g})")
    matrix.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    matrix.add_argument("--failing-pages-only", action="store_true",
                        help="drill-down pages only for the cases that did not pass (a smaller matrix to publish)")
    matrix.set_defaults(func=cmd_matrix)

    cover = sub.add_parser("coverage", help="write the spec coverage report: what checks each argument, method and sentence")
    cover.add_argument("--cases", "-c", action="append", metavar="PATH", help="case file or folder (default: the suite's cases/)")
    cover.add_argument("--spec", metavar="DIR", help="folder of the two spec pages (default: ../shared/spec)")
    cover.add_argument("--out", "-o", default="coverage.md", help="Markdown report (default coverage.md); a .json beside it")
    cover.add_argument("--fail-under", type=float, default=None, metavar="PERCENT",
                       help="exit 1 when items or sentences are covered below PERCENT")
    cover.set_defaults(func=cmd_coverage)

    # Golden fixtures, run diffs and merges: conformance/fixtures.py, diff.py, merge.py.
    fix = sub.add_parser("fixtures", help="write golden fixtures (JSON manifests, .npy and JSON arrays) for "
                         "implementers in any language")
    fix.add_argument("--out", "-o", required=True, metavar="DIR", help="the fixture folder to write (or check)")
    _add_case_options(fix)
    fix.add_argument("--profile", choices=("keras2", "keras3"), help="only cases of this profile")
    fix.add_argument("--check", action="store_true",
                     help="write nothing: exit 1 when DIR differs from what would be written")
    fix.add_argument("--regenerate", action="store_true",
                     help="use the selection DIR/index.json records (its --cases, -k, --profile)")
    fix.set_defaults(func=_command("tools.fixtures", "cmd_fixtures"))

    differ = sub.add_parser("diff", help="compare two report.json files (or report folders) case by case; "
                            "exit 1 on regressions")
    differ.add_argument("old", help="the baseline: report.json or a report folder")
    differ.add_argument("new", help="the run to judge: report.json or a report folder")
    differ.add_argument("--markdown", metavar="FILE", help="also write the summary as Markdown (e.g. for a PR comment)")
    differ.add_argument("--json", metavar="FILE", help="also write the differences as JSON")
    differ.add_argument("--limit", type=int, default=50, help="cases listed per section (default 50)")
    differ.set_defaults(func=_command("report.diff", "cmd_diff"))

    merger = sub.add_parser("merge", help="merge the report folders of several runs (one per target) into one")
    merger.add_argument("sources", nargs="*", metavar="REPORT", help="report folders or report.json files")
    merger.add_argument("--from-reports", action="append", default=[], metavar="DIR1,DIR2",
                        help="report folders, comma-separated (repeatable); a folder with report folders below it")
    merger.add_argument("--out", "-o", required=True, metavar="DIR", help="where the merged report goes")
    merger.add_argument("--rename-duplicates", action="store_true", help="keep a target seen twice, as NAME-2")
    merger.add_argument("--gate", action="store_true", help="exit 1 when a case failed in any target")
    merger.set_defaults(func=_command("report.merge", "cmd_merge"))

    # Suite strength: docs/tolerances.md, conformance/mutants.py, conformance/fuzz.py.
    mutate = sub.add_parser("mutants", help="run the suite against every mutant of the reference and print the kill rate")
    _add_case_options(mutate)
    mutate.add_argument("--jobs", "-j", type=int, default=2, help="mutants run at once, one worker each (default 2)")
    mutate.add_argument("--mutant", "-m", action="append", metavar="NAME", help="only this mutant (repeatable)")
    mutate.add_argument("--timeout", type=float, default=60.0, help="seconds per case (default 60)")
    mutate.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    mutate.add_argument("--list", action="store_true", help="list the mutants and their bugs, run nothing")
    mutate.add_argument("--quiet", "-q", action="store_true", help="no line per mutant while running")
    mutate.set_defaults(func=cmd_mutants)

    fuzzer = sub.add_parser("fuzz", help="differential fuzzing of a target against the reference (Hypothesis)")
    fuzzer.add_argument("--target", "-t", required=True, help="the target, e.g. keras:jax or mutant:mask_ignored")
    fuzzer.add_argument("--examples", "-n", type=int, default=100, help="scenarios to draw (default 100)")
    fuzzer.add_argument("--seed", "-s", type=int, default=0, help="Hypothesis seed: the same seed replays the same run (default 0)")
    fuzzer.add_argument("--out", "-o", help="folder for the case file of a disagreement (default cases/found/)")
    fuzzer.add_argument("--max-shrinks", type=int, default=300, help="target runs spent on shrinking at most (default 300)")
    fuzzer.add_argument("--timeout", type=float, default=60.0, help="seconds per scenario (default 60)")
    fuzzer.add_argument("--profile", choices=("keras2", "keras3"), help="the profile of a factory or exec target")
    fuzzer.set_defaults(func=cmd_fuzz)
    return top


def _add_case_options(parser):
    parser.add_argument("--cases", "-c", action="append", metavar="PATH",
                        help="case file or folder (repeatable; default: the suite's cases/)")
    parser.add_argument("-k", dest="keyword", metavar="EXPR",
                        help="select cases whose id or tags match, e.g. 'mask and not stateful'")


def cmd_list(args):
    from conformance.catalog.cases import load_cases
    from conformance.catalog.select import select

    cases = load_cases(args.cases)
    chosen, _ = select(cases, keyword=args.keyword, profile=args.profile)
    for case in chosen:
        print(case.id)
    return 0


def cmd_validate(args):
    from conformance.catalog.cases import case_files, load_file

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
    # The workers import their framework while the case files are read.
    runner = Runner(spec, timeout=args.timeout, jobs=args.jobs)
    runner.launch()
    try:
        return _run(args, spec, runner)
    finally:
        runner.close()


def _run(args, spec, runner):
    import gc

    from conformance.catalog.cases import load_cases
    from conformance.report.expectations import RunExpectations, expectations_path
    from conformance.report.progress import Progress
    from conformance.report.record import Recorder, exit_status
    from conformance.report import write_junit, write_markdown
    from conformance.catalog.select import select

    cases = load_cases(args.cases)
    gc.freeze()  # the cases live as long as the run: keep them out of the collector's scans
    chosen, deselected = select(cases, keyword=args.keyword, profile=spec.profile)
    if not chosen:
        raise UsageError(f"no case selected (profile {spec.profile}" + (f", -k {args.keyword!r})" if args.keyword else ")"))
    options = {"cases": args.cases or ["<suite cases>"], "keyword": args.keyword, "timeout": args.timeout, "jobs": args.jobs}
    implicit = False
    if args.expectations is None and args.update_expectations is None and not args.no_expectations:
        bundled = expectations_path(BUNDLED_EXPECTATIONS, spec.name)
        if bundled.is_file() and args.cases is None:
            implicit = True
            args.expectations = str(bundled)
            print(f"conformance: known deviations of {spec.name} from {bundled} are reported as xfail "
                  "(--no-expectations to turn this off)", file=sys.stderr)
    known = RunExpectations.from_args(args, spec.name)
    if known:
        options.update(known.options())
        known.warn_unmatched(cases)
        options["expectations_implicit"] = implicit
    progress = Progress(len(chosen), enabled=not args.quiet)
    recorder = Recorder(args.report_dir, {"name": spec.name, "profile": spec.profile}, options, progress.update)
    started, interrupted = time.perf_counter(), False
    with progress:
        try:
            runner.run(chosen, known.wrap(recorder.add) if known else recorder.add)
        except KeyboardInterrupt:
            interrupted = True
    if known and not interrupted:
        known.before_finish(recorder, cases)
    report = recorder.finish(runner.implementation, interrupted, deselected, round(time.perf_counter() - started, 3))
    out = Path(args.report_dir)
    write_junit(report, out / "junit.xml")
    write_markdown(report, out / "summary.md")
    s = report["summary"]
    print(f"{spec.name}: {s['total']} cases: {s['pass']} pass, {s['fail']} fail, {s['error']} error, "
          f"{s['crash']} crash, {s['timeout']} timeout, {s['unsupported']} unsupported"
          + (f", {s['xfail']} xfail, {s['xpass']} xpass" if known else "") +
          f"{' (interrupted)' if interrupted else ''} in {report['duration_s']:.1f} s; report in {out}/")
    if runner.start_error:
        print(f"conformance: {runner.start_error}", file=sys.stderr)
    if interrupted:
        return 130
    return exit_status(report, strict=args.strict)


def cmd_coverage(args):
    import json

    from conformance.catalog.cases import load_cases
    from conformance.tools.coverage import SpecNotFound, coverage, find_spec_dir, render_markdown

    try:
        spec_dir = find_spec_dir(args.spec)
    except SpecNotFound as exc:
        raise UsageError(str(exc)) from None
    report = coverage(load_cases(args.cases), spec_dir)
    out = Path(args.out)
    out.write_text(render_markdown(report), encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    s = report["summary"]
    print(f"spec coverage: items {s['items_covered']}/{s['items']} ({s['item_percent']}%), "
          f"sentences {s['sentences_covered']}/{s['sentences']} ({s['sentence_percent']}%); report in {out}")
    if args.fail_under is not None and min(s["item_percent"], s["sentence_percent"]) < args.fail_under:
        return 1
    return 0


def cmd_smoke(args):
    from conformance.tools.smoke import smoke

    return smoke(args.target, profile=args.profile)


def cmd_matrix(args):
    from conformance.tools.matrix import main as matrix_main

    try:
        return matrix_main(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_mutants(args):
    from conformance.tools.mutants import main as mutants_main

    try:
        return mutants_main(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_fuzz(args):
    from conformance.tools.fuzz import main as fuzz_main

    try:
        return fuzz_main(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


if __name__ == "__main__":
    sys.exit(main())

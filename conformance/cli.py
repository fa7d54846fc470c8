"""The `conformance` command line: a thin face over the loader, runner and reporters.

Exit status: 0 when no case failed, errored, crashed or timed out; 1 when one
did; 2 for a usage or case-file error (a one-line message, no traceback).
"""

import argparse
import sys
from pathlib import Path

from conformance.catalog.paths import EXPECTATIONS_DIR
from conformance.run.runner import DEFAULT_TIMEOUT
from conformance.run.transport import MAX_LINE_BYTES, STARTUP_TIMEOUT
from conformance.targets import UnknownTarget, builtin_names, resolve

# Only what parsing and starting workers need is imported up front: `conformance run`
# starts the target's workers first, and imports the rest while they load their framework.
DEFAULT_TARGET = "keras:numpy"
DEFAULT_REPORT_DIR = "conformance-report"
# The suite's record of the built-in targets' known deviations from the spec.
BUNDLED_EXPECTATIONS = EXPECTATIONS_DIR


class UsageError(Exception):
    pass


INTERNAL_ERROR = 3  # an exception the suite did not expect: a bug of the suite, not of the input


def main(argv=None):
    """Run one command. Whatever goes wrong ends in one line on stderr, never a traceback:
    bad input of any kind exits 2, Ctrl-C 130, an unexpected exception (a bug of the suite)
    INTERNAL_ERROR. `--debug` (or CONFORMANCE_DEBUG=1) shows the traceback instead."""
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "quick", False):  # the quick tier is the cases tagged `quick`
        from conformance.catalog import quick
        args.keyword = quick.keyword(args.keyword)
    import os
    import signal

    from conformance.run.signals import interrupt_status, signals_as_interrupts

    debug = getattr(args, "debug", False) or os.environ.get("CONFORMANCE_DEBUG", "") not in ("", "0")
    try:
        # From the start: SIGTERM and SIGHUP stop a command as Ctrl-C does, also before a run has begun
        # (a worker launched early is ended, never left behind by the default action of a signal).
        with signals_as_interrupts():
            return args.func(args)
    except KeyboardInterrupt as exc:
        if debug:
            raise
        signum = getattr(exc, "signum", None)  # Ctrl-C says no more than that; another signal is named
        named = f" by {_signal_name(signum)}" if signum not in (None, signal.SIGINT) else ""
        print(f"conformance: interrupted{named}", file=sys.stderr)
        return interrupt_status(exc)
    except _case_file_error() as exc:
        if debug:
            raise
        for problem in exc.problems:
            print(f"conformance: case file error: {problem}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the one place that turns any error into one line
        if debug:
            raise
        return _one_line_error(exc)


def _one_line_error(exc):
    """Print the one line for an error and return the exit status (2, or INTERNAL_ERROR)."""
    from conformance.catalog.cases import printable

    if isinstance(exc, BrokenPipeError):  # the reader of stdout went away (`conformance list | head`)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 2
    if isinstance(exc, _usage_errors()):
        print(f"conformance: error: {printable(exc)}", file=sys.stderr)
        return 2
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"conformance: error: {printable(where + (exc.strerror or str(exc)))}", file=sys.stderr)
        return 2
    if isinstance(exc, MemoryError):
        print("conformance: error: out of memory", file=sys.stderr)
        return 2
    print(f"conformance: internal error of the suite: {type(exc).__name__}: {printable(exc, 500)} "
          "(rerun with --debug for the traceback, and please report it)", file=sys.stderr)
    return INTERNAL_ERROR


# The except clauses name these only when an exception arrives, so their modules load lazily.
def _usage_errors():
    from conformance.catalog.bounds import BoundError
    from conformance.catalog.select import KeywordError
    from conformance.report.expectations import ExpectationsError
    from conformance.report.record import ReportDirError, ReportError

    return (UsageError, UnknownTarget, KeywordError, ExpectationsError, ReportError, ReportDirError, BoundError)


def _case_file_error():
    from conformance.catalog.cases import CaseFileError

    return CaseFileError


def _command(module, function):
    """A subcommand whose module is imported when it runs."""
    def run(args):
        import importlib

        try:
            return getattr(importlib.import_module(f"conformance.{module}"), function)(args)
        except BrokenPipeError:  # `conformance targets | head`: the reader has all it wanted
            return _reader_gone()
    return run


def _reader_gone():
    """stdout's reader went away (a pipe into `head`): stop quietly, and say nothing more at exit."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a misspelled command gets one line naming the nearest one, not the usage block."""

    def error(self, message):
        import difflib
        import re

        choice = re.match(r"argument command: invalid choice: '([^']*)'", message)
        if choice and self.prog == "conformance":
            commands = next(a.choices for a in self._actions if isinstance(a, argparse._SubParsersAction))
            near = difflib.get_close_matches(choice[1], list(commands), n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else f"; the commands are {', '.join(commands)}"
            self.exit(2, f"conformance: error: no command {choice[1]!r}{hint}\n")
        super().error(message)


class _VersionAction(argparse.Action):
    """--version: the suite's version and the catalog's (computed from the case files only when asked)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the suite and catalog versions and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from conformance.catalog.paths import version_text

        print(version_text())
        parser.exit(0)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _parser():
    top = _Parser(prog="conformance", description="Conformance suite for the Keras SimpleRNN layer.")
    top.add_argument("--version", action=_VersionAction)
    top.add_argument("--debug", action="store_true",
                     help="show the traceback of an error instead of its one line (also CONFORMANCE_DEBUG=1)")
    sub = top.add_subparsers(dest="command", required=True, parser_class=argparse.ArgumentParser)

    run = sub.add_parser("run", help="run the cases against a target and write reports")
    run.add_argument("--target", "-t", default=DEFAULT_TARGET,
                     help=f"what to test (default {DEFAULT_TARGET}): {', '.join(builtin_names())}, "
                          "package.module:factory, path/to/file.py:factory, exec:COMMAND")
    _add_case_options(run)
    run.add_argument("--report-dir", "-o", default=DEFAULT_REPORT_DIR, help=f"where reports go (default ./{DEFAULT_REPORT_DIR})")
    _add_runner_options(run)
    run.add_argument("--jobs", "-j", type=_positive_int, default=1, help="worker processes for the target (default 1)")
    run.add_argument("--profile", choices=("keras2", "keras3"),
                     help="the spec profile of a factory or exec target (default keras3; built-in targets know theirs)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    run.add_argument("--verbose", "-v", action="store_true",
                     help="a line for every case that did not pass (by default the run ends with them grouped by cause)")
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

    targets = sub.add_parser("targets", help="list the built-in targets: can each run here, at which version, "
                             "and what installs it")
    targets.add_argument("--json", action="store_true", help="as JSON")
    targets.set_defaults(func=_command("tools.targets_info", "cmd_targets"))

    export = sub.add_parser("export-cases", help="write the expanded catalog as JSON, with its schema and "
                            "catalog version (for consumers in any language)")
    export.add_argument("--out", "-o", required=True, metavar="DIR", help="the folder to write")
    _add_case_options(export)
    export.add_argument("--profile", choices=("keras2", "keras3"), help="only cases of this profile")
    export.set_defaults(func=cmd_export_cases)

    smoke = sub.add_parser("smoke", help="check that a target's harness speaks the worker protocol (docs/protocol.md)")
    smoke.add_argument("--target", "-t", required=True, help="the target, e.g. tfjs or exec:'./my-harness'")
    smoke.add_argument("--profile", choices=("keras2", "keras3"), help="the profile sent in `start` (default keras3)")
    smoke.set_defaults(func=cmd_smoke)

    matrix = sub.add_parser("matrix", help="run several targets and write an HTML + Markdown matrix report")
    matrix.add_argument("--targets", "-T", help="comma-separated targets, e.g. torch,flax,onnx,tfjs")
    matrix.add_argument("--from-reports", metavar="DIRS", help="comma-separated report folders (report.json): run nothing")
    matrix.add_argument("--out", "-o", required=True, help="folder for the matrix (and, when running, each target's report)")
    _add_case_options(matrix)
    _add_runner_options(matrix)
    matrix.add_argument("--no-expectations", action="store_true",
                        help="raw verdicts: do not apply the suite's expectations/<target>.yaml, which `run` and "
                             "`matrix` apply alike by default (the published matrix uses this)")
    matrix.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    matrix.add_argument("--failing-pages-only", action="store_true",
                        help="drill-down pages only for the cases that did not pass (a smaller matrix to publish)")
    matrix.set_defaults(func=cmd_matrix)

    cover = sub.add_parser("coverage", help="write the spec coverage report: what checks each argument, method and sentence")
    cover.add_argument("--cases", "-c", action="append", metavar="PATH", help="case file or folder (default: the suite's cases/)")
    cover.add_argument("--spec", metavar="DIR", help="folder of the two spec pages (default: the suite's spec/)")
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
    differ.add_argument("--allow-removed", action="store_true",
                        help="cases of OLD missing from NEW do not fail the gate (they were removed on purpose)")
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
    mutate.add_argument("--jobs", "-j", type=_positive_int, default=2, help="mutants run at once, one worker each (default 2)")
    mutate.add_argument("--mutant", "-m", action="append", metavar="NAME", help="only this mutant (repeatable)")
    mutate.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help=f"seconds per case (default {DEFAULT_TIMEOUT:g})")
    mutate.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    mutate.add_argument("--list", action="store_true", help="list the mutants and their bugs, run nothing")
    mutate.add_argument("--kill-matrix", metavar="FILE",
                        help="instead of the kill run, judge every selected case on every mutant and write the "
                             "kill matrix (which case kills which mutant) as JSON (conformance/tools/killmatrix.py)")
    mutate.add_argument("--quiet", "-q", action="store_true", help="no line per mutant while running")
    mutate.set_defaults(func=cmd_mutants)

    fuzzer = sub.add_parser("fuzz", help="differential fuzzing of a target against the reference (Hypothesis)")
    fuzzer.add_argument("--target", "-t", required=True, help="the target, e.g. keras:jax or mutant:mask_ignored")
    fuzzer.add_argument("--examples", "-n", type=int, default=100, help="scenarios to draw (default 100)")
    fuzzer.add_argument("--seed", "-s", type=int, default=0, help="Hypothesis seed: the same seed replays the same run (default 0)")
    fuzzer.add_argument("--out", "-o", help="folder for the case file of a disagreement (default: cases/found/ in a "
                         "checkout of the suite, ./found-cases for an installed suite)")
    fuzzer.add_argument("--max-shrinks", type=int, default=300, help="target runs spent on shrinking at most (default 300)")
    fuzzer.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help=f"seconds per scenario (default {DEFAULT_TIMEOUT:g})")
    fuzzer.add_argument("--profile", choices=("keras2", "keras3"), help="the profile of a factory or exec target")
    fuzzer.set_defaults(func=cmd_fuzz)

    history = sub.add_parser("history", help="run the catalog on every release of a framework, each in its own "
                                             "cached environment, and write the trend; gate a candidate build")
    history.add_argument("--target", "-t", default=DEFAULT_TARGET,
                         help="keras:numpy (default), keras:jax, keras:tensorflow, keras2 (Keras 2.x with its "
                              "TensorFlow) or tf_keras")
    history.add_argument("--releases", "-r", help="comma-separated: 3.15.1, ranges 3.0..3.13 (the last patch of "
                         "each minor) or 3.14.0..3.15.1 (every release), wheel files, source checkouts")
    history.add_argument("--release", help="run only these of the releases (comma-separated): one per CI job")
    history.add_argument("--candidate", metavar="WHEEL_OR_CHECKOUT",
                         help="a build to gate: compared with the newest release, exit 1 on a regression")
    history.add_argument("--out", "-o", default="history", help="where reports and the trend go (default ./history)")
    history.add_argument("--cache", default=None, help="where the environments are kept "
                         "(default ~/.cache/simplernn-conformance/history)")
    history.add_argument("--base-python", help="the environment a local build is installed over "
                         "(default: the newest release's)")
    history.add_argument("--install-only", action="store_true", help="make the environments and stop")
    history.add_argument("--trend-only", action="store_true",
                         help="write the trend from stored reports (--from-reports, default --out) and stop")
    history.add_argument("--from-reports", action="append", metavar="DIR",
                         help="report folders of history runs (repeatable): CI artifacts or `conformance merge` output")
    history.add_argument("--drop-percent", type=float, default=10.0,
                         help="flag a release whose pass count falls by more than this (default 10)")
    history.add_argument("-k", dest="keyword", metavar="EXPR", help="select cases, as for run")
    history.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help=f"seconds per case (default {DEFAULT_TIMEOUT:g})")
    history.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    history.set_defaults(func=_command("tools.history", "cmd_history"))
    for command in sub.choices.values():  # --debug also after the command's name
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return top


def _size(text):
    """A byte count such as 4G, 512M, 64K or 1000000."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    text = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        return int(float(text[:-1]) * units[text[-1]]) if text and text[-1] in units else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 4G, 512M, 1000000)") from None


def _add_runner_options(parser):
    """The timeouts and bounds of the workers (docs/guarantees.md)."""
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help=f"seconds per case (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--startup-timeout", type=float, default=STARTUP_TIMEOUT, metavar="S",
                        help=f"seconds a worker may take to start, importing its framework (default {STARTUP_TIMEOUT:g})")
    parser.add_argument("--memory-limit", type=_size, metavar="SIZE",
                        help="address space of each worker process (RLIMIT_AS), e.g. 8G (default: no limit)")
    parser.add_argument("--max-line-bytes", type=_size, default=MAX_LINE_BYTES, metavar="SIZE",
                        help=f"the longest protocol line a target may write (default {MAX_LINE_BYTES >> 20}M)")


def _add_case_options(parser):
    parser.add_argument("--cases", "-c", action="append", metavar="PATH",
                        help="case file or folder (repeatable; default: the suite's cases/)")
    parser.add_argument("-k", dest="keyword", metavar="EXPR",
                        help="select cases whose id or tags match, e.g. 'mask and not stateful'")
    parser.add_argument("--quick", action="store_true",
                        help="only the quick tier (the per-commit subset that kills every mutant: "
                             "conformance/catalog/quick.py); the same as -k quick")


def cmd_list(args):
    from conformance.catalog.cases import load_cases
    from conformance.catalog.select import select

    cases = load_cases(args.cases)
    chosen, _ = select(cases, keyword=args.keyword, profile=args.profile)
    if not chosen:
        raise UsageError("no case selected" + (f" (-k {args.keyword!r})" if args.keyword else ""))
    try:
        for case in chosen:
            print(case.id)
        sys.stdout.flush()
    except BrokenPipeError:  # `conformance list | head`
        return _reader_gone()
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
    from conformance.run.pipeline import NoCases, TargetCannotStart, run_into_folder
    from conformance.run.signals import Interrupted, interrupt_status

    spec = resolve(args.target, profile=args.profile)
    settings = _settings(args)
    # The workers import their framework while the case files are read.
    runner = settings.runner(spec)
    try:
        runner.launch()
        outcome = run_into_folder(
            spec, args.report_dir, args.cases, args.keyword, settings, expectations=args.expectations,
            update_expectations=args.update_expectations, strict=args.strict, use_bundled=not args.no_expectations,
            quiet=args.quiet, verbose=args.verbose, runner=runner, own_process=True)
    except (NoCases, TargetCannotStart) as exc:
        raise UsageError(str(exc)) from None
    except Interrupted as exc:  # before any case ran: nothing was written
        print(f"conformance: interrupted by {_signal_name(exc.signum)} before any case ran", file=sys.stderr)
        return interrupt_status(exc)
    finally:
        runner.close()
    report, out = outcome.report, Path(args.report_dir)
    s = report["summary"]
    _print_groups(report, outcome.cases)
    print(f"{spec.name}: {s['total']} cases: {s['pass']} pass, {s['fail']} fail, {s['error']} error, "
          f"{s['crash']} crash, {s['timeout']} timeout, {s['unsupported']} unsupported"
          + (f", {s['xfail']} xfail, {s['xpass']} xpass" if outcome.expectations else "") +
          (f" (interrupted by {_signal_name(outcome.interrupted)})" if outcome.interrupted else "") +
          f" in {report['duration_s']:.1f} s; report in {out}/")
    done = report.get("completeness") or {}
    if not done.get("complete", True):
        print(f"conformance: {done.get('selected')} cases selected, {done.get('recorded')} recorded",
              file=sys.stderr)
    if runner.start_error:
        print(f"conformance: {runner.start_error}", file=sys.stderr)
    return outcome.status


def _signal_name(signum):
    import signal

    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _settings(args):
    """The runner's Settings from a command's options (run/pipeline.py checks them)."""
    from conformance.run.pipeline import Settings
    from conformance.run.transport import Limits

    def given(name, default):
        value = getattr(args, name, None)
        return default if value is None else value

    limits = Limits(max_line_bytes=given("max_line_bytes", MAX_LINE_BYTES), memory_limit=given("memory_limit", None))
    try:
        return Settings(timeout=args.timeout, startup_timeout=given("startup_timeout", STARTUP_TIMEOUT),
                        jobs=given("jobs", 1), limits=limits).check()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _print_groups(report, cases):
    """The failures of a run grouped by cause, each with a rerun command (report/grouping.py)."""
    from conformance.report.grouping import group_report, render_text

    text = render_text(group_report(report, cases))
    if text:
        print(text + "\n")


def cmd_coverage(args):
    import json

    from conformance.catalog.cases import load_cases
    from conformance.tools.coverage import SpecNotFound, coverage, find_spec_dir, render_markdown

    try:
        spec_dir = find_spec_dir(args.spec)
    except SpecNotFound as exc:
        raise UsageError(str(exc)) from None
    from conformance.tools.killmatrix import published_matrix

    report = coverage(load_cases(args.cases), spec_dir, kill_matrix=published_matrix())
    out = Path(args.out)
    out.write_text(render_markdown(report), encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    s = report["summary"]
    print(f"spec coverage: items {s['items_covered']}/{s['items']} ({s['item_percent']}%), "
          f"sentences {s['sentences_covered']}/{s['sentences']} ({s['sentence_percent']}%)"
          + (f", {s['sentences_checked']}/{s['sentences_broken_by_a_mutant']} sentences that a mutant breaks "
             "checked by a case citing them" if "sentences_checked" in s else "") + f"; report in {out}")
    if args.fail_under is not None and min(s["item_percent"], s["sentence_percent"]) < args.fail_under:
        return 1
    return 0


def cmd_smoke(args):
    from conformance.tools.smoke import smoke

    return smoke(args.target, profile=args.profile)


def cmd_matrix(args):
    from conformance.tools.matrix import main as matrix_main

    from conformance.run.signals import Interrupted, interrupt_status

    settings = _settings(args) if args.targets else None
    try:
        return matrix_main(args, settings)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except Interrupted as exc:
        print(f"conformance: interrupted by {_signal_name(exc.signum)}", file=sys.stderr)
        return interrupt_status(exc)


def cmd_mutants(args):
    from conformance.tools.mutants import main as mutants_main

    if args.kill_matrix:
        from conformance.catalog.cases import load_cases
        from conformance.catalog.select import select
        from conformance.tools.killmatrix import kill_matrix, write_matrix

        cases, _ = select(load_cases(args.cases), keyword=args.keyword, profile="keras3")
        if not cases:
            raise UsageError("no case selected (profile keras3)")
        matrix, judged = kill_matrix(cases, args.jobs, args.cases)
        write_matrix(matrix, judged, args.kill_matrix)
        print(f"kill matrix of {len(judged)} cases and {len(matrix)} mutants in {args.kill_matrix}")
        return 0

    try:
        return mutants_main(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_export_cases(args):
    from conformance.tools.export_cases import cmd_export_cases as export

    try:
        return export(args)
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

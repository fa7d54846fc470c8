"""`conformance history`: the catalog across the releases of a framework, and a gate for candidate builds.

    conformance history --target keras:numpy --releases 3.0..3.13,3.14.0..3.15.1 --out DIR
    conformance history --target keras:numpy --releases 3.15.1 --candidate dist/keras-3.16.0.dev0.whl --out DIR

Each release is installed into its own cached environment (tools/envs.py), run
through the ordinary run pipeline with that environment's Python as the
worker, and stored as DIR/releases/<release>/ (report.json, junit.xml,
summary.md; report.json also says how the environment was made). The trend
(tools/trend.py) is then written from the stored reports alone, so the
reports of a CI job matrix (one `--release` a job), gathered or merged with
`conformance merge`, give the same trend with `--trend-only`.

Releases: comma-separated; `A..B` with two-part bounds (3.0..3.13) is the last
patch of every minor in between, with three-part bounds (3.14.0..3.15.1) every
release in between; a wheel file or a source checkout is a local build,
installed without dependencies over the environment of the newest release
listed (or over --base-python). `--candidate` adds one local build and compares
it with the newest release: exit 1 when a case that did not fail there fails.
"""

import json
import re
import shutil
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from conformance.targets import QUIET_ENV, TargetSpec
from conformance.tools.envs import DEFAULT_CACHE, EnvError, ensure_env, env_info, layered_env, published
from conformance.tools.trend import version_key

WORKER = ["-m", "conformance.run.worker"]

# The TensorFlow each Keras 3 minor was released with (the newest TensorFlow out when it came out
# that accepts Keras 3; before TensorFlow 2.16 none did).
TF_FOR_KERAS3 = {(3, 0): "2.16.2", (3, 1): "2.16.2", (3, 2): "2.16.2", (3, 3): "2.16.2", (3, 4): "2.16.2",
                 (3, 5): "2.17.1", (3, 6): "2.18.1", (3, 7): "2.18.1", (3, 8): "2.18.1", (3, 9): "2.19.1",
                 (3, 10): "2.19.1", (3, 11): "2.20.0", (3, 12): "2.20.0", (3, 13): "2.20.0",
                 (3, 14): "2.21.0", (3, 15): "2.21.0"}
# The Keras 2 package shipped with TensorFlow up to 2.15 (then tf_keras).
TF_FOR_KERAS2 = {(2, 12): "2.12.1", (2, 13): "2.13.1", (2, 14): "2.14.1", (2, 15): "2.15.1"}
# tf_keras X.Y requires TensorFlow X.Y, sometimes published after it (tf_keras 2.19.0 before
# TensorFlow 2.19.0): pinned, so that its upload date counts too.
TF_FOR_TF_KERAS = {(2, m): v for m, v in ((16, "2.16.2"), (17, "2.17.1"), (18, "2.18.1"), (19, "2.19.1"),
                                          (20, "2.20.0"), (21, "2.21.0"))}


RELEASE_NUMBER = re.compile(r"\d+(\.\d+)*([a-z]+\d*)?(\.post\d+|\.dev\d+)?")


class HistoryError(ValueError):
    """A usage error: a one-line message."""


def minor(version):
    return tuple(int(p) for p in version.split(".")[:2])


@dataclass
class Family:
    """How the releases of one target are installed and run."""
    target: str          # keras:numpy, keras:tensorflow, keras:jax, keras2, tf_keras
    package: str         # the distribution whose releases are listed
    profile: str
    adapter: str
    argument: str | None
    backend: str | None = None

    def requirements(self, version):
        if self.target == "keras:tensorflow":
            return [f"keras=={version}", f"tensorflow-cpu=={_pick(TF_FOR_KERAS3, version)}"]
        if self.target == "keras2":
            return [f"tensorflow-cpu=={_pick(TF_FOR_KERAS2, version)}", f"keras=={version}"]
        if self.target == "tf_keras":
            return [f"tf_keras=={version}", f"tensorflow=={_pick(TF_FOR_TF_KERAS, version)}"]
        return [f"{self.package}=={version}"]

    def dated(self, version):
        """The pinned (package, version) pairs whose upload dates set the environment's date."""
        return [tuple(r.split("==")) for r in self.requirements(version)]

    def env_name(self, version):
        return f"{self.target.replace(':', '-')}-{version}"

    def spec(self, python, label):
        env = dict(QUIET_ENV)
        if self.backend:
            env["KERAS_BACKEND"] = self.backend
        return TargetSpec(f"{self.target}@{label}", self.adapter, self.argument, self.profile, env=env,
                          command=[str(python), *WORKER])

    def probe(self):
        """What the worker will import, as a snippet (run with the suite's source on PYTHONPATH)."""
        message = {"adapter": self.adapter, "argument": self.argument, "profile": self.profile}
        backend = f"import os; os.environ['KERAS_BACKEND'] = {self.backend!r}\n" if self.backend else ""
        return backend + f"from conformance.targets import load_adapter; load_adapter({message!r})"


def _pick(table, version):
    try:
        return table[minor(version)]
    except KeyError:
        raise HistoryError(f"no TensorFlow known for release {version}: the table knows "
                           f"{', '.join('.'.join(map(str, k)) for k in table)}") from None


FAMILIES = {
    **{f"keras:{b}": Family(f"keras:{b}", "keras", "keras3", "conformance.targets.keras3:make_adapter", b, b)
       for b in ("numpy", "jax", "tensorflow")},
    "keras2": Family("keras2", "keras", "keras2", "conformance.targets.tf_keras:make_adapter", "keras"),
    "tf_keras": Family("tf_keras", "tf_keras", "keras2", "conformance.targets.tf_keras:make_adapter", None),
}


# ---------------------------------------------------------------- which releases

@dataclass
class Release:
    label: str                 # the release number, or a local build's version
    local: Path | None = None  # a wheel file or a source checkout

    @property
    def is_local(self):
        return self.local is not None


def select_releases(text, family, available=None):
    """The releases `--releases` names, oldest first; `available` lists the published ones
    (looked up on PyPI when a range needs them)."""
    chosen = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        path = Path(item)
        if RELEASE_NUMBER.fullmatch(item):
            chosen.append(Release(item))
        elif item.endswith(".whl") or "/" in item or path.exists():
            chosen.append(Release(local_version(path), path.resolve()))
        elif ".." in item:
            low, high = (s.strip() for s in item.split("..", 1))
            if available is None:
                available = published(family.package)
            if low.count(".") == 1 and high.count(".") == 1:  # the last patch of each minor
                last = {}
                for v in available:
                    if re.fullmatch(r"\d+\.\d+\.\d+", v) and minor(low) <= minor(v) <= minor(high):
                        last[minor(v)] = max(last.get(minor(v), v), v, key=version_key)
                found = sorted(last.values(), key=version_key)
            else:
                found = sorted((v for v in available if re.fullmatch(r"\d+\.\d+\.\d+", v)
                                and version_key(low) <= version_key(v) <= version_key(high)), key=version_key)
            if not found:
                raise HistoryError(f"no {family.package} release in {item}")
            chosen.extend(Release(v) for v in found)
        else:
            raise HistoryError(f"--releases: {item!r} is neither a release number, a range A..B, "
                               "a wheel file nor a source checkout")
    unique = {r.label: r for r in chosen}
    published_ones = sorted((r for r in unique.values() if not r.is_local), key=lambda r: version_key(r.label))
    return published_ones + [r for r in unique.values() if r.is_local]


def local_version(path):
    """The version a wheel file or a source checkout of the framework would install as."""
    path = Path(path)
    if not path.exists():
        raise HistoryError(f"{path}: no such file or folder")
    if path.suffix == ".whl":
        parts = path.name.split("-")
        if len(parts) < 5:
            raise HistoryError(f"{path.name} is not a wheel file name (name-version-python-abi-platform.whl)")
        try:
            zipfile.ZipFile(path).close()
        except zipfile.BadZipFile:
            raise HistoryError(f"{path} is not a wheel (not a zip file)") from None
        return parts[1]
    for name in ("keras/src/version.py", "keras/version.py", "tf_keras/src/__init__.py"):
        file = path / name
        if file.is_file():
            found = re.search(r"__version__\s*=\s*[\"']([^\"']+)[\"']", file.read_text(encoding="utf-8"))
            if found:
                return found[1]
    raise HistoryError(f"{path}: neither a wheel file nor a source checkout with a version file")


# ---------------------------------------------------------------- running

def install(family, releases, cache, base_python=None, log=print):
    """{label: (python or None, why not)}: each release's environment, made or reused."""
    ready, base = {}, base_python
    for release in releases:
        if release.is_local:
            continue
        started = time.perf_counter()
        try:
            python = ensure_env(Path(cache) / family.env_name(release.label), family.requirements(release.label),
                                family.probe(), family.dated(release.label), log=log)
            ready[release.label] = (python, None)
            base = python if base_python is None else base_python
            took = time.perf_counter() - started
            log(f"{family.target} {release.label}: environment ready ({took:.0f} s)")
        except (EnvError, HistoryError) as exc:
            ready[release.label] = (None, str(exc))
            log(f"{family.target} {release.label}: cannot be installed: {exc}")
    for release in releases:
        if not release.is_local:
            continue
        if base is None:
            ready[release.label] = (None, "a local build installs over a release's environment: "
                                          "list a release too, or give --base-python")
            continue
        try:
            ready[release.label] = (layered_env(Path(cache) / "local", release.local, base, family.probe(), log=log),
                                    None)
        except EnvError as exc:
            ready[release.label] = (None, str(exc))
    return ready


def launch(family, release, python, timeout):
    """The release's runner, its workers started: they import the framework while the release
    before runs (its catalog still runs alone)."""
    from conformance.run.pipeline import Settings

    runner = Settings(timeout=timeout).runner(family.spec(python, release.label))
    runner.launch()
    return runner


def run_release(family, release, python, out, keyword, timeout, quiet=True, runner=None):
    """Run the catalog on one release through the run pipeline (raw verdicts: no expectations)
    and store its report folder; report.json also records how the environment was made."""
    from conformance.report.record import write_json
    from conformance.run.pipeline import Settings, TargetCannotStart, run_into_folder

    folder = Path(out) / "releases" / release.label
    if folder.exists():
        shutil.rmtree(folder)
    spec = family.spec(python, release.label)
    try:
        outcome = run_into_folder(spec, folder, None, keyword, Settings(timeout=timeout),
                                  use_bundled=False, quiet=quiet, runner=runner)
    except TargetCannotStart as exc:
        return None, str(exc)
    finally:
        if runner is not None:
            runner.close()
    report = outcome.report
    env = env_info(Path(python).parents[1]) or {}
    report["release"] = {"target": family.target, "label": release.label,
                         "local": str(release.local) if release.local else None,
                         "requested": env.get("requested"), "over": env.get("over"), "released": env.get("released"),
                         "uploaded_prior_to": env.get("uploaded_prior_to"), "packages": env.get("packages")}
    write_json(folder / "report.json", report)
    return report, None


def main(args):
    from conformance.tools import trend

    out = Path(args.out)
    if args.trend_only:
        sources = args.from_reports or [str(out)]
        written = trend.write_trend(sources, out, drop_percent=args.drop_percent)
        _say_drops(written)
        print(f"conformance history: trend of {written['releases']} releases in {out}/trend.md")
        return 0
    if args.target not in FAMILIES:
        raise HistoryError(f"history knows the targets {', '.join(FAMILIES)}, not {args.target!r}")
    if not args.releases and not args.candidate:
        raise HistoryError("give --releases (and/or --candidate)")
    family = FAMILIES[args.target]
    try:
        releases = select_releases(args.releases or "", family)
        if args.candidate:
            candidate = Release(local_version(args.candidate), Path(args.candidate).resolve())
            if candidate.label in {r.label for r in releases}:  # a build of the release itself
                candidate.label += "+candidate"
            releases.append(candidate)
    except EnvError as exc:
        raise HistoryError(str(exc)) from None
    if args.release:
        wanted = set(args.release.split(","))
        unknown = wanted - {r.label for r in releases}
        if unknown:
            raise HistoryError(f"--release {', '.join(sorted(unknown))} is not among the releases "
                               f"({', '.join(r.label for r in releases)})")
        releases = [r for r in releases if r.label in wanted or (args.candidate and r.is_local)]
    print(f"conformance history: {family.target}, {len(releases)} releases: "
          f"{', '.join(r.label for r in releases)}", file=sys.stderr)
    started = time.perf_counter()
    envs = install(family, releases, args.cache, args.base_python,
                   log=lambda line: print(line, file=sys.stderr))
    install_s = time.perf_counter() - started
    not_installed = {label: why for label, (python, why) in envs.items() if python is None}
    out.mkdir(parents=True, exist_ok=True)
    _record_not_installed(out, family, not_installed)
    if args.install_only:
        print(f"conformance history: {len(envs) - len(not_installed)} environments ready in {install_s:.0f} s"
              + (f"; not installable: {', '.join(not_installed)}" if not_installed else ""))
        return 1 if not_installed else 0
    started = time.perf_counter()
    runnable = [r for r in releases if envs[r.label][0] is not None]
    upcoming = launch(family, runnable[0], envs[runnable[0].label][0], args.timeout) if runnable else None
    try:
        for i, release in enumerate(runnable):
            runner = upcoming
            upcoming = launch(family, runnable[i + 1], envs[runnable[i + 1].label][0], args.timeout) \
                if i + 1 < len(runnable) else None
            report, problem = run_release(family, release, envs[release.label][0], out, args.keyword, args.timeout,
                                          quiet=args.quiet, runner=runner)
            if report is None:
                not_installed[release.label] = f"installs, but the target does not start: {problem}"
                print(f"{family.target} {release.label}: {not_installed[release.label]}", file=sys.stderr)
                continue
            s = report["summary"]
            print(f"{family.target} {release.label}: {s['pass']} pass, {s['fail']} fail, {s['error']} error, "
                  f"{s['unsupported']} unsupported, {s['crash'] + s['timeout']} crash/timeout "
                  f"in {report['duration_s']:.1f} s", file=sys.stderr)
    finally:
        if upcoming is not None:  # an interrupted history leaves no worker behind
            upcoming.close()
    run_s = time.perf_counter() - started
    _record_not_installed(out, family, not_installed, ran=[r.label for r in releases])
    written = trend.write_trend([str(out)], out, drop_percent=args.drop_percent)
    _say_drops(written)
    print(f"conformance history: {len(releases) - len(not_installed)} releases run in {run_s:.1f} s "
          f"(installs {install_s:.1f} s); trend in {out}/trend.md")
    if args.candidate:
        return gate(out, releases, candidate.label)
    return 0


def gate(out, releases, candidate_label):
    """Compare the candidate's report with the newest release's (report/diff.py); 1 on a regression."""
    from conformance.report.diff import compare, load_runs, render

    baseline = [r for r in releases if r.label != candidate_label]
    if not baseline:
        raise HistoryError("--candidate needs a release to compare with: give --releases")
    old_label = baseline[-1].label
    paths = [Path(out) / "releases" / label / "report.json" for label in (old_label, candidate_label)]
    if not all(p.is_file() for p in paths):
        print(f"conformance history: no report for {old_label} or the candidate; the gate fails", file=sys.stderr)
        return 1
    old, _ = load_runs(paths[0])
    new, _ = load_runs(paths[1])
    result = compare({k[1]: v for k, v in old.items()}, {k[1]: v for k, v in new.items()})
    result = {k: [(("", key), a, b) for key, a, b in v] for k, v in result.items()}
    sys.stdout.write(render(result, f"{old_label} (last release)", f"{candidate_label} (candidate)"))
    return 1 if result["regressions"] else 0


def _say_drops(written):
    for drop in written["drops"]:
        print(f"conformance history: SUDDEN DROP in {drop['target']} {drop['release']}: {drop['why']}",
              file=sys.stderr)


def _record_not_installed(out, family, not_installed, ran=()):
    """OUT/not-installed.json: the releases that cannot be run here and why (the trend lists
    them); a release that ran since is taken off."""
    path = Path(out) / "not-installed.json"
    known = json.loads(path.read_text())["releases"] if path.is_file() else {}
    known = {k: v for k, v in known.items() if k not in ran or k in not_installed}
    known.update(not_installed)
    path.write_text(json.dumps({"target": family.target, "releases": dict(
        sorted(known.items(), key=lambda kv: version_key(kv[0])))}, indent=1) + "\n")


def cmd_history(args):
    """`conformance history`: a one-line message and exit 2 for what cannot be done at all."""
    from conformance.tools.trend import TrendError

    if args.cache is None:
        args.cache = str(DEFAULT_CACHE)
    if args.drop_percent < 0:
        print("conformance: error: --drop-percent must not be negative", file=sys.stderr)
        return 2
    try:
        return main(args)
    except (HistoryError, TrendError, EnvError) as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return 2

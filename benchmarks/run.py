"""Benchmarks of the suite, in one run on one machine: `python benchmarks/run.py`.

Reports (benchmarks/results.json and results.md):
- the full catalog on `reference` and on each Keras backend: wall time (the whole
  `conformance run` command, as a user waits for it), cases per second, the workers' start-up
  (importing the framework), the time inside the target's own calls (as the worker measures
  it around the case's steps), and the harness overhead: the rest of the wall time (reading
  the cases, the reference's expected values, the wire, comparing, reporting, process exits);
- Keras's own SimpleRNN test file (shipped in the keras package) run with pytest on the
  same backend: its checks (test items) per second beside ours;
- the reference on a large case (batch 64, 1000 steps, 256 inputs, 256 units, float64) against
  the floating-point floor of the recurrence, 2*B*T*U*(D+U) operations at this machine's
  measured matrix-multiply rate, and Keras on each backend on the same case;
- parallel scaling of the catalog with several workers;
- the goals of the performance issue, each marked met or missed.

Timings on a shared machine vary from run to run: `--repeat N` runs each catalog N times and
keeps the run with the median wall time.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from conformance.report.markdown import load_text

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch", "numpy")


def run_catalog(target, jobs=1, extra=(), repeat=1):
    """The run with the median wall time of `repeat` runs (each a fresh `conformance run`)."""
    runs = sorted((_run_catalog_once(target, jobs, extra) for _ in range(repeat)), key=lambda r: r.get("wall_s", 0))
    chosen = runs[len(runs) // 2]
    if repeat > 1:
        chosen["walls_s"] = [r.get("wall_s") for r in runs]
    return chosen


def _conformance_run(args, cwd=ROOT, env=None):
    """One fresh `conformance run -q ARGS` into a temporary report folder: (its report.json, or None
    when it wrote none; the finished process; wall seconds; CPU seconds, user + system, of it and of
    every process it waited for: the workers and what their targets started)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "conformance", "run", "-q", *args, "--report-dir", out],
                              capture_output=True, text=True, cwd=cwd, env=env)
        wall = time.perf_counter() - started
        path = Path(out) / "report.json"
        report = json.loads(path.read_text()) if path.exists() else None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return report, proc, wall, cpu


def _run_catalog_once(target, jobs, extra):
    report, proc, wall, _ = _conformance_run(["--target", target, "--jobs", str(jobs), *extra])
    if report is None:
        return {"target": target, "error": proc.stderr.strip()[-500:]}
    cases = report["cases"]
    inside = sum(c.get("target_s") or 0.0 for c in cases)
    startup = (report["target"].get("implementation") or {}).get("startup_s", 0.0)
    overhead = max(0.0, wall - startup - inside / max(1, jobs))
    return {"target": target, "jobs": jobs, "cases": len(cases), "summary": report["summary"],
            "exit_status": proc.returncode, "wall_s": round(wall, 2), "cases_per_s": round(len(cases) / wall, 1),
            "startup_s": round(startup, 2), "inside_target_s": round(inside, 2),
            "overhead_s": round(overhead, 2), "overhead_share": round(overhead / wall, 3)}


def keras_own_tests(backend):
    from importlib.util import find_spec

    # Found without importing keras here (that would load a backend into this process).
    test_file = Path(find_spec("keras").origin).parent / "src" / "layers" / "rnn" / "simple_rnn_test.py"
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                          capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    wall = time.perf_counter() - started
    passed = int(m[1]) if (m := re.search(r"(\d+) passed", proc.stdout)) else 0
    failed = int(m[1]) if (m := re.search(r"(\d+) failed", proc.stdout)) else 0
    return {"backend": backend, "tests_passed": passed, "tests_failed": failed, "wall_s": round(wall, 2),
            "checks_per_s": round((passed + failed) / wall, 2)}


def matmul_rate(n=1024, repeats=5):
    a, b = np.random.rand(n, n), np.random.rand(n, n)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2.0 * n ** 3 / best


def _timed(fn):
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


LARGE = {"batch": 64, "timesteps": 1000, "features": 256, "units": 256}


def large_case_reference(repeats=5):
    from reference_impl import SimpleRNN

    b, t, d, u = (LARGE[k] for k in ("batch", "timesteps", "features", "units"))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(b, t, d))
    kernel, recurrent = rng.normal(size=(d, u)) * 0.05, rng.normal(size=(u, u)) * 0.05
    layer = SimpleRNN(u, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([kernel, recurrent, np.zeros(u)])
    best = min(_timed(lambda: layer(x)) for _ in range(repeats))
    flops = 2.0 * b * t * u * (d + u)
    rate = matmul_rate()
    floor = flops / rate
    # What the time goes to: the parts of the recurrence, each alone.
    h, pre = np.zeros((b, u)), rng.normal(size=(t, b, u))
    parts = {"input_projection_s": min(_timed(lambda: x.reshape(-1, d) @ kernel) for _ in range(repeats)),
             "recurrent_matmuls_s": min(_timed(lambda: [h @ recurrent for _ in range(t)]) for _ in range(repeats)),
             "tanh_s": min(_timed(lambda: np.tanh(pre)) for _ in range(repeats))}
    return {"shape": LARGE, "flops": flops, "matmul_gflops": round(rate / 1e9, 1), "floor_s": round(floor, 4),
            "reference_s": round(best, 4), "ratio_to_floor": round(best / floor, 2),
            "parts": {k: round(v, 4) for k, v in parts.items()}}


KERAS_LARGE = """
import os, time, numpy as np, keras
b, t, d, u = {b}, {t}, {d}, {u}
x = np.random.default_rng(0).normal(size=(b, t, d))
layer = keras.layers.SimpleRNN(u, dtype="float64")
layer(x[:, :2])
best = 1e9
for _ in range(3):
    s = time.perf_counter(); y = layer(x); keras.ops.convert_to_numpy(y); best = min(best, time.perf_counter() - s)
print(best)
"""


def large_case_keras(backend):
    code = KERAS_LARGE.format(b=LARGE["batch"], t=LARGE["timesteps"], d=LARGE["features"], u=LARGE["units"])
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if backend == "jax":
        env["JAX_ENABLE_X64"] = "1"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    try:
        return {"backend": backend, "seconds": round(float(proc.stdout.strip().splitlines()[-1]), 4)}
    except (ValueError, IndexError):
        # The one line that says what went wrong (the exception's own line, else the last one).
        lines = [line.strip() for line in proc.stderr.strip().splitlines() if line.strip()]
        said = next((line for line in lines if re.match(r"^\w+(Error|Exception)\b", line)), lines[-1] if lines else "")
        detail = next((line for line in lines if "dtypes do not match" in line), "")
        return {"backend": backend, "error": " ".join(x for x in (said, detail) if x)[:300]}


GOALS = {"overhead_share": 0.10, "tensorflow_wall_s": 60.0, "reference_wall_s": 10.0, "large_ratio": 1.5}


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    from importlib import metadata

    versions = {}
    for name in ("keras", "tensorflow", "jax", "torch", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {"platform": platform.platform(), "processor": cpu, "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "versions": versions}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--out", default=str(ROOT / "benchmarks"))
    parser.add_argument("--jobs", default="1,2", help="worker counts for the scaling runs")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each catalog; the median is kept (default 1)")
    parser.add_argument("--deployment", nargs="?", const="", default=None, metavar="REPORTS",
                        help="only the deployment targets' catalog times: fresh runs, or read from the "
                             "report folders under REPORTS (e.g. reports/matrix/reports)")
    parser.add_argument("--deployment-targets", metavar="T1,T2",
                        help="with --deployment (fresh runs): only these targets; the other rows are kept")
    parser.add_argument("--against", metavar="DIR",
                        help="only compare this checkout with an earlier one in DIR (e.g. made with "
                             "`git worktree add /tmp/old-suite REV`): the catalog on --versus-targets, the two "
                             "versions' runs interleaved, --repeat times each")
    parser.add_argument("--versus-targets", default="keras:tensorflow,keras:numpy", metavar="T1,T2",
                        help="targets of the --against comparison (default keras:tensorflow,keras:numpy)")
    parser.add_argument("--quick", action="store_true",
                        help="only the quick tier's times (`conformance run --quick` on keras:numpy and keras:jax)")
    args = parser.parse_args(argv)
    if args.quick:
        return quick_tier(Path(args.out), args.repeat)
    if args.against is not None:
        return against(Path(args.against), [t for t in args.versus_targets.split(",") if t], args.repeat,
                       Path(args.out))
    if args.deployment is not None:
        only = None
        if args.deployment_targets:
            only = [t for t in args.deployment_targets.split(",") if t]
            unknown = sorted(set(only) - set(DEPLOYMENT_TARGETS))
            if unknown or args.deployment:
                parser.error(f"--deployment-targets: not deployment targets: {', '.join(unknown)}" if unknown
                             else "--deployment-targets measures fresh runs: give --deployment without REPORTS")
        return deployment(args.deployment, Path(args.out), only)
    backends = [b for b in args.backends.split(",") if b]
    out = Path(args.out)
    try:  # before measuring: a bad --out fails now, not after every measurement
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"--out {out}: {exc.strerror or exc}")
    results = {"machine": machine(), "repeat": args.repeat,
               "catalog": [], "keras_own_tests": [], "large_case": {}, "scaling": []}
    print("catalog on reference ...", flush=True)
    results["catalog"].append(run_catalog("reference", repeat=args.repeat))
    for backend in backends:
        print(f"catalog on keras:{backend} ...", flush=True)
        results["catalog"].append(run_catalog(f"keras:{backend}", repeat=args.repeat))
        print(f"keras's own simple_rnn_test.py on {backend} ...", flush=True)
        results["keras_own_tests"].append(keras_own_tests(backend))
    print("large case ...", flush=True)
    results["large_case"] = {"reference": large_case_reference(),
                             "keras": [large_case_keras(b) for b in backends]}
    for jobs in [int(j) for j in args.jobs.split(",")]:
        for target in ("reference", "keras:tensorflow"):
            print(f"scaling: {target} with {jobs} workers ...", flush=True)
            results["scaling"].append(run_catalog(target, jobs=jobs))
    results["goals"] = goals(results)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "results.md").write_text(render(results) + kept_section(out / "results.md", DEPLOYMENT_BEGIN, DEPLOYMENT_END)
                                    + kept_section(out / "results.md", AGAINST_BEGIN, AGAINST_END)
                                    + kept_section(out / "results.md", QUICK_BEGIN, QUICK_END)
                                    + kept_section(out / "results.md", HISTORY_BEGIN, HISTORY_END))
    print(render(results))


def goals(r):
    """Each goal of the performance issue: what was measured, and whether it is met."""
    catalog = {c["target"]: c for c in r["catalog"] if "error" not in c}
    rows = []
    for name, c in catalog.items():
        if name.startswith("keras:"):
            rows.append({"goal": f"harness overhead on {name} under {GOALS['overhead_share']:.0%}",
                         "measured": f"{100 * c['overhead_share']:.1f}%", "met": c["overhead_share"] < GOALS["overhead_share"]})
    for name, key in (("keras:tensorflow", "tensorflow_wall_s"), ("reference", "reference_wall_s")):
        if name in catalog:
            rows.append({"goal": f"full catalog on {name} under {GOALS[key]:g} s",
                         "measured": f"{catalog[name]['wall_s']} s", "met": catalog[name]["wall_s"] < GOALS[key]})
    large = r["large_case"]["reference"]
    rows.append({"goal": f"reference on the large case within {GOALS['large_ratio']}x the floor",
                 "measured": f"{large['ratio_to_floor']}x", "met": large["ratio_to_floor"] <= GOALS["large_ratio"]})
    for k in r["keras_own_tests"]:
        suite = catalog.get(f"keras:{k['backend']}")
        if suite:
            rows.append({"goal": f"more checks per second than Keras's own test file on {k['backend']}",
                         "measured": f"{suite['cases_per_s']} vs {k['checks_per_s']}",
                         "met": suite["cases_per_s"] > k["checks_per_s"]})
    return rows


def render(r):
    m = r["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
    lines = ["# Benchmark results", "",
             f"Machine: {m['processor']}, {m['cpu_count']} cores, {m['platform']}, Python {m['python']}; {versions}.",
             f"Each catalog: the median of {r.get('repeat', 1)} run(s) by wall time.", "",
             "## Goals", "", "| goal | measured | |", "|---|---:|---|"]
    for g in r.get("goals", []):
        lines.append(f"| {g['goal']} | {g['measured']} | {'met' if g['met'] else '**missed**'} |")
    lines += ["", "## The catalog", "",
              "Harness overhead: the wall time of `conformance run` less the workers' start-up and the time "
              "inside the target's own calls.", "",
              "| target | cases | wall s | cases/s | start-up s | in target s | harness overhead |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for c in r["catalog"]:
        if "error" in c:
            lines.append(f"| {c['target']} | error: {c['error'][:80]} | | | | | |")
            continue
        lines.append(f"| {c['target']} | {c['cases']} | {c['wall_s']} | {c['cases_per_s']} | {c['startup_s']} | "
                     f"{c['inside_target_s']} | {c['overhead_s']} s ({100 * c['overhead_share']:.1f}%) |")
    lines += ["", "## Against Keras's own test file (simple_rnn_test.py)", "",
              "| backend | Keras tests | Keras wall s | Keras checks/s | suite cases/s |", "|---|---:|---:|---:|---:|"]
    ours = {c["target"]: c for c in r["catalog"]}
    for k in r["keras_own_tests"]:
        suite = ours.get(f"keras:{k['backend']}", {})
        lines.append(f"| {k['backend']} | {k['tests_passed']} passed, {k['tests_failed']} failed | {k['wall_s']} | "
                     f"{k['checks_per_s']} | {suite.get('cases_per_s', '-')} |")
    lc = r["large_case"]["reference"]
    lines += ["", "## Large case (batch 64, 1000 steps, 256 inputs, 256 units, float64)", "",
              f"Floor: {lc['flops'] / 1e9:.1f} GFLOP at {lc['matmul_gflops']} GFLOP/s = {lc['floor_s']} s. "
              f"Reference: {lc['reference_s']} s ({lc['ratio_to_floor']}x the floor).", "",
              "Its parts, each timed alone: " + ", ".join(f"{k[:-2].replace('_', ' ')} {v} s ({v / lc['floor_s']:.2f}x the floor)"
                                                          for k, v in lc.get("parts", {}).items()) + ".", "",
              "| implementation | seconds |", "|---|---:|", f"| reference | {lc['reference_s']} |"]
    for k in r["large_case"]["keras"]:
        lines.append(f"| keras:{k['backend']} | {k.get('seconds', 'error: ' + k.get('error', ''))} |")
    lines += ["", "## Parallel scaling", "", "| target | workers | wall s | cases/s |", "|---|---:|---:|---:|"]
    for c in r["scaling"]:
        lines.append(f"| {c['target']} | {c.get('jobs')} | {c.get('wall_s')} | {c.get('cases_per_s')} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- deployment targets
DEPLOYMENT_TARGETS = ("onnx-reference", "mlx", "keras:openvino", "keras:tensorflow:predict", "keras:jax:predict",
                      "keras:torch:predict", "keras:numpy:predict", "keras:openvino:predict", "keras:tensorflow:jit",
                      "keras:jax:jit", "keras:torch:jit", "export:onnx",
                      "export:tf2onnx", "export:litert", "export:openvino", "export:saved_model")
DEPLOYMENT_GOAL_S = 600.0  # each target's supported part of the catalog, on 2 cores
DEPLOYMENT_BEGIN, DEPLOYMENT_END = "<!-- deployment targets -->", "<!-- end deployment targets -->"


DEPLOYMENT_COLUMNS = ("target", "cases", "run", "wall s", "CPU s", "load", "s per case", "s per run case", "goal")


def kept_deployment_rows(results):
    """{target: {column: cell}} of the deployment table in an existing results.md (columns it lacks blank)."""
    section = kept_section(results, DEPLOYMENT_BEGIN, DEPLOYMENT_END)
    rows, header = {}, None
    for line in section.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            continue
        row = dict(zip(header, cells))
        rows[row["target"]] = {c: row.get(c, "") for c in DEPLOYMENT_COLUMNS}
    return rows


def deployment(reports, out, only=None):
    """The catalog time of each deployment target (fresh runs, or their report.json files under
    `reports`), written as one section of results.md (the rest of the file is left as it is).
    `only`: fresh runs of these targets alone; the other targets' rows are kept as they were."""
    found = {}
    if reports:
        for path in sorted(Path(reports).glob("*/report.json")):
            report = json.loads(path.read_text())
            found[report["target"]["name"]] = report
    kept = kept_deployment_rows(out / "results.md")
    rows = []
    for target in DEPLOYMENT_TARGETS:
        cpu = None
        if only is not None and target not in only:
            if target in kept:
                rows.append(kept[target])
            continue
        if reports:
            if target not in found:
                continue
            report = found[target]
            wall, cases = report.get("duration_s") or 0.0, report["cases"]
            keyword = (report.get("options") or {}).get("keyword")
        else:
            print(f"catalog on {target} ...", flush=True)
            report, _, wall, cpu = _conformance_run(["--no-expectations", "--target", target])
            if report is None:
                rows.append({"target": target, "cases": "no report"})
                continue
            cases = report["cases"]
            keyword = None
        run = [c for c in cases if c["status"] != "unsupported"]
        inside = sum(c.get("target_s") or 0.0 for c in run)
        goal = "met" if wall < DEPLOYMENT_GOAL_S else "**missed**"
        if keyword:  # not the catalog: no verdict on the goal
            goal = f"not run on the catalog (`-k {keyword}` only)"
        rows.append({"target": target, "cases": str(len(cases)), "run": str(len(run)), "wall s": f"{wall:.1f}",
                     "CPU s": "" if cpu is None else f"{cpu:.1f}", "load": load_text(report.get("load_average")),
                     "s per case": f"{wall / max(1, len(cases)):.3f}",
                     "s per run case": f"{inside / max(1, len(run)):.3f}", "goal": goal})
    lines = [DEPLOYMENT_BEGIN, "## Deployment targets", "",
             f"The whole catalog per target (one worker); goal: under {DEPLOYMENT_GOAL_S:g} s on 2 cores. "
             "`run`: the cases the target does not declare unsupported; `CPU s`: user and system time of every "
             "process of the run (measured by fresh runs only); `load`: the machine's 1-minute load average at "
             "the run's start and end (where the report records it); per run case: the time inside the "
             "target's own calls (exporting and loading an artifact included) over those cases.", "",
             "| " + " | ".join(DEPLOYMENT_COLUMNS) + " |", "|---|---:|---:|---:|---:|---|---:|---:|---|"]
    for r in rows:
        lines.append("| " + " | ".join(r.get(c, "") for c in DEPLOYMENT_COLUMNS) + " |")
    print(write_section(out / "results.md", DEPLOYMENT_BEGIN, DEPLOYMENT_END, lines))
    return 0


# ---------------------------------------------------------------------------- the quick tier
QUICK_BEGIN, QUICK_END = "<!-- quick tier -->", "<!-- end quick tier -->"
QUICK_GOALS_S = {"keras:numpy": 3.0, "keras:jax": 25.0}  # `conformance run --quick`, on 2 cores


def quick_tier(out, repeat=1):
    """`conformance run --quick` (the per-commit tier, conformance/catalog/quick.py) on the targets
    of QUICK_GOALS_S, written as one section of results.md (the rest of the file is left as it is)."""
    rows = [run_catalog(target, extra=["--quick"], repeat=repeat) for target in QUICK_GOALS_S]
    lines = [QUICK_BEGIN, "## The quick tier", "",
             "`conformance run --quick`: the cases of the per-commit tier (a greedy cover of the kill matrix "
             "and the spec items); the whole command's wall time, the median of "
             f"{repeat} run(s).", "",
             "| target | cases | wall s | start-up s | goal | |", "|---|---:|---:|---:|---:|---|"]
    for r in rows:
        goal = QUICK_GOALS_S[r["target"]]
        if "error" in r:
            lines.append(f"| {r['target']} | {r['error']} | | | {goal:g} s | **missed** |")
            continue
        lines.append(f"| {r['target']} | {r['cases']} | {r['wall_s']} | {r['startup_s']} | under {goal:g} s | "
                     f"{'met' if r['wall_s'] < goal else '**missed**'} |")
    print(write_section(out / "results.md", QUICK_BEGIN, QUICK_END, lines))
    return 0 if all("error" not in r and r["wall_s"] < QUICK_GOALS_S[r["target"]] for r in rows) else 1


# ---------------------------------------------------------------------------- against an earlier version
AGAINST_BEGIN, AGAINST_END = "<!-- against an earlier version -->", "<!-- end against an earlier version -->"
# `conformance history` (tools/history.py): measured by running it, kept here when the rest is rewritten.
HISTORY_BEGIN, HISTORY_END = "<!-- history -->", "<!-- end history -->"
AGAINST_GOAL = 1.05  # new / old wall time (the median of the pairs' ratios) at most 5% above 1


def section_notes(results, begin, end):
    """The written notes of a section of an existing results.md: the lines after its table, kept
    when the table is measured again ('' when there are none)."""
    body = kept_section(results, begin, end)
    if not body:
        return ""
    lines = body.split(begin, 1)[1].split(end, 1)[0].strip("\n").splitlines()
    rows = [i for i, line in enumerate(lines) if line.startswith("|")]
    return "\n".join(lines[rows[-1] + 1:]).strip("\n") if rows else ""


def write_section(results, begin, end, lines):
    """Put the section `lines` (from `begin` on, its table last) into results.md in place of the old
    one, or at the end; the old section's written notes (section_notes) follow the new table.
    Returns the section's text; the rest of the file is left as it is."""
    notes = section_notes(results, begin, end)
    section = "\n".join([*lines, "", notes, end] if notes else [*lines, end])
    text = results.read_text() if results.exists() else ""
    if begin in text and end in text:
        text = text.split(begin)[0] + section + text.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    results.write_text(text)
    return section


def kept_section(results, begin, end):
    """The section between `begin` and `end` of an existing results.md, kept when the rest is rewritten."""
    text = results.read_text() if results.exists() else ""
    if begin not in text or end not in text:
        return ""
    return "\n" + begin + text.split(begin, 1)[1].split(end, 1)[0] + end + "\n"


def _timed_run(checkout, target, cases):
    """Wall seconds of one `conformance run` of `checkout`'s code (its folder first on sys.path), and
    the CPU seconds of it and its workers (less sensitive than the wall time to a busy machine)."""
    report, proc, wall, cpu = _conformance_run(["--target", target, "--cases", str(cases)], cwd=checkout,
                                               env={**os.environ, "PYTHONPATH": str(checkout)})
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "cases": len(report["cases"]) if report else 0,
            "exit_status": proc.returncode}


def against(earlier, targets, repeat, out):
    """This checkout against the one in `earlier`, on the earlier checkout's catalog (which both
    read): for each target, runs alternate old, new, new, old, ... so that a noisy machine weighs on
    both alike. Run i of each version makes a pair, and the ratio is taken pair by pair (the
    median of the pairs' new / old): a machine whose speed drifts during the benchmark moves both
    runs of a pair alike. The ratios and the medians go into results.json and results.md."""
    earlier = earlier.resolve()
    cases = earlier / "cases"
    rev = subprocess.run(["git", "-C", str(earlier), "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip() or str(earlier)
    now = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    rows = []
    for target in targets:
        walls, cpus = {"old": [], "new": []}, {"old": [], "new": []}
        for i in range(max(1, repeat)):
            for version in (("old", "new") if i % 2 == 0 else ("new", "old")):
                print(f"{target}: {version} version, run {i + 1} ...", flush=True)
                run = _timed_run(earlier if version == "old" else ROOT, target, cases)
                if run["cases"] == 0:
                    raise SystemExit(f"{target}: the {version} version wrote no report (exit {run['exit_status']})")
                walls[version].append(run["wall_s"])
                cpus[version].append(run["cpu_s"])
        median = {v: round(statistics.median(w), 2) for v, w in walls.items()}
        cpu = {v: round(statistics.median(c), 2) for v, c in cpus.items()}
        pairs = [n / o for o, n in zip(walls["old"], walls["new"])]
        cpu_pairs = [n / o for o, n in zip(cpus["old"], cpus["new"])]
        ratio = round(statistics.median(pairs), 3)
        rows.append({"target": target, "cases": run["cases"], "old_walls_s": walls["old"],
                     "new_walls_s": walls["new"], "old_median_s": median["old"], "new_median_s": median["new"],
                     "ratio": ratio, "ratio_range": [round(min(pairs), 3), round(max(pairs), 3)],
                     "old_cpu_s": cpu["old"], "new_cpu_s": cpu["new"],
                     "cpu_ratio": round(statistics.median(cpu_pairs), 3), "met": ratio <= AGAINST_GOAL})
    lines = [AGAINST_BEGIN, "## Against an earlier version", "",
             f"This checkout (based on {now}) against {rev}, each running the full catalog of {rev} "
             f"(`--cases {rev}/cases`), runs of the two versions interleaved, {max(1, repeat)} of each; "
             f"goal: new / old wall time within {AGAINST_GOAL - 1:.0%}. `new / old` is the median of the "
             "pairs' ratios (run i of each version makes a pair; min and max beside it), which a machine "
             "whose speed drifts disturbs less than a ratio of medians. CPU: user + system seconds of the "
             "command and its workers, the median of the pairs' ratios likewise.", "",
             "| target | cases | old median s | new median s | new / old | pairs min to max | old runs s | "
             "new runs s | old CPU s | new CPU s | CPU new / old | goal |",
             "|---|---:|---:|---:|---:|---|---|---|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['target']} | {r['cases']} | {r['old_median_s']} | {r['new_median_s']} | {r['ratio']} | "
                     f"{r['ratio_range'][0]} to {r['ratio_range'][1]} | {', '.join(map(str, r['old_walls_s']))} | "
                     f"{', '.join(map(str, r['new_walls_s']))} | "
                     f"{r['old_cpu_s']} | {r['new_cpu_s']} | {r['cpu_ratio']} | "
                     f"{'met' if r['met'] else '**missed**'} |")
    section = write_section(out / "results.md", AGAINST_BEGIN, AGAINST_END, lines)
    data_path = out / "results.json"
    data = json.loads(data_path.read_text()) if data_path.exists() else {}
    data["against"] = {"earlier": rev, "based_on": now, "repeat": max(1, repeat), "targets": rows}
    data_path.write_text(json.dumps(data, indent=1) + "\n")
    print(section)
    return 0 if all(r["met"] for r in rows) else 1


if __name__ == "__main__":
    main()

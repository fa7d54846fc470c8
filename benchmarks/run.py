"""Benchmarks of the suite, in one run on one machine: `python benchmarks/run.py`.

Reports (benchmarks/results.json and results.md):
- the full catalog on `reference` and on each Keras backend: wall time, cases per second,
  worker start-up, time inside the target's own calls, and the harness overhead (the rest);
- Keras's own SimpleRNN test file (shipped in the keras package) run with pytest on the
  same backend: its checks (test items) per second beside ours;
- the reference on a large case (batch 64, 1000 steps, 256 inputs, 256 units, float64) against
  the floating-point floor of the recurrence, 2*B*T*U*(D+U) operations at this machine's
  measured matrix-multiply rate, and Keras on each backend on the same case;
- parallel scaling of the catalog with several workers.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch", "numpy")


def run_catalog(target, jobs=1, extra=()):
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "conformance", "run", "-q", "--target", target,
                               "--jobs", str(jobs), "--report-dir", out, *extra],
                              capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - started
        report_path = Path(out) / "report.json"
        if not report_path.exists():
            return {"target": target, "error": proc.stderr.strip()[-500:]}
        report = json.loads(report_path.read_text())
    cases = report["cases"]
    inside = sum(c.get("target_s") or 0.0 for c in cases)
    startup = (report["target"].get("implementation") or {}).get("startup_s", 0.0)
    overhead = max(0.0, wall - startup - inside / max(1, jobs))
    return {"target": target, "jobs": jobs, "cases": len(cases), "summary": report["summary"],
            "wall_s": round(wall, 2), "cases_per_s": round(len(cases) / wall, 1),
            "startup_s": round(startup, 2), "inside_target_s": round(inside, 2),
            "overhead_s": round(overhead, 2), "overhead_share": round(overhead / wall, 3)}


def keras_own_tests(backend):
    import keras

    test_file = Path(keras.__file__).parent / "src" / "layers" / "rnn" / "simple_rnn_test.py"
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


def large_case_reference(repeats=3):
    from reference_impl import SimpleRNN

    b, t, d, u = (LARGE[k] for k in ("batch", "timesteps", "features", "units"))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(b, t, d))
    layer = SimpleRNN(u, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([rng.normal(size=(d, u)) * 0.05, rng.normal(size=(u, u)) * 0.05, np.zeros(u)])
    best = min(_timed(lambda: layer(x)) for _ in range(repeats))
    flops = 2.0 * b * t * u * (d + u)
    rate = matmul_rate()
    floor = flops / rate
    return {"shape": LARGE, "flops": flops, "matmul_gflops": round(rate / 1e9, 1), "floor_s": round(floor, 4),
            "reference_s": round(best, 4), "ratio_to_floor": round(best / floor, 2)}


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
        return {"backend": backend, "error": proc.stderr.strip()[-300:]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--out", default=str(ROOT / "benchmarks"))
    parser.add_argument("--jobs", default="1,2", help="worker counts for the scaling runs")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    results = {"machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                           "cpu_count": os.cpu_count(), "python": platform.python_version()},
               "catalog": [], "keras_own_tests": [], "large_case": {}, "scaling": []}
    print("catalog on reference ...", flush=True)
    results["catalog"].append(run_catalog("reference"))
    for backend in backends:
        print(f"catalog on keras:{backend} ...", flush=True)
        results["catalog"].append(run_catalog(f"keras:{backend}"))
        print(f"keras's own simple_rnn_test.py on {backend} ...", flush=True)
        results["keras_own_tests"].append(keras_own_tests(backend))
    print("large case ...", flush=True)
    results["large_case"] = {"reference": large_case_reference(),
                             "keras": [large_case_keras(b) for b in backends]}
    for jobs in [int(j) for j in args.jobs.split(",")]:
        for target in ("reference", "keras:tensorflow"):
            print(f"scaling: {target} with {jobs} workers ...", flush=True)
            results["scaling"].append(run_catalog(target, jobs=jobs))
    out = Path(args.out)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "results.md").write_text(render(results))
    print(render(results))


def render(r):
    m = r["machine"]
    lines = ["# Benchmark results", "", f"Machine: {m['processor']}, {m['cpu_count']} cores, {m['platform']}, Python {m['python']}.", "",
             "## The catalog", "", "| target | cases | wall s | cases/s | start-up s | in target s | harness overhead |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for c in r["catalog"]:
        if "error" in c:
            lines.append(f"| {c['target']} | error: {c['error'][:80]} | | | | | |")
            continue
        lines.append(f"| {c['target']} | {c['cases']} | {c['wall_s']} | {c['cases_per_s']} | {c['startup_s']} | "
                     f"{c['inside_target_s']} | {100 * c['overhead_share']:.1f}% |")
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
              "| implementation | seconds |", "|---|---:|", f"| reference | {lc['reference_s']} |"]
    for k in r["large_case"]["keras"]:
        lines.append(f"| keras:{k['backend']} | {k.get('seconds', 'error: ' + k.get('error', '')[:60])} |")
    lines += ["", "## Parallel scaling", "", "| target | workers | wall s | cases/s |", "|---|---:|---:|---:|"]
    for c in r["scaling"]:
        lines.append(f"| {c['target']} | {c.get('jobs')} | {c.get('wall_s')} | {c.get('cases_per_s')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

"""The third-party targets (torch, flax, onnx, tfjs), each run for real through its worker.

Each test skips when its package (or, for tfjs, node and harnesses/tfjs/node_modules)
is missing, and says which.
"""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.catalog.cases import load_cases
from conformance.run.runner import Runner
from conformance.targets import TFJS_HARNESS, resolve

CASES = """
defaults:
  profiles: [keras3]
  spec: [{page: keras3, item: units, observed: third-party adapter tests}]
cases:
  - id: forward/sequences
    description: return_sequences and return_state, tanh.
    layer: {units: 3, return_sequences: true, return_state: true}
    arrays:
      x: {random: uniform, shape: [2, 5, 4], low: -1, high: 1, seed: 1}
    weights: {random: normal, seed: 3, scale: 0.5}
    steps:
      - call: {inputs: x}
      - get_weights:
  - id: backwards/order
    description: go_backwards returns the outputs in processing order.
    layer: {units: 3, go_backwards: true, return_sequences: true}
    arrays:
      x: {random: uniform, shape: [2, 6, 4], low: -1, high: 1, seed: 2}
    weights: {random: normal, seed: 4, scale: 0.5}
    steps:
      - call: {inputs: x}
  - id: mask/ragged_last
    description: a right-padded mask, last output and final state.
    layer: {units: 3, return_state: true}
    arrays:
      x: {random: uniform, shape: [3, 6, 4], low: -1, high: 1, seed: 5}
      m: {mask: ragged, shape: [3, 6]}
    weights: {random: normal, seed: 6, scale: 0.5}
    steps:
      - call: {inputs: x, mask: m}
  - id: mask/leading
    description: a mask that is not right-padded.
    layer: {units: 3, return_sequences: true}
    arrays:
      x: {random: uniform, shape: [2, 6, 4], low: -1, high: 1, seed: 7}
      m: {mask: leading, shape: [2, 6]}
    weights: {random: normal, seed: 8, scale: 0.5}
    steps:
      - call: {inputs: x, mask: m}
  - id: mask/ragged_sequence
    description: return_sequences with masked steps.
    layer: {units: 3, return_sequences: true}
    arrays:
      x: {random: uniform, shape: [3, 6, 4], low: -1, high: 1, seed: 9}
      m: {mask: ragged, shape: [3, 6]}
    weights: {random: normal, seed: 10, scale: 0.5}
    steps:
      - call: {inputs: x, mask: m}
  - id: stateful/continues
    description: a stateful layer starts the second call from the first call's state.
    layer: {units: 3, stateful: true}
    arrays:
      x: {random: uniform, shape: [2, 4, 4], low: -1, high: 1, seed: 11}
    weights: {random: normal, seed: 12, scale: 0.5}
    steps:
      - call: {inputs: x}
      - call: {inputs: x}
  - id: activation/sigmoid
    description: sigmoid activation.
    layer: {units: 3, activation: sigmoid, return_sequences: true}
    arrays:
      x: {random: uniform, shape: [2, 4, 4], low: -1, high: 1, seed: 13}
    weights: {random: normal, seed: 14, scale: 0.5}
    steps:
      - call: {inputs: x}
"""


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    path = tmp_path_factory.mktemp("cases") / "thirdparty.yaml"
    path.write_text(CASES)
    return load_cases([path])


def run(target, cases):
    spec = resolve(target)
    records = {}
    runner = Runner(spec, timeout=120)
    runner.run(cases, lambda r: records.setdefault(r.id, r))
    assert runner.start_error is None, runner.start_error
    return {cid: (r.status, r.verdict.get("message", "")) for cid, r in records.items()}


def assert_passes(results, *ids):
    for cid in ids:
        assert results[cid][0] == "pass", f"{cid}: {results[cid]}"


def assert_unsupported(results, cid, reason):
    status, message = results[cid]
    assert status == "unsupported", f"{cid}: {status} {message}"
    assert reason in message, message


def installed(*modules):
    """The test extras install every third-party target: a missing one fails, it does not skip."""
    from importlib.util import find_spec

    for module in modules:
        assert find_spec(module.split(".")[0]) is not None, (  # found, not imported: that is the worker's job
            f"{module} is missing: it is in the test extras (pip install -e '.[test]')")


def test_torch(cases):
    installed("torch")
    results = run("torch", cases)
    assert_passes(results, "forward/sequences", "backwards/order", "mask/ragged_last", "stateful/continues")
    assert_unsupported(results, "mask/leading", "mask:not_right_padded")
    assert_unsupported(results, "mask/ragged_sequence", "repeats the previous output")
    assert_unsupported(results, "activation/sigmoid", "activation:sigmoid")


def test_flax(cases):
    installed("flax.nnx")
    results = run("flax", cases)
    assert_passes(results, "forward/sequences", "backwards/order", "mask/ragged_last", "stateful/continues",
                  "activation/sigmoid")
    assert_unsupported(results, "mask/leading", "mask:not_right_padded")
    assert_unsupported(results, "mask/ragged_sequence", "repeats the previous output")


def test_flax_float64(tmp_path):
    installed("flax.nnx")
    path = tmp_path / "f64.yaml"
    path.write_text(CASES.split("cases:")[0] + """cases:
  - id: dtype/float64
    description: float64 needs jax x64, enabled by the adapter.
    layer: {units: 3, dtype: float64, return_sequences: true}
    arrays:
      x: {random: uniform, shape: [2, 5, 4], low: -1, high: 1, seed: 1, dtype: float64}
    weights: {random: normal, seed: 3, scale: 0.5, dtype: float64}
    steps:
      - call: {inputs: x}
""")
    results = run("flax", load_cases([path]))
    assert_passes(results, "dtype/float64")


def test_onnx(cases):
    installed("onnx", "onnxruntime")
    results = run("onnx", cases)
    assert_passes(results, "forward/sequences", "backwards/order", "mask/ragged_last", "stateful/continues",
                  "activation/sigmoid")
    assert_unsupported(results, "mask/leading", "mask:not_right_padded")
    assert_unsupported(results, "mask/ragged_sequence", "repeats the previous output")


@pytest.fixture(scope="module")
def tfjs_installed():
    """The tfjs harness's npm packages, installed from its lock file on first use."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("the tfjs target needs Node.js and npm on PATH")
    import fcntl

    folder = Path(TFJS_HARNESS).parent
    # pytest-xdist workers share the folder: one installs while the others wait for it.
    with open(folder / ".npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "node_modules" / "@tensorflow" / "tfjs" / "package.json").is_file():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, check=True,
                           timeout=900)


def test_tfjs(cases, tfjs_installed):
    results = run("tfjs", cases)
    # tfjs-layers implements Keras masking itself: every case here is expressible.
    assert_passes(results, *[c.id for c in cases])


def test_tfjs_smoke(tfjs_installed):
    from conformance.tools.smoke import smoke

    lines = []
    assert smoke("tfjs", out=lines.append) == 0, "\n".join(lines)
    assert any(line.startswith("ok   malformed array") for line in lines), lines


def test_smoke_python_worker():
    """The Python worker passes the protocol checks (it dies on a malformed array: a warning)."""
    from conformance.tools.smoke import smoke

    lines = []
    assert smoke("reference", out=lines.append) == 0, "\n".join(lines)
    assert lines[-1].startswith("reference: 7 of 7 protocol checks pass"), lines


def test_smoke_reports_a_broken_harness(tmp_path):
    from conformance.tools.smoke import smoke

    script = tmp_path / "broken.py"
    script.write_text("import sys\nfor line in sys.stdin:\n    print('hello, not json', flush=True)\n")
    lines = []
    status = smoke(f"exec:{shutil.which('python3') or 'python3'} {script}", startup_timeout=10, timeout=5,
                   out=lines.append)
    assert status == 1
    assert lines[0].startswith("FAIL handshake") and "not JSON" in lines[0], lines


def test_a_harness_that_does_not_echo_seq_fails_smoke_and_errs_in_a_run(tmp_path):
    """Results are matched to runs by `seq` (the runner queues runs): a harness that always
    answers seq 1 fails the smoke check, and in a run every case after the first is an error."""
    from conformance.tools.smoke import smoke

    target = f"exec:{sys.executable} {Path(__file__).parent / 'data' / 'seq_ignoring_harness.py'}"
    lines = []
    assert smoke(target, startup_timeout=10, timeout=5, out=lines.append) == 1
    assert any(line.startswith("FAIL queued runs") and "expected the result of run 11" in line for line in lines), lines
    records = []
    Runner(resolve(target), timeout=10).run(load_cases([Path(__file__).parent / "data" / "three.yaml"]), records.append)
    statuses = [r.status for r in records]
    assert statuses == ["unsupported", "error", "error", "error"], statuses
    assert "results must come in order" in records[1].verdict["message"]


def test_registry_names():
    for name in ("torch", "flax", "onnx"):
        spec = resolve(name)
        assert spec.adapter and spec.command is None and spec.profile == "keras3"
    tfjs = resolve("tfjs")
    assert tfjs.command[0] == "node" and tfjs.command[1].endswith("harnesses/tfjs/harness.js")
    assert importlib.util.find_spec("conformance.targets.torch_rnn") is not None

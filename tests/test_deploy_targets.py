"""The deployment targets (predict modes, OpenVINO, exported models, onnx-reference, mlx), run for real.

Each test runs a handful of cases through the target's own worker process and
checks each verdict, so a broken adapter fails here. Their packages are in
the `test` extra: nothing here skips. The Keras and export targets start a
framework per worker and export a model per call: they are marked slow.
"""

import pytest

from conformance.catalog.cases import load_cases
from conformance.run.runner import Runner
from conformance.targets import EXTRAS, builtin_names, resolve

CASES = """
defaults:
  profiles: [keras3]
  spec: [{page: keras3, item: units, observed: deployment adapter tests}]
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
  - id: backwards/masked
    description: go_backwards with a right-padded mask and the final state.
    layer: {units: 3, go_backwards: true, return_state: true}
    arrays:
      x: {random: uniform, shape: [3, 6, 4], low: -1, high: 1, seed: 5}
      m: {mask: ragged, shape: [3, 6]}
    weights: {random: normal, seed: 6, scale: 0.5}
    steps:
      - call: {inputs: x, mask: m}
  - id: initial_state/given
    description: an initial state as an input.
    layer: {units: 3, return_sequences: true}
    arrays:
      x: {random: uniform, shape: [2, 4, 4], low: -1, high: 1, seed: 7}
      h: {random: uniform, shape: [2, 3], low: -1, high: 1, seed: 8}
    weights: {random: normal, seed: 9, scale: 0.5}
    steps:
      - call: {inputs: x, initial_state: [h]}
  - id: stateful/continues
    description: a stateful layer starts the second call from the first call's state.
    layer: {units: 3, stateful: true}
    arrays:
      x: {random: uniform, shape: [2, 4, 4], low: -1, high: 1, seed: 11}
    weights: {random: normal, seed: 12, scale: 0.5}
    steps:
      - call: {inputs: x}
      - call: {inputs: x}
  - id: training/dropout
    description: dropout in training mode.
    layer: {units: 3, dropout: 0.5, seed: 1}
    arrays:
      x: {random: uniform, shape: [2, 4, 4], low: -1, high: 1, seed: 13}
    weights: {random: normal, seed: 14, scale: 0.5}
    steps:
      - call: {inputs: x, training: true}
  - id: activation/sigmoid
    description: sigmoid activation.
    layer: {units: 3, activation: sigmoid, return_sequences: true}
    arrays:
      x: {random: uniform, shape: [2, 4, 4], low: -1, high: 1, seed: 15}
    weights: {random: normal, seed: 16, scale: 0.5}
    steps:
      - call: {inputs: x}
  - id: unroll/forward
    description: unroll=True, the last output.
    layer: {units: 3, unroll: true}
    arrays:
      x: {random: uniform, shape: [2, 4, 4], low: -1, high: 1, seed: 17}
    weights: {random: normal, seed: 18, scale: 0.5}
    steps:
      - call: {inputs: x}
"""
COMPUTING = ("forward/sequences", "backwards/masked", "initial_state/given")


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    path = tmp_path_factory.mktemp("cases") / "deploy.yaml"
    path.write_text(CASES)
    return load_cases([path])


def run(target, cases, keep=None):
    spec = resolve(target)
    chosen = [c for c in cases if keep is None or c.id in keep]
    records = {}
    runner = Runner(spec, timeout=300)
    runner.run(chosen, lambda r: records.setdefault(r.id, r))
    assert runner.start_error is None, runner.start_error
    results = {cid: (r.status, r.verdict.get("message", "")) for cid, r in records.items()}
    return results, runner.implementation


def assert_status(results, status, *ids, reason=""):
    for cid in ids:
        got, message = results[cid]
        assert got == status, f"{cid}: {got} {message}"
        assert reason in message, f"{cid}: {message}"


def test_every_new_target_is_registered_with_its_extra():
    names = builtin_names()
    for name in ("onnx-reference", "mlx", "keras:openvino", "export:onnx", "export:tf2onnx", "export:litert",
                 "export:openvino", "export:saved_model", *(f"keras:{b}:predict" for b in
                                                             ("tensorflow", "jax", "torch", "numpy", "openvino")),
                 *(f"keras:{b}:jit" for b in ("tensorflow", "jax", "torch"))):
        assert name in names and name in EXTRAS, name
        resolve(name)


def test_onnx_reference(cases):
    results, implementation = run("onnx-reference", cases)
    assert implementation["versions"]["evaluator"] == "onnx.reference.ReferenceEvaluator"
    assert_status(results, "pass", "forward/sequences", "initial_state/given", "stateful/continues")
    # The reference evaluator ignores sequence_lens and knows Tanh and Affine only (docs/findings.md).
    assert_status(results, "fail", "backwards/masked")
    assert_status(results, "error", "activation/sigmoid", reason="Unknown activation")


def test_mlx(cases):
    results, implementation = run("mlx", cases)
    assert implementation["versions"]["device"].startswith("Device(cpu")
    assert_status(results, "pass", "forward/sequences", "initial_state/given", "stateful/continues",
                  "activation/sigmoid", "unroll/forward")
    assert_status(results, "unsupported", "backwards/masked", reason="mask")
    assert_status(results, "unsupported", "training/dropout", reason="dropout")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch", "numpy"])
def test_keras_predict(cases, backend):
    results, implementation = run(f"keras:{backend}:predict", cases)
    assert "jit_compile" in implementation["versions"]
    assert_status(results, "pass", *COMPUTING, "activation/sigmoid", "unroll/forward")
    assert_status(results, "unsupported", "training/dropout", reason="training")
    # On JAX, predict() does not carry a stateful layer's state (docs/findings.md).
    assert_status(results, "fail" if backend == "jax" else "pass", "stateful/continues")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_keras_jit(cases, backend):
    # torch.compile costs 10 to 20 s a model: torch plays the cases with one or two calls only.
    keep = None if backend != "torch" else {"forward/sequences", "stateful/continues", "training/dropout"}
    results, implementation = run(f"keras:{backend}:jit", cases, keep)
    assert implementation["versions"]["jit_compile"].startswith("True")
    assert_status(results, "pass", *(["forward/sequences"] if backend == "torch" else COMPUTING))
    assert_status(results, "unsupported", "training/dropout", reason="training")
    assert_status(results, "fail" if backend == "jax" else "pass", "stateful/continues")


TORCH_JIT_MODELS = """
import os, sys
os.environ["KERAS_BACKEND"] = "torch"
import numpy as np, torch
from torch._dynamo.utils import counters
from conformance.targets.keras_predict import make_adapter
torch._dynamo.config.recompile_limit = 1  # a second model without a reset would run eagerly
adapter = make_adapter("torch:jit")
x = np.zeros((2, 4, 3), "float32")
compiled = []
for units in (2, 3):
    adapter.create({"units": units})
    before = counters["stats"]["unique_graphs"]
    adapter.call(x)
    compiled.append(counters["stats"]["unique_graphs"] - before)
print(compiled)
sys.exit(0 if all(compiled) else 1)
"""


@pytest.mark.slow
def test_keras_torch_jit_compiles_every_new_model():
    """Dynamo stops compiling Keras's `forward` after `recompile_limit` new layers (finding 24):
    the adapter resets it per model, so the second model is compiled too, even at a limit of 1."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", TORCH_JIT_MODELS], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]


def max_error(target, cases, keep):
    """Run on OpenVINO, whose CPU default may compute in bfloat16: the function must be right
    to bfloat16's precision, whatever the verdict at float32 tolerance on this CPU."""
    spec = resolve(target)
    records = []
    runner = Runner(spec, timeout=300)
    runner.run([c for c in cases if c.id in keep], records.append)
    assert runner.start_error is None, runner.start_error
    for r in records:
        assert r.status in ("pass", "fail"), (r.id, r.status, r.verdict)
        assert r.verdict.get("max_abs_error", 0) < 0.05, (r.id, r.verdict)
    return runner.implementation


@pytest.mark.slow
@pytest.mark.parametrize("target", ["keras:openvino", "keras:openvino:predict", "export:openvino"])
def test_openvino(cases, target):
    implementation = max_error(target, cases, COMPUTING)
    if target == "export:openvino":
        assert "INFERENCE_PRECISION_HINT" in implementation["versions"]["settings"]


@pytest.mark.slow
@pytest.mark.parametrize("target", ["export:onnx", "export:tf2onnx", "export:saved_model"])
def test_exported(cases, target):
    results, implementation = run(target, cases, keep=(*COMPUTING, "stateful/continues", "training/dropout"))
    assert "cpu_features" in implementation["versions"]
    assert_status(results, "pass", *COMPUTING)
    assert_status(results, "unsupported", "stateful/continues", reason="stateful")
    assert_status(results, "unsupported", "training/dropout", reason="training")


@pytest.mark.slow
def test_exported_litert(cases):
    results, _ = run("export:litert", cases, keep=("forward/sequences", "unroll/forward"))
    assert_status(results, "pass", "unroll/forward")
    # Keras's default LiteRT export keeps TensorFlow's TensorList ops, which the LiteRT
    # interpreter does not have (docs/findings.md).
    assert_status(results, "error", "forward/sequences", reason="Select TensorFlow op")

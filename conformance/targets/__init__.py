"""Which implementations the suite can run, and how each is started.

A target name resolves to a `TargetSpec`: either a Python adapter that the
worker process imports (`adapter` = "module:function"), or an external
command that speaks the JSON-lines protocol itself (`exec:COMMAND`). Nothing
here imports a framework: that happens in the worker, once.

Names:
  reference                  the NumPy reference (reference_impl)
  keras:BACKEND              Keras 3 with BACKEND in tensorflow, jax, torch, numpy
  tf_keras                   the Keras 2 API (profile keras2)
  torch, flax, onnx          torch.nn.RNN, Flax nnx.RNN(SimpleCell), the ONNX RNN operator (onnxruntime)
  tfjs                       TensorFlow.js tf.layers.simpleRNN (node harnesses/tfjs/harness.js)
  keras:openvino             Keras 3 on its OpenVINO backend (inference only)
  keras:BACKEND:predict      the layer inside a keras.Model run by predict() with Keras's defaults
  keras:BACKEND:jit          the same after compile(jit_compile=True): XLA, jax.jit, torch.compile
  export:FORMAT              the layer exported by Keras (onnx, litert, openvino, saved_model) or converted
                             by tf2onnx (tf2onnx), run in that format's runtime
  onnx-reference             the ONNX RNN graph of `onnx`, run by onnx.reference.ReferenceEvaluator
  mlx                        mlx.nn.RNN (Apple's MLX, CPU build)
  package.module:factory     any object with the Keras layer surface
  path/to/file.py:factory    the same, from a file
  exec:COMMAND               an external program speaking the worker protocol
"""

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from conformance.catalog.paths import IMPORT_ROOT, TFJS_HARNESS  # the harness travels with the package

KERAS_BACKENDS = ("tensorflow", "jax", "torch", "numpy")
# Keras 3 backends beside those, and the execution modes of the Keras targets (keras_predict.py).
KERAS_MORE_BACKENDS = ("openvino",)
KERAS_MODES = ("predict", "jit")  # jit: predict after compile(jit_compile=True)
JIT_BACKENDS = ("tensorflow", "jax", "torch")
# Exported or converted models (exported.py): the format, and the Keras backend that exports it.
EXPORT_FORMATS = {"onnx": "tensorflow", "litert": "tensorflow", "openvino": "openvino",
                  "saved_model": "tensorflow", "tf2onnx": "tensorflow"}
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore", "PYTHONUNBUFFERED": "1"}


class UnknownTarget(ValueError):
    pass


@dataclass
class TargetSpec:
    name: str
    adapter: str | None = None       # "module:function" returning an Adapter, for the Python worker
    argument: str | None = None      # passed to that function
    profile: str = "keras3"
    env: dict = field(default_factory=dict)
    command: list | None = None      # an external program instead of the Python worker

    def to_message(self):
        return {"name": self.name, "adapter": self.adapter, "argument": self.argument, "profile": self.profile}


# Third-party implementations (conformance/targets/*.py, harnesses/tfjs; docs/targets.md).
THIRD_PARTY = {"torch": "conformance.targets.torch_rnn:make_adapter",
               "flax": "conformance.targets.flax_nnx:make_adapter",
               "onnx": "conformance.targets.onnx_rnn:make_adapter",
               "onnx-reference": "conformance.targets.onnx_reference:make_adapter",
               "mlx": "conformance.targets.mlx_rnn:make_adapter"}


def builtin_names():
    backends = (*KERAS_BACKENDS, *KERAS_MORE_BACKENDS)
    return ["reference", *(f"keras:{b}" for b in backends), "tf_keras", *THIRD_PARTY, "tfjs",
            *(f"keras:{b}:predict" for b in backends), *(f"keras:{b}:jit" for b in JIT_BACKENDS),
            *(f"export:{f}" for f in EXPORT_FORMATS)]


# What to install for a target (`pip install -e ".[EXTRA]"`); None: no extra (in the default install,
# or not from PyPI: tfjs needs `npm ci` in harnesses/tfjs).
EXTRAS = {"reference": None, "keras:numpy": None, "keras:jax": None, "keras:tensorflow": "tensorflow",
          "keras:torch": "torch", "keras:openvino": "openvino", "tf_keras": "tf-keras", "torch": "torch",
          "flax": "flax", "onnx": "onnx", "onnx-reference": "onnx", "mlx": "mlx", "tfjs": None,
          **{f"keras:{b}:predict": e for b, e in (("numpy", None), ("jax", None), ("tensorflow", "tensorflow"),
                                                   ("torch", "torch"), ("openvino", "openvino"))},
          "keras:tensorflow:jit": "tensorflow", "keras:jax:jit": None, "keras:torch:jit": "torch",
          "export:onnx": "export-onnx", "export:tf2onnx": "export-onnx", "export:litert": "export-litert",
          "export:openvino": "export-openvino", "export:saved_model": "tensorflow"}


def resolve(name, profile=None):
    """The TargetSpec for a name; UnknownTarget with a one-line reason otherwise."""
    if name == "reference":
        return TargetSpec(name, "conformance.targets.reference:make_adapter", profile=profile or "keras3")
    if name.startswith("keras:"):
        backend, _, mode = name[6:].partition(":")
        backends = (*KERAS_BACKENDS, *KERAS_MORE_BACKENDS)
        if backend not in backends:
            raise UnknownTarget(f"unknown Keras backend {backend!r}; choose one of {', '.join(backends)}")
        if mode and mode not in KERAS_MODES:
            raise UnknownTarget(f"unknown Keras mode {mode!r}; choose one of {', '.join(KERAS_MODES)}")
        if mode == "jit" and backend not in JIT_BACKENDS:
            raise UnknownTarget(f"Keras's {backend} backend has no jit_compile; use keras:{backend}:predict")
        if mode:
            return TargetSpec(name, "conformance.targets.keras_predict:make_adapter", f"{backend}:{mode}", "keras3",
                              env={**QUIET_ENV, "KERAS_BACKEND": backend})
        return TargetSpec(name, "conformance.targets.keras3:make_adapter", backend, "keras3",
                          env={**QUIET_ENV, "KERAS_BACKEND": backend})
    if name.startswith("export:"):
        fmt = name[7:]
        if fmt not in EXPORT_FORMATS:
            raise UnknownTarget(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
        return TargetSpec(name, "conformance.targets.exported:make_adapter", fmt, "keras3",
                          env={**QUIET_ENV, "KERAS_BACKEND": EXPORT_FORMATS[fmt]})
    if name == "tf_keras":
        return TargetSpec(name, "conformance.targets.tf_keras:make_adapter", None, "keras2", env=dict(QUIET_ENV))
    if name in THIRD_PARTY:
        return TargetSpec(name, THIRD_PARTY[name], None, "keras3", env=dict(QUIET_ENV))
    if name == "tfjs":
        return TargetSpec(name, profile="keras3", env=dict(QUIET_ENV), command=["node", str(TFJS_HARNESS)])
    if name.startswith("mutant:"):  # the reference with one planted bug (conformance/mutants.py)
        from conformance.targets.mutants import ADAPTER_MUTANTS, MUTANTS
        if name[7:] not in MUTANTS and name[7:] not in ADAPTER_MUTANTS:
            raise UnknownTarget(f"unknown mutant {name[7:]!r}; `conformance mutants --list` names them")
        return TargetSpec(name, "conformance.targets.mutants:make_adapter", name[7:], "keras3",
                          env=dict(QUIET_ENV) if name[7:] in ADAPTER_MUTANTS else {})
    if name.startswith("exec:"):
        command = shlex.split(name[5:])
        if not command:
            raise UnknownTarget("exec: needs a command, e.g. exec:'node harness.js'")
        return TargetSpec(name, command=command, profile=profile or "keras3", env=dict(QUIET_ENV))
    match = re.fullmatch(r"(?P<module>[^:]+):(?P<factory>[A-Za-z_][A-Za-z0-9_.]*)", name)
    if match:
        module = match["module"]
        if module.endswith(".py"):
            path = Path(module).expanduser().resolve()
            if not path.is_file():
                raise UnknownTarget(f"target file {module} does not exist")
            module = str(path)
        elif not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", module):
            raise UnknownTarget(f"{name!r}: {module!r} is neither a Python module name nor a .py file")
        return TargetSpec(name, "conformance.targets.factory:make_adapter", f"{module}:{match['factory']}",
                          profile or "keras3", env=dict(QUIET_ENV))
    raise UnknownTarget(
        f"unknown target {name!r}; use one of {', '.join(builtin_names())}, "
        "package.module:factory, path/to/file.py:factory or exec:COMMAND")


def load_adapter(message):
    """Inside the worker: import the adapter a start message names and make it."""
    import importlib

    module_name, function = message["adapter"].split(":")
    adapter = getattr(importlib.import_module(module_name), function)(message.get("argument"))
    adapter.profile = message.get("profile") or adapter.profile
    return adapter


def worker_env(spec):
    env = dict(os.environ)
    env.update(spec.env)
    root = str(IMPORT_ROOT)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env

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
  package.module:factory     any object with the Keras layer surface
  path/to/file.py:factory    the same, from a file
  exec:COMMAND               an external program speaking the worker protocol
"""

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

KERAS_BACKENDS = ("tensorflow", "jax", "torch", "numpy")
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
               "onnx": "conformance.targets.onnx_rnn:make_adapter"}
TFJS_HARNESS = Path(__file__).resolve().parents[2] / "harnesses" / "tfjs" / "harness.js"


def builtin_names():
    return ["reference", *(f"keras:{b}" for b in KERAS_BACKENDS), "tf_keras", *THIRD_PARTY, "tfjs"]


def resolve(name, profile=None):
    """The TargetSpec for a name; UnknownTarget with a one-line reason otherwise."""
    if name == "reference":
        return TargetSpec(name, "conformance.targets.reference:make_adapter", profile=profile or "keras3")
    if name.startswith("keras:"):
        backend = name.split(":", 1)[1]
        if backend not in KERAS_BACKENDS:
            raise UnknownTarget(f"unknown Keras backend {backend!r}; choose one of {', '.join(KERAS_BACKENDS)}")
        return TargetSpec(name, "conformance.targets.keras3:make_adapter", backend, "keras3",
                          env={**QUIET_ENV, "KERAS_BACKEND": backend})
    if name == "tf_keras":
        return TargetSpec(name, "conformance.targets.tf_keras:make_adapter", None, "keras2", env=dict(QUIET_ENV))
    if name in THIRD_PARTY:
        return TargetSpec(name, THIRD_PARTY[name], None, "keras3", env=dict(QUIET_ENV))
    if name == "tfjs":
        return TargetSpec(name, profile="keras3", env=dict(QUIET_ENV), command=["node", str(TFJS_HARNESS)])
    if name.startswith("mutant:"):  # the reference with one planted bug (conformance/mutants.py)
        from conformance.targets.mutants import MUTANTS
        if name[7:] not in MUTANTS:
            raise UnknownTarget(f"unknown mutant {name[7:]!r}; `conformance mutants --list` names them")
        return TargetSpec(name, "conformance.targets.mutants:make_adapter", name[7:], "keras3")
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
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env

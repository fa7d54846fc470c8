"""The layer as an exported model: `--target export:FORMAT`.

For every call of a case, the adapter takes the real Keras layer (made by
`keras:BACKEND`'s adapter from the case's config and weights), wraps it in a
functional `keras.Model`, exports or converts that model, loads the artifact
in its own runtime and runs the call there:

| target               | backend    | artifact                                        | runtime                          |
|----------------------|------------|-------------------------------------------------|----------------------------------|
| `export:onnx`        | tensorflow | `model.export(format="onnx")` (tf2onnx inside)  | onnxruntime `InferenceSession`   |
| `export:tf2onnx`     | tensorflow | `tf2onnx.convert.from_keras(model)`             | onnxruntime `InferenceSession`   |
| `export:litert`      | tensorflow | `model.export(format="litert")`                 | ai-edge-litert `Interpreter`     |
| `export:openvino`    | openvino   | `model.export(format="openvino")`               | OpenVINO `Core().compile_model`  |
| `export:saved_model` | tensorflow | `model.export(format="tf_saved_model")`         | `tf.saved_model.load`, `serving_default` |

(`format="openvino"` from the TensorFlow or JAX backend fails for SimpleRNN:
OpenVINO has no conversion rule for TensorFlow's `TensorList` ops; from the
torch backend it traces the model with `torch.jit.trace`, about ten seconds
an artifact. The target exports from Keras's own OpenVINO backend, which
builds the OpenVINO graph directly; that exporter spreads a list of inputs
over `Functional.call`'s arguments, so a model with a mask or state input
is given its signature as a dict by input name; docs/findings.md.)

What the artifact carries, the model gives it: a `keras.Input` for the
sequence (batch size free, time steps and features fixed), one for the mask
(bool, batch by time) when the call has a mask, one per initial state; the
layer's outputs (sequence or last output, and the state with `return_state`)
as the model's outputs. Masks, initial states, `return_state` and
`go_backwards` are thus real inputs, outputs and graph of the artifact.

Declared unsupported, because an artifact cannot express them: stateful
sequences (an exported model is a function of its inputs: nothing carries
the state to the next call), `training=True` calls (an export is the
inference function), gradients, and the steps that are about the layer
object rather than what it computes (configs, losses, constraints,
compute_output_shape/mask, symbolic calls, save/load, other methods).
Creating, building, setting and reading weights and properties are the
Keras layer's own, as in `keras:BACKEND`.

Runtimes run with the defaults a user gets; `versions()` records them (and
the CPU's numerics-relevant features) in the report. Artifacts are cached
within a worker by what determines them (config, input signature, a digest
of the weights), never results.
"""

import hashlib
import json
import os
import tempfile
from collections import OrderedDict

import numpy as np

from conformance.targets.base import Unsupported, jsonable
from conformance.targets.keras3 import Keras3Adapter
from conformance.targets.runtime_info import cpu_features

_NOT_IN_AN_ARTIFACT = ("op:get_config", "op:from_config", "op:losses", "op:apply_constraints",
                       "op:compute_output_shape", "op:compute_mask", "op:gradients", "op:save_and_load",
                       "op:connect", "op:call_method", "op:reset_states")
CACHE_SIZE = 32


class ExportedAdapter(Keras3Adapter):
    unsupported_features = frozenset({"stateful", "training", *_NOT_IN_AN_ARTIFACT})

    def __init__(self, fmt, backend):
        super().__init__(backend)
        self.format = fmt
        self.name = f"export:{fmt}"
        self._artifacts = OrderedDict()
        self.runtime = RUNTIMES[fmt](self.keras)

    def versions(self):
        found = super().versions()
        found.update(self.runtime.versions())
        found["cpu_features"] = cpu_features()
        return found

    def call(self, inputs, mask=None, training=None, initial_state=None):
        if training:
            raise Unsupported("training=True: an exported model is the inference function")
        if self.layer.stateful:
            raise Unsupported("stateful: an exported model is a function of its inputs, nothing carries the state")
        if self._input_shape is None:
            self._input_shape = tuple(inputs.shape)
        states = [np.asarray(s) for s in initial_state] if initial_state is not None else []
        feeds = [np.asarray(inputs)] + ([] if mask is None else [np.asarray(mask, dtype=bool)]) + states
        key = self._key(feeds)
        if key not in self._artifacts:
            self._artifacts[key] = self._export(feeds, mask is not None, len(states))
            if len(self._artifacts) > CACHE_SIZE:
                self._artifacts.popitem(last=False)
        self._artifacts.move_to_end(key)
        outs = self._artifacts[key](feeds)
        return [self.observe(np.asarray(o)) for o in outs]

    def _key(self, feeds):
        """What determines the artifact: the layer's config, the input signature, the weights."""
        digest = hashlib.sha256()
        if self.layer.built:
            for w in self.layer.get_weights():
                digest.update(str((w.shape, w.dtype)).encode())
                digest.update(np.ascontiguousarray(w).tobytes())
        signature = tuple((f.shape[1:], str(f.dtype)) for f in feeds)
        return json.dumps(jsonable(self.layer.get_config()), sort_keys=True), signature, len(feeds), digest.hexdigest()

    def _export(self, feeds, masked, n_states):
        keras = self.keras
        x = keras.Input(shape=feeds[0].shape[1:], dtype=str(feeds[0].dtype), name="inputs")
        symbolic, kwargs = [x], {}
        if masked:
            kwargs["mask"] = keras.Input(shape=feeds[1].shape[1:], dtype="bool", name="mask")
            symbolic.append(kwargs["mask"])
        if n_states:
            kwargs["initial_state"] = [keras.Input(shape=s.shape[1:], dtype=str(s.dtype), name=f"state_{i}")
                                       for i, s in enumerate(feeds[1 + masked:])]
            symbolic.extend(kwargs["initial_state"])
        outputs = self.layer(x, **kwargs)
        model = keras.Model(symbolic, outputs)
        if self.runtime.call_first:  # Keras's ONNX export takes only a model that has been called
            model(feeds if len(feeds) > 1 else feeds[0])
        names = [t.name for t in symbolic]
        with tempfile.TemporaryDirectory(prefix="conformance-export-") as folder:
            # The runtime loads the artifact into memory; the folder goes once it has.
            return self.runtime.load(model, folder, names)


# ---------------------------------------------------------------------------- runtimes
# Each runtime: load(model, folder, names) -> run(feeds) -> list of arrays in the model's output
# order (feeds in the model's input order, `names` the names of its inputs); versions() -> what
# the report records.

class OnnxRuntime:
    """A Keras-exported (or tf2onnx-converted) ONNX model in onnxruntime, default session options."""

    call_first = True

    def __init__(self, keras):
        import onnxruntime

        self.keras, self.ort = keras, onnxruntime
        onnxruntime.set_default_logger_severity(3)

    def versions(self):
        import onnx

        options = self.ort.SessionOptions()
        return {"onnx": onnx.__version__, "onnxruntime": self.ort.__version__,
                "providers": "CPUExecutionProvider",
                "settings": f"default SessionOptions (graph_optimization_level={options.graph_optimization_level.name}, "
                            f"intra_op_num_threads={options.intra_op_num_threads} = onnxruntime's choice)"}

    def convert(self, model, path):
        model.export(path, format="onnx", verbose=False)

    def load(self, model, folder, names):
        path = os.path.join(folder, "model.onnx")
        self.convert(model, path)
        session = self.ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]  # the converters name them, in the model's order
        outputs = [o.name for o in session.get_outputs()]

        def run(feeds):
            return session.run(outputs, dict(zip(names, feeds)))
        return run


class Tf2OnnxRuntime(OnnxRuntime):
    """tf2onnx called directly on the Keras model (its own default opset), run in onnxruntime."""

    call_first = False

    def versions(self):
        import tf2onnx

        return {**super().versions(), "tf2onnx": tf2onnx.__version__}

    def convert(self, model, path):
        import tf2onnx

        tf2onnx.convert.from_keras(model, output_path=path)


class LiteRTRuntime:
    """A Keras-exported `.tflite` model in the ai-edge-litert interpreter (default options)."""

    call_first = False

    def __init__(self, keras):
        from ai_edge_litert import interpreter

        self.keras, self.litert = keras, interpreter

    def versions(self):
        import importlib.metadata as md

        return {"ai-edge-litert": md.version("ai-edge-litert"),
                "settings": "Interpreter(model_content=...) defaults: num_threads=None, default op resolver "
                            "(XNNPACK delegate applied by default)"}

    def load(self, model, folder, names):
        path = os.path.join(folder, "model.tflite")
        model.export(path, format="litert", verbose=False)
        with open(path, "rb") as handle:
            content = handle.read()
        interpreter = self.litert.Interpreter(model_content=content)
        runner = interpreter.get_signature_runner()  # inputs named as the model's, outputs output_0, ...
        outputs = sorted(runner.get_output_details(), key=_output_order)

        def run(feeds):
            result = runner(**dict(zip(names, feeds)))
            return [result[o] for o in outputs]
        return run


class OpenVINORuntime:
    """A Keras-exported OpenVINO IR (from Keras's OpenVINO backend) compiled for the CPU with defaults."""

    call_first = False

    def __init__(self, keras):
        import openvino

        self.keras, self.ov = keras, openvino
        self.core = openvino.Core()

    def versions(self):
        properties = {}
        for name in ("INFERENCE_PRECISION_HINT", "EXECUTION_MODE_HINT", "PERFORMANCE_HINT",
                     "INFERENCE_NUM_THREADS", "NUM_STREAMS"):
            try:
                properties[name] = str(self.core.get_property("CPU", name))
            except Exception:  # noqa: BLE001 - an OpenVINO build may lack a property
                pass
        return {"openvino": self.ov.__version__, "device": "CPU",
                "settings": ", ".join(f"{k}={v}" for k, v in properties.items()) + " (defaults)"}

    def load(self, model, folder, names):
        path = os.path.join(folder, "model.xml")
        # A list signature of several inputs reaches Functional.call spread as (inputs, training,
        # mask): give several inputs as a dict by name (one input as Keras infers it).
        signature = None if len(names) == 1 else dict(zip(names, model.inputs))
        model.export(path, format="openvino", verbose=False, input_signature=signature)
        compiled = self.core.compile_model(path, "CPU")
        outputs = list(compiled.outputs)

        def run(feeds):
            result = compiled(list(feeds))
            return [result[o] for o in outputs]
        return run


class SavedModelRuntime:
    """A Keras-exported SavedModel reloaded by `tf.saved_model.load` and called through `serving_default`."""

    call_first = False

    def __init__(self, keras):
        import tensorflow as tf

        self.keras, self.tf = keras, tf

    def versions(self):
        return {"tensorflow": self.tf.__version__, "device": "CPU",
                "settings": "tf.saved_model.load defaults, signature serving_default"}

    def load(self, model, folder, names):
        path = os.path.join(folder, "saved")
        model.export(path, format="tf_saved_model", verbose=False)
        loaded = self.tf.saved_model.load(path)
        signature = loaded.signatures["serving_default"]  # arguments named as the model's inputs

        def run(feeds):
            result = signature(**{name: self.tf.constant(f) for name, f in zip(names, feeds)})
            return [result[k] for k in sorted(result, key=_output_order)]
        # Keep the loaded object alive with the function that uses it.
        run.loaded = loaded
        return run


RUNTIMES = {"onnx": OnnxRuntime, "tf2onnx": Tf2OnnxRuntime, "litert": LiteRTRuntime,
            "openvino": OpenVINORuntime, "saved_model": SavedModelRuntime}
BACKENDS = {"onnx": "tensorflow", "tf2onnx": "tensorflow", "litert": "tensorflow",
            "openvino": "openvino", "saved_model": "tensorflow"}

def _output_order(name):
    """output_0, output_1, ... (the model's output order), by the number in the name."""
    digits = "".join(c for c in str(name).rsplit("_", 1)[-1] if c.isdigit())
    return int(digits) if digits else 0


def make_adapter(fmt):
    return ExportedAdapter(fmt, BACKENDS[fmt])

"""Keras 3 as models are run: `--target keras:BACKEND:predict` and `keras:BACKEND:jit`.

The case's layer is the same `keras.layers.SimpleRNN` as in `keras:BACKEND`
(keras3.py), but every `call` step goes through a functional `keras.Model`
around it and `model.predict()`, with the defaults a user gets
(`jit_compile="auto"`): a `tf.function` compiled by XLA on TensorFlow, a
`jax.jit` predict step on JAX, the eager loop on torch (Keras does not
`torch.compile` unless asked) and on NumPy, a compiled OpenVINO model on
OpenVINO. The model is made per call signature:

    inputs = keras.Input(batch_shape=x.shape, dtype=x.dtype)
    [mask = keras.Input(batch_shape=mask.shape, dtype="bool")]
    [states = keras.Input(batch_shape=s.shape) for each initial state]
    model = keras.Model([inputs, mask, *states], layer(inputs, mask=mask, initial_state=states))
    model.predict([x, mask, *states], batch_size=len(x), verbose=0)

`keras:BACKEND:jit` compiles the model with `jit_compile=True` first: XLA on
TensorFlow (which Keras's "auto" leaves off on a CPU-only machine), `jax.jit`
as by default on JAX, `torch.compile` on torch. On torch, Dynamo's caches are
reset before each new model (`torch._dynamo.reset()`): Dynamo recompiles
Keras's one `forward` for every new model, and after `recompile_limit` (8)
recompilations it runs that code eagerly from then on, with a warning only; so
without the reset, every model after the eighth in a worker would run eagerly
(docs/findings.md). A compilation per model costs 10 to 20 s of CPU: the
published report of `keras:torch:jit` covers the quick tier, not the catalog.

`batch_size` is the whole batch: predict's default of 32 would split a larger
batch, which a stateful layer (whose state has the batch size) cannot take.
A stateful layer's state lives in the layer's variables, so it is carried
from one `predict` to the next and `reset_states` (the layer's, as a user of
the model calls it) resets it.

Every other step (create, weights, configs, properties, save/load) is the
layer's own, as in `keras:BACKEND`. Declared unsupported, because predict is
inference: `training=True` calls, gradients, and constraints (applied by an
optimizer step).
"""

import numpy as np

from conformance.targets.base import Unsupported
from conformance.targets.keras3 import Keras3Adapter
from conformance.targets.runtime_info import cpu_features


class KerasPredictAdapter(Keras3Adapter):
    unsupported_features = frozenset({"training", "op:gradients", "op:apply_constraints"})

    def __init__(self, argument):
        backend, _, mode = argument.partition(":")
        super().__init__(backend)
        self.mode = mode or "predict"
        self.name = f"keras:{backend}:{self.mode}"
        self._models = {}

    def versions(self):
        found = super().versions()
        probe = self.keras.Sequential([self.keras.Input((1,)), self.keras.layers.Identity()])
        if self.mode == "jit":
            probe.compile(jit_compile=True)
        found["jit_compile"] = f"{probe.jit_compile} ({'compile(jit_compile=True)' if self.mode == 'jit' else 'the default, auto'})"
        found["cpu_features"] = cpu_features()
        return found

    # A new layer object means new models around it.
    def create(self, layer):
        self._models = {}
        super().create(layer)

    def from_config(self):
        self._models = {}
        super().from_config()

    def save_and_load(self, input_shape):
        self._models = {}
        super().save_and_load(input_shape)

    def call(self, inputs, mask=None, training=None, initial_state=None):
        if training:
            raise Unsupported("training=True: predict() runs the model in inference mode")
        if self._input_shape is None:
            self._input_shape = tuple(inputs.shape)
        states = list(initial_state) if initial_state is not None else []
        key = (inputs.shape, str(inputs.dtype), None if mask is None else mask.shape,
               tuple((s.shape, str(s.dtype)) for s in states))
        if key not in self._models:
            self._models[key] = self._model(inputs, mask, states)
        feeds = [inputs] + ([] if mask is None else [np.asarray(mask, dtype=bool)]) + states
        out = self._models[key].predict(feeds if len(feeds) > 1 else feeds[0],
                                        batch_size=max(1, len(inputs)), verbose=0)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        return [self.observe(o) for o in outs]

    def _model(self, inputs, mask, states):
        keras = self.keras
        x = keras.Input(batch_shape=inputs.shape, dtype=str(inputs.dtype))
        symbolic = [x]
        kwargs = {}
        if mask is not None:
            kwargs["mask"] = keras.Input(batch_shape=mask.shape, dtype="bool")
            symbolic.append(kwargs["mask"])
        if states:
            kwargs["initial_state"] = [keras.Input(batch_shape=s.shape, dtype=str(s.dtype)) for s in states]
            symbolic.extend(kwargs["initial_state"])
        model = keras.Model(symbolic, self.layer(x, **kwargs))
        if self.mode == "jit":
            if self.backend == "torch":
                import torch

                torch._dynamo.reset()  # a fresh compilation, as a process with one model gets
            model.compile(jit_compile=True)
        return model


def make_adapter(argument):
    return KerasPredictAdapter(argument)

"""Keras 3 on one backend: `keras:tensorflow`, `keras:jax`, `keras:torch`, `keras:numpy`.

The worker process sets KERAS_BACKEND before this module imports Keras.
"""

import os

import numpy as np

from conformance.targets.base import KerasSurfaceAdapter, Unsupported, loss_weights
from conformance.arrays import Observed


class Keras3Adapter(KerasSurfaceAdapter):
    def __init__(self, backend):
        if os.environ.get("KERAS_BACKEND") != backend:
            raise RuntimeError(f"KERAS_BACKEND must be {backend!r} before Keras is imported")
        import keras

        if keras.backend.backend() != backend:
            raise RuntimeError(f"Keras started with backend {keras.backend.backend()!r}, not {backend!r}")
        self.keras = self.keras_module = keras
        self.backend = backend
        super().__init__(keras.layers.SimpleRNN, name=f"keras:{backend}", profile="keras3")

    def versions(self):
        import importlib.metadata as md

        packages = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy", "openvino": "openvino"}
        found = {"keras": self.keras.__version__, "numpy": np.__version__}
        try:
            found[packages[self.backend]] = md.version(packages[self.backend])
        except md.PackageNotFoundError:
            pass
        return found

    def layer_config(self, layer):
        config = dict(layer)
        if isinstance(config.get("activation"), dict) and "callable" in config["activation"]:
            config["activation"] = self.keras.activations.get(config["activation"]["callable"])
        return config

    def observe(self, value):
        dtype = self.keras.backend.standardize_dtype(value.dtype)
        array = self.keras.ops.convert_to_numpy(value)
        if dtype == "bfloat16":
            array = np.asarray(array, dtype=np.float32)
        return Observed(array, dtype)

    def save_and_load(self, input_shape):
        self.save_with(self.keras, input_shape)

    def gradients(self, inputs, mask=None, initial_state=None):
        if not self.layer.built:
            self.layer.build(tuple(inputs.shape))
        differentiate = getattr(self, f"_gradients_{self.backend}", None)
        if differentiate is None:
            raise Unsupported(f"Keras's {self.backend} backend cannot differentiate")
        names = [v.name for v in self.layer.trainable_variables]
        grads_x, grads_vars, grads_h0 = differentiate(inputs, mask, initial_state)
        result = {"inputs": self.observe(grads_x)}
        result.update({name: self.observe(g) for name, g in zip(names, grads_vars)})
        if initial_state is not None:
            result["initial_state"] = self.observe(grads_h0[0])
        return result

    def _loss(self, out, ops):
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        return sum(ops.sum(o * ops.cast(loss_weights(tuple(o.shape)), o.dtype)) for o in outs)

    def _call_kwargs(self, mask, states):
        kwargs = {"training": False}
        if mask is not None:
            kwargs["mask"] = mask
        if states is not None:
            kwargs["initial_state"] = states
        return kwargs

    def _gradients_tensorflow(self, inputs, mask, initial_state):
        import tensorflow as tf

        x = tf.constant(inputs)
        states = None if initial_state is None else [tf.constant(s) for s in initial_state]
        with tf.GradientTape() as tape:
            tape.watch(x)
            if states is not None:
                tape.watch(states)
            out = self.layer(x, **self._call_kwargs(mask, states))
            loss = self._loss(out, self.keras.ops)
        variables = self.layer.trainable_variables
        grads = tape.gradient(loss, [x, [v.value for v in variables], states or []])
        return grads[0], grads[1], grads[2]

    def _gradients_jax(self, inputs, mask, initial_state):
        import jax
        import jax.numpy as jnp

        trainable = [v.value for v in self.layer.trainable_variables]
        frozen = [v.value for v in self.layer.non_trainable_variables]
        states = None if initial_state is None else [jnp.asarray(s) for s in initial_state]

        def loss(trainable, x, states):
            out, _ = self.layer.stateless_call(trainable, frozen, x, **self._call_kwargs(mask, states))
            return self._loss(out, self.keras.ops)

        grads_trainable, grads_x, grads_states = jax.grad(loss, argnums=(0, 1, 2))(trainable, jnp.asarray(inputs), states)
        return grads_x, grads_trainable, grads_states

    def _gradients_torch(self, inputs, mask, initial_state):
        import torch

        x = torch.tensor(inputs, requires_grad=True)
        states = None if initial_state is None else [torch.tensor(s, requires_grad=True) for s in initial_state]
        parameters = [v.value for v in self.layer.trainable_variables]
        for p in parameters:
            p.grad = None
        out = self.layer(x, **self._call_kwargs(None if mask is None else torch.tensor(mask), states))
        self._loss(out, self.keras.ops).backward()
        return x.grad, [p.grad for p in parameters], None if states is None else [s.grad for s in states]

    def losses(self):
        return [float(self.keras.ops.convert_to_numpy(loss)) for loss in self.layer.losses]


def make_adapter(backend):
    return Keras3Adapter(backend)

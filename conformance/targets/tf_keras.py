"""tf_keras: the Keras 2 API of the TensorFlow r1.11 page (profile keras2).

With the argument "keras" it runs the Keras 2 package itself (keras 2.x, the
`tf.keras` of TensorFlow up to 2.15), for `conformance history --target keras2`.
"""

import numpy as np

from conformance.targets.base import KerasSurfaceAdapter, loss_weights
from conformance.arrays import Observed


class TfKerasAdapter(KerasSurfaceAdapter):
    def __init__(self, module="tf_keras"):
        import importlib

        import tensorflow as tf

        tf_keras = importlib.import_module(module)
        if not tf_keras.__version__.startswith("2."):
            raise RuntimeError(f"{module} {tf_keras.__version__} is not a Keras 2 release")
        self.tf = tf
        self.tf_keras = self.keras_module = tf_keras
        self.module = module
        super().__init__(tf_keras.layers.SimpleRNN, name=module, profile="keras2")

    def versions(self):
        return {self.module: self.tf_keras.__version__, "tensorflow": self.tf.__version__, "numpy": np.__version__}

    def tensor(self, array):
        # tf_keras refuses a raw NumPy initial_state ("Expected a symbolic tensor instance").
        return self.tf.convert_to_tensor(array)

    def layer_config(self, layer):
        config = dict(layer)
        if isinstance(config.get("activation"), dict) and "callable" in config["activation"]:
            config["activation"] = self.tf_keras.activations.get(config["activation"]["callable"])
        return config

    def save_and_load(self, input_shape):
        self.save_with(self.tf_keras, input_shape)

    def gradients(self, inputs, mask=None, initial_state=None):
        tf = self.tf
        if not self.layer.built:
            self.layer.build(tuple(inputs.shape))
        x = tf.constant(inputs)
        states = None if initial_state is None else [tf.constant(s) for s in initial_state]
        kwargs = {"training": False}
        if mask is not None:
            kwargs["mask"] = tf.constant(mask)
        if states is not None:
            kwargs["initial_state"] = states
        with tf.GradientTape() as tape:
            tape.watch(x)
            if states is not None:
                tape.watch(states)
            out = self.layer(x, **kwargs)
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            loss = tf.add_n([tf.reduce_sum(o * tf.cast(loss_weights(o.shape.as_list()), o.dtype)) for o in outs])
        variables = self.layer.trainable_variables
        grads = tape.gradient(loss, [x, variables, states or []])
        result = {"inputs": self.observe(grads[0])}
        for variable, grad in zip(variables, grads[1]):
            result[variable.name.split("/")[-1].split(":")[0]] = self.observe(grad)
        if states is not None:
            result["initial_state"] = self.observe(grads[2][0])
        return result

    def observe(self, value):
        dtype = value.dtype.name if hasattr(value.dtype, "name") else str(value.dtype)
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        if dtype == "bfloat16":
            array = array.astype(np.float32)
        return Observed(array, dtype)


def make_adapter(argument=None):
    return TfKerasAdapter(argument or "tf_keras")

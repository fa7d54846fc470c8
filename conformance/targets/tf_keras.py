"""tf_keras: the Keras 2 API of the TensorFlow r1.11 page (profile keras2)."""

import numpy as np

from ..adapter import KerasSurfaceAdapter
from ..arrays import Observed


class TfKerasAdapter(KerasSurfaceAdapter):
    def __init__(self):
        import tensorflow as tf
        import tf_keras

        self.tf = tf
        self.tf_keras = tf_keras
        super().__init__(tf_keras.layers.SimpleRNN, name="tf_keras", profile="keras2")

    def versions(self):
        return {"tf_keras": self.tf_keras.__version__, "tensorflow": self.tf.__version__, "numpy": np.__version__}

    def tensor(self, array):
        # tf_keras refuses a raw NumPy initial_state ("Expected a symbolic tensor instance").
        return self.tf.convert_to_tensor(array)

    def layer_config(self, layer):
        config = dict(layer)
        if isinstance(config.get("activation"), dict) and "callable" in config["activation"]:
            config["activation"] = self.tf_keras.activations.get(config["activation"]["callable"])
        return config

    def observe(self, value):
        dtype = value.dtype.name if hasattr(value.dtype, "name") else str(value.dtype)
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        if dtype == "bfloat16":
            array = array.astype(np.float32)
        return Observed(array, dtype)


def make_adapter(argument=None):
    return TfKerasAdapter()

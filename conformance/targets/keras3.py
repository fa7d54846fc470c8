"""Keras 3 on one backend: `keras:tensorflow`, `keras:jax`, `keras:torch`, `keras:numpy`.

The worker process sets KERAS_BACKEND before this module imports Keras.
"""

import os

import numpy as np

from ..adapter import KerasSurfaceAdapter
from ..arrays import Observed


class Keras3Adapter(KerasSurfaceAdapter):
    def __init__(self, backend):
        if os.environ.get("KERAS_BACKEND") != backend:
            raise RuntimeError(f"KERAS_BACKEND must be {backend!r} before Keras is imported")
        import keras

        if keras.backend.backend() != backend:
            raise RuntimeError(f"Keras started with backend {keras.backend.backend()!r}, not {backend!r}")
        self.keras = keras
        self.backend = backend
        super().__init__(keras.layers.SimpleRNN, name=f"keras:{backend}", profile="keras3")

    def versions(self):
        import importlib.metadata as md

        packages = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}
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

    def losses(self):
        return [float(self.keras.ops.convert_to_numpy(loss)) for loss in self.layer.losses]


def make_adapter(backend):
    return Keras3Adapter(backend)

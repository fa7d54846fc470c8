"""The reference implementation as a target: `--target reference`."""

import numpy as np

from reference_impl import SimpleRNN

from ..adapter import KerasSurfaceAdapter
from ..arrays import Observed


class ReferenceAdapter(KerasSurfaceAdapter):
    """The reference computes in float64 and reports the dtype its policy declares."""

    def __init__(self, layer_class=SimpleRNN, name="reference"):
        super().__init__(layer_class, name=name, profile="keras3")

    def versions(self):
        import conformance
        return {"reference_impl": conformance.__version__, "numpy": np.__version__}

    def observe(self, value):
        array = np.asarray(value, dtype=np.float64)
        return Observed(array, self.layer.compute_dtype)

    def get_weights(self):
        return [Observed(w, self.layer.variable_dtype) for w in self.layer.get_weights()]

    def get_property(self, name):
        value = getattr(self.layer, name)
        if name in ("weights", "trainable_weights", "non_trainable_weights"):
            return [Observed(w, self.layer.variable_dtype) for w in value]
        if name == "states":
            return [None if s is None else Observed(s, self.layer.compute_dtype) for s in value]
        return self._plain(value)


def make_adapter(argument=None):
    return ReferenceAdapter()

"""The reference implementation as a target: `--target reference`."""

import numpy as np

from reference_impl import SimpleRNN
from reference_impl.gradients import gradients

from conformance.targets.base import KerasSurfaceAdapter, loss_weights, output_shapes
from conformance.arrays import Observed


class ReferenceAdapter(KerasSurfaceAdapter):
    """The reference computes in float64 and reports the dtype its policy declares."""

    # The backward pass (reference_impl.gradients); a gradient mutant puts a patched copy here.
    backprop = staticmethod(gradients)

    def __init__(self, layer_class=SimpleRNN, name="reference"):
        super().__init__(layer_class, name=name, profile="keras3")

    def versions(self):
        import conformance
        return {"reference_impl": conformance.__version__, "numpy": np.__version__}

    def observe(self, value):
        array = np.asarray(value)
        if array.dtype == bool:  # a mask
            return Observed(array, "bool")
        return Observed(array.astype(np.float64), self.layer.compute_dtype)

    def get_weights(self):
        return [Observed(w, self.layer.variable_dtype) for w in self.layer.get_weights()]

    def gradients(self, inputs, mask=None, initial_state=None):
        shapes = output_shapes(self.layer.compute_output_shape(inputs.shape))
        result = self.backprop(self.layer, inputs, [loss_weights(s) for s in shapes], mask, initial_state)
        return {name: Observed(g, self.layer.compute_dtype) for name, g in result.items()}

    def save_and_load(self, input_shape):
        # The reference has no file format: a saved model restores the config and the weights.
        self._input_shape = tuple(input_shape)
        self.from_config()

    def get_property(self, name):
        value = getattr(self.layer, name)
        if name in ("weights", "trainable_weights", "non_trainable_weights"):
            return [Observed(w, self.layer.variable_dtype) for w in value]
        if name == "states":
            return [None if s is None else Observed(s, self.layer.compute_dtype) for s in value]
        return self._plain(value)


def make_adapter(argument=None):
    return ReferenceAdapter()

"""Targets for the gating tests: the reference, and the reference with a planted bug.

    conformance run -t tests/data/planted_bug.py:buggy   # relu leaks: 0.01 * x below zero
    conformance run -t tests/data/planted_bug.py:correct # the reference itself

The bug is of the kind a port makes: relu written as a leaky relu. Only cases
whose activation is relu fail; every other case passes.
"""

import numpy as np

from reference_impl import SimpleRNN


class Float32SimpleRNN(SimpleRNN):
    """The reference computing in float64 but answering in float32, as a float32 layer does."""

    def __call__(self, *args, **kwargs):
        result = super().__call__(*args, **kwargs)
        if isinstance(result, list):
            return [np.asarray(r, dtype=np.float32) for r in result]
        return np.asarray(result, dtype=np.float32)

    def get_weights(self):
        return [np.asarray(w, dtype=np.float32) for w in super().get_weights()]


class LeakyReluSimpleRNN(Float32SimpleRNN):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self._activation_name == "relu":
            self.activation = lambda x: np.where(x > 0, x, 0.01 * x)


def buggy(**config):
    return LeakyReluSimpleRNN(**config)


def correct(**config):
    return Float32SimpleRNN(**config)

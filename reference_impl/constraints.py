"""Weight constraints: a projection applied to a weight after each optimizer update.

Spec: "kernel_constraint: Constraint function applied to the kernel weights
matrix", and likewise for recurrent_kernel and bias.
"""

import numpy as np

from .registry import lookup, serialize  # noqa: F401 - serialize is part of this module's surface

_EPSILON = 1e-7  # Keras's backend epsilon, used to avoid dividing by zero.


def _norms(w, axis):
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


class NonNeg:
    def __call__(self, w):
        return w * (w >= 0.0)

    def get_config(self):
        return {}


class MaxNorm:
    def __init__(self, max_value=2.0, axis=0):
        self.max_value, self.axis = float(max_value), axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0.0, self.max_value)
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class UnitNorm:
    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (_EPSILON + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm:
    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value = float(min_value), float(max_value)
        self.rate, self.axis = float(rate), axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value)
        desired = desired + (1.0 - self.rate) * norms
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value,
                "rate": self.rate, "axis": self.axis}


_CLASSES = {"NonNeg": NonNeg, "MaxNorm": MaxNorm, "UnitNorm": UnitNorm,
            "MinMaxNorm": MinMaxNorm}
_SHORT_NAMES = {"non_neg": "NonNeg", "max_norm": "MaxNorm",
                "unit_norm": "UnitNorm", "min_max_norm": "MinMaxNorm"}


def get(identifier):
    """None, a short name, or {"class_name": ..., "config": {...}}."""
    if identifier is None:
        return None
    return lookup("constraint", identifier, _CLASSES, _SHORT_NAMES)

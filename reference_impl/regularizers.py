"""Weight and activity regularizers: a penalty added to the layer's `losses`.

Spec: "kernel_regularizer: Regularizer function applied to the kernel weights
matrix", and likewise for recurrent_kernel, bias and the activity.
"""

import numpy as np

from .registry import lookup, serialize  # noqa: F401 - serialize is part of this module's surface


class L1L2:
    """penalty(w) = l1 * sum(|w|) + l2 * sum(w ** 2)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = float(l1)
        self.l2 = float(l2)

    def __call__(self, w):
        w = np.asarray(w, dtype=np.float64)
        return self.l1 * np.sum(np.abs(w)) + self.l2 * np.sum(np.square(w))

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}
_SHORT_NAMES = {"l1": "L1", "l2": "L2", "l1_l2": "L1L2"}


def get(identifier):
    """None, a short name, or {"class_name": ..., "config": {...}}."""
    if identifier is None:
        return None
    return lookup("regularizer", identifier, _CLASSES, _SHORT_NAMES)

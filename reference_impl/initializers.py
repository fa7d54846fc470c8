"""Weight initializers: the contracts the spec's defaults promise.

Spec: kernel_initializer defaults to "glorot_uniform", recurrent_initializer to
"orthogonal", bias_initializer to "zeros". Random initializers here draw from
NumPy's generator, so they match Keras in distribution, never in value.
"""

import math

import numpy as np

from .registry import lookup, serialize  # noqa: F401 - serialize is part of this module's surface


def _fans(shape):
    # Keras: for a 2D (fan_in, fan_out) matrix; for a vector both fans are its length.
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


class Initializer:
    def get_config(self):
        return {}


class Zeros(Initializer):
    def __call__(self, shape, rng):
        return np.zeros(shape)


class Ones(Initializer):
    def __call__(self, shape, rng):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = float(value)

    def __call__(self, shape, rng):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def __call__(self, shape, rng):
        return self.gain * np.eye(*shape)

    def get_config(self):
        return {"gain": self.gain}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def __call__(self, shape, rng):
        return rng.normal(self.mean, self.stddev, size=shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = float(minval), float(maxval), seed

    def __call__(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, size=shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class VarianceScaling(Initializer):
    """Keras: variance = scale / n, with n = fan_in, fan_out or their mean."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        self.scale, self.mode, self.distribution, self.seed = float(scale), mode, distribution, seed

    def __call__(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(variance), size=shape)
        # truncated_normal: cut at two standard deviations; 0.879... restores the variance.
        stddev = math.sqrt(variance) / 0.87962566103423978
        out = rng.normal(0.0, stddev, size=shape)
        bad = np.abs(out) > 2 * stddev
        while bad.any():
            out[bad] = rng.normal(0.0, stddev, size=int(bad.sum()))
            bad = np.abs(out) > 2 * stddev
        return out

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "seed": self.seed}


def _variance_scaling(class_name, scale, mode, distribution):
    """The named members of the VarianceScaling family (Glorot, He, LeCun)."""

    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    return type(class_name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config})


class Orthogonal(Initializer):
    """An orthogonal matrix (times `gain`): Q of the QR decomposition of a normal matrix."""

    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = float(gain), seed

    def __call__(self, shape, rng):
        rows, cols = shape[0], int(np.prod(shape[1:]))
        a = rng.normal(size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))  # makes the decomposition unique
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


_CLASSES = {
    "Zeros": Zeros, "Ones": Ones, "Constant": Constant, "Identity": Identity,
    "RandomNormal": RandomNormal, "RandomUniform": RandomUniform,
    "VarianceScaling": VarianceScaling, "Orthogonal": Orthogonal,
    "GlorotUniform": _variance_scaling("GlorotUniform", 1.0, "fan_avg", "uniform"),
    "GlorotNormal": _variance_scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal"),
    "HeUniform": _variance_scaling("HeUniform", 2.0, "fan_in", "uniform"),
    "HeNormal": _variance_scaling("HeNormal", 2.0, "fan_in", "truncated_normal"),
    "LecunUniform": _variance_scaling("LecunUniform", 1.0, "fan_in", "uniform"),
    "LecunNormal": _variance_scaling("LecunNormal", 1.0, "fan_in", "truncated_normal"),
}
_SHORT_NAMES = {
    "zeros": "Zeros", "ones": "Ones", "constant": "Constant", "identity": "Identity",
    "random_normal": "RandomNormal", "random_uniform": "RandomUniform",
    "variance_scaling": "VarianceScaling", "orthogonal": "Orthogonal",
    "glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal",
    "he_uniform": "HeUniform", "he_normal": "HeNormal",
    "lecun_uniform": "LecunUniform", "lecun_normal": "LecunNormal",
}


def get(identifier):
    """A short name ("orthogonal"), or {"class_name": "Orthogonal", "config": {...}}."""
    return lookup("initializer", identifier, _CLASSES, _SHORT_NAMES)

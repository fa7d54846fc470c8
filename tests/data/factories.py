"""Target factories with planted faults, for the harness's own tests.

Each factory is called as `factory(**layer_config)` by the factory target
(`conformance run --target tests/data/factories.py:NAME`) and returns an
object with the Keras layer surface: the NumPy reference, returning float32
like a real float32 layer (`correct` passes every case), with one fault.
"""

import os
import time

import numpy as np

from reference_impl import SimpleRNN


class Float32RNN(SimpleRNN):
    """The reference, with outputs in float32 (the dtype the case's policy names)."""

    def __call__(self, *args, **kwargs):
        return self._post(super().__call__(*args, **kwargs))

    def _post(self, result):
        if isinstance(result, list):
            return [self._post(r) for r in result]
        return np.asarray(self._fault(result), dtype=np.float32)

    def _fault(self, array):
        return array

    def get_weights(self):
        return [np.asarray(w, dtype=np.float32) for w in super().get_weights()]


class _AbortOnFive(Float32RNN):
    def __call__(self, *args, **kwargs):
        if self.units == 5:
            os.abort()
        return super().__call__(*args, **kwargs)


class _HangOnFive(Float32RNN):
    def __call__(self, *args, **kwargs):
        if self.units == 5:
            time.sleep(3600)
        return super().__call__(*args, **kwargs)


class _AlwaysRaises(Float32RNN):
    def __call__(self, *args, **kwargs):
        raise RuntimeError("planted failure in call")


class _Slow(Float32RNN):
    def __call__(self, *args, **kwargs):
        time.sleep(0.4)
        return super().__call__(*args, **kwargs)


class _SignFlipped(Float32RNN):
    """A planted bug: every output has its sign flipped."""

    def _fault(self, array):
        return -array


class _Offset(Float32RNN):
    """Outputs off by 2e-4: outside the float32 policy (2e-5), inside a 1e-3 override."""

    def _fault(self, array):
        return array + 2e-4


def correct(**config):
    return Float32RNN(**config)


def abort_on_units_5(**config):
    return _AbortOnFive(**config)


def hang_on_units_5(**config):
    return _HangOnFive(**config)


def always_raises(**config):
    return _AlwaysRaises(**config)


def slow(**config):
    return _Slow(**config)


def sign_flipped(**config):
    return _SignFlipped(**config)


def offset(**config):
    return _Offset(**config)

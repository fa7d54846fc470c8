"""Factories whose layers answer with what the suite cannot read, for tests/test_faults_run.py.

`conformance run --target tests/data/faulty_factories.py:NAME`: the reference layer,
except that its call returns a str, a dict or a generator for the case with 5 units
(tests/data/three.yaml's second case); the other cases pass.
"""

import numpy as np

from reference_impl import SimpleRNN


class _Odd(SimpleRNN):
    returns = None

    def __call__(self, *args, **kwargs):
        if self.units == 5:
            return self.returns()
        result = super().__call__(*args, **kwargs)
        return [np.asarray(r, np.float32) for r in result] if isinstance(result, list) else np.asarray(result, np.float32)

    def get_weights(self):
        return [np.asarray(w, dtype=np.float32) for w in super().get_weights()]


def returns_str(**config):
    layer = _Odd(**config)
    layer.returns = lambda: "not an array"
    return layer


def returns_dict(**config):
    layer = _Odd(**config)
    layer.returns = lambda: {"output": [1, 2, 3]}
    return layer


def returns_generator(**config):
    layer = _Odd(**config)
    layer.returns = lambda: (x for x in range(3))
    return layer

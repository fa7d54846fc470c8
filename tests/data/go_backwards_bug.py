"""A port with one bug, for the grouped summary: with go_backwards=True it returns the
output sequence in input order (un-reversed) instead of processing order.

    conformance run -t tests/data/go_backwards_bug.py:buggy

Only cases with go_backwards=true and return_sequences=true can see it. Otherwise it is the
reference, answering in the dtypes its policy names, as a Keras layer does.
"""

import numpy as np

from reference_impl import SimpleRNN


def _cast(value, dtype):
    if dtype == "bfloat16":
        import ml_dtypes

        dtype = ml_dtypes.bfloat16
    return np.asarray(value).astype(dtype)


class UnreversedSimpleRNN(SimpleRNN):
    def __call__(self, *args, **kwargs):
        result = super().__call__(*args, **kwargs)
        outputs = list(result) if isinstance(result, (list, tuple)) else [result]
        if self.go_backwards and self.return_sequences:
            outputs[0] = np.asarray(outputs[0])[:, ::-1]  # the bug: back in input order
        outputs = [_cast(o, self.compute_dtype) for o in outputs]
        return outputs if isinstance(result, (list, tuple)) else outputs[0]

    def get_weights(self):
        return [_cast(w, self.variable_dtype) for w in super().get_weights()]

    @property
    def trainable_weights(self):
        return [_cast(w, self.variable_dtype) for w in super().trainable_weights]

    @property
    def non_trainable_weights(self):
        return [_cast(w, self.variable_dtype) for w in super().non_trainable_weights]

    @property
    def states(self):
        return [None if s is None else _cast(s, self.compute_dtype) for s in super().states]


def buggy(**config):
    return UnreversedSimpleRNN(**config)

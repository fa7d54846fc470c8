"""A small third-party SimpleRNN to try the suite on: `--target examples/tiny_rnn.py:TinyRNN`.

It has the Keras layer surface for the common path (construction, build, call,
weights) and nothing more, as a first port often does. Run

    conformance run --target examples/tiny_rnn.py:TinyRNN -k forward

and the report says what it gets right and where it stops: arguments it
does not know raise a TypeError, which the suite records as `error`.
"""

import numpy as np


class TinyRNN:
    def __init__(self, units, activation="tanh", use_bias=True, return_sequences=False,
                 return_state=False, go_backwards=False, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", unroll=False):
        self.units = units
        self.activation = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0), "linear": lambda x: x,
                           None: lambda x: x}[activation]
        self.use_bias = use_bias
        self.return_sequences, self.return_state, self.go_backwards = return_sequences, return_state, go_backwards
        self.weights_ = None

    def build(self, input_shape):
        rng = np.random.default_rng(0)
        features = input_shape[-1]
        self.weights_ = [rng.uniform(-0.5, 0.5, (features, self.units)).astype("float32"),
                         np.eye(self.units, dtype="float32"),
                         np.zeros(self.units, dtype="float32")][: 3 if self.use_bias else 2]

    def get_weights(self):
        return [w.copy() for w in self.weights_]

    def set_weights(self, weights):
        if len(weights) != len(self.weights_):
            raise ValueError(f"expected {len(self.weights_)} weights, got {len(weights)}")
        self.weights_ = [np.asarray(w, dtype="float32") for w in weights]

    def __call__(self, x, mask=None, training=None, initial_state=None):
        if mask is not None:
            raise NotImplementedError("masks are not supported")
        x = np.asarray(x, dtype="float32")
        if self.weights_ is None:
            self.build(x.shape)
        kernel, recurrent = self.weights_[0], self.weights_[1]
        bias = self.weights_[2] if self.use_bias else 0.0
        h = np.zeros((x.shape[0], self.units), "float32") if initial_state is None else np.asarray(initial_state[0])
        steps = range(x.shape[1])[::-1] if self.go_backwards else range(x.shape[1])
        outputs = []
        for t in steps:
            h = self.activation(x[:, t] @ kernel + h @ recurrent + bias).astype("float32")
            outputs.append(h)
        out = np.stack(outputs, axis=1) if self.return_sequences else h
        return [out, h] if self.return_state else out

"""MLX `mlx.nn.RNN` as a target: `--target mlx` (the Linux CPU build: `mlx` with `mlx-cpu`).

`mlx.nn.RNN(input_size, hidden_size, bias, nonlinearity)` computes
`h_t = nonlinearity(x_t Wxh.T + b + h_{t-1} Whh.T)` and returns the hidden
state at every step. How it expresses Keras:

* weights: `Wxh = kernel.T`, `Whh = recurrent_kernel.T`, `bias = bias` (one
  bias vector, as Keras); set through MLX's own `load_weights(strict=True)`,
  which checks names and shapes and raises its own errors.
* the last output and the final state are the last step of MLX's output
  (there is no mask, so the last step is the last valid one).
* go_backwards: the adapter flips the input along time and returns the
  outputs in processing order, as Keras does (MLX has no reverse mode).
* activations: any callable; the Keras names with an MLX function (tanh,
  relu, sigmoid, softsign, elu, exponential as `mx.exp`) and None/"linear"
  (the identity). MLX has no `hard_sigmoid` with Keras 3's slope.
* masks: MLX's RNN takes neither masks nor sequence lengths: unsupported.
* unroll: MLX's RNN is a Python loop over the steps, unrolled by nature,
  the same computation as Keras's `unroll=True`.
* dtypes: float32, float16, bfloat16 (MLX turns float64 arrays into float32).
* gradients: by MLX's `mx.grad` through the module's call.
* stateful: the adapter keeps the final state and passes it as `hidden`.
"""

import numpy as np

from conformance.arrays import Observed
from conformance.targets.base import Unsupported
from conformance.targets.torch_rnn import SequenceRNNAdapter, common_unsupported

ACTIVATIONS = ("tanh", "relu", "sigmoid", "softsign", "elu", "exponential", "linear")


class MlxRNNAdapter(SequenceRNNAdapter):
    name = "mlx"
    library = "mlx.nn.RNN"
    activations = ACTIVATIONS
    dtypes = ("float32", "float16", "bfloat16")
    supports_unroll = True
    unsupported_features = common_unsupported(activations, dtypes, ("mask", "mask:not_right_padded"))

    def __init__(self):
        super().__init__()
        import mlx.core as mx
        import mlx.nn as nn

        self.mx, self.nn = mx, nn
        mx.random.seed(0)
        self.module = None

    def versions(self):
        import importlib.metadata as md

        from conformance.targets.runtime_info import cpu_features

        return {"mlx": self.mx.__version__, "mlx-cpu": md.version("mlx-cpu"), "device": str(self.mx.default_device()),
                "numpy": np.__version__, "cpu_features": cpu_features()}

    def _nonlinearity(self):
        mx, nn = self.mx, self.nn
        return {"tanh": None, "relu": nn.relu, "sigmoid": nn.sigmoid, "softsign": nn.softsign, "elu": nn.elu,
                "exponential": mx.exp, "linear": lambda x: x}[self.activation]

    def _mdtype(self):
        return getattr(self.mx, self.dtype)

    def _validate(self, units):
        # MLX checks hidden_size when the module is made; a probe of input size 1 lets it say so.
        self.nn.RNN(1, units, bias=bool(self.use_bias), nonlinearity=self._nonlinearity())

    def _build(self, input_dim):
        self.module = self.nn.RNN(input_dim, self.units, bias=bool(self.use_bias), nonlinearity=self._nonlinearity())
        self.module.set_dtype(self._mdtype())

    def _cast_input(self, x):
        # Keras casts floating inputs to the layer's compute dtype.
        return self.mx.array(np.asarray(x, dtype=np.float32)).astype(self._mdtype())

    def _lengths(self, mask):
        raise Unsupported("masks: mlx.nn.RNN takes neither masks nor sequence lengths")

    def _hidden(self, h0):
        return None if h0 is None else self.mx.array(np.asarray(h0, dtype=np.float32)).astype(self._mdtype())

    def _run(self, x, hidden, backwards):
        if backwards:
            x = x[:, ::-1, :]
        outputs = self.module(x, hidden)
        return outputs, outputs[:, -1, :]

    def _forward(self, x, h0, lengths, backwards):
        outputs, state = self._run(x, self._hidden(h0), backwards)
        self.mx.eval(outputs, state)
        return outputs, state

    def _gradients(self, x, h0, lengths, loss_weights, want_h0):
        mx = self.mx
        module = self.module
        saved = dict(module.parameters())
        hidden = self._hidden(h0)

        def loss(x, parameters, hidden):
            module.update(parameters)
            outputs, state = self._run(x, hidden, self.go_backwards)
            return sum((r * mx.array(loss_weights(tuple(r.shape))).astype(r.dtype)).sum()
                       for r in self._returned(outputs, state))

        try:
            if hidden is None:
                gx, gp = mx.grad(lambda a, b: loss(a, b, None), argnums=(0, 1))(x, saved)
                gh = None
            else:
                gx, gp, gh = mx.grad(loss, argnums=(0, 1, 2))(x, saved, hidden)
        finally:
            module.update(saved)
        grads = {"inputs": gx, "kernel": gp["Wxh"].T, "recurrent_kernel": gp["Whh"].T}
        if self.use_bias:
            grads["bias"] = gp["bias"]
        if want_h0:
            grads["initial_state"] = gh
        return grads

    def _observe(self, value):
        if isinstance(value, self.mx.array):
            dtype = str(value.dtype).replace("mlx.core.", "")
            array = np.array(value.astype(self.mx.float32) if dtype == "bfloat16" else value)
            return Observed(array, dtype)
        return super()._observe(value)

    # Weights in Keras layout ------------------------------------------------------

    def _get_weights(self):
        m = self.module
        weights = [m.Wxh.T, m.Whh.T]
        if self.use_bias:
            weights.append(m.bias)
        return weights

    def _set_weights(self, weights):
        mx = self.mx
        names = ["Wxh", "Whh"] + (["bias"] if self.use_bias else [])
        pairs = []
        for i, w in enumerate(weights):
            array = mx.array(np.asarray(w, dtype=np.float32)).astype(self._mdtype())
            name = names[i] if i < len(names) else f"extra_weight_{i}"
            pairs.append((name, array.T if array.ndim == 2 and name in ("Wxh", "Whh") else array))
        # MLX checks names and shapes and raises its own ValueError.
        self.module.load_weights(pairs, strict=True)

    def _count_params(self):
        return sum(w.size for w in self._get_weights())

    def _units(self):
        return self.module.hidden_size if self.module is not None else self.units


def make_adapter(argument=None):
    return MlxRNNAdapter()

"""Flax NNX as a target: `--target flax`, an `nnx.RNN` over an `nnx.SimpleCell`.

How Flax expresses Keras (docs/targets.md has the whole table):

* weights: `SimpleCell` keeps Keras's layout: `dense_i.kernel` (input_dim,
  units) = kernel, `dense_h.kernel` (units, units) = recurrent_kernel,
  `dense_i.bias` = bias. The cell always has its bias (`dense_i` is made with
  `use_bias=True`), so `use_bias=False` is unsupported.
* go_backwards: `nnx.RNN(reverse=True, keep_order=False)`: the sequence is
  processed from its end and the outputs stay in processing order, which is
  Keras's order. (`keep_order=True` would flip them back.)
* masks: right-padded masks become `seq_lengths` (with `return_carry=True`,
  which is what makes Flax pick the carry at each sample's last valid step;
  with `reverse=True` Flax reverses each sample within its length). Flax
  runs the padded steps as ordinary steps, so its sequence output there is
  not Keras's (the previous output repeated): `return_sequences=True` with a
  masked step is unsupported, as are other masks and empty samples.
* unroll: `nnx.RNN(unroll=True)` (the scan fully unrolled).
* dtypes: float32, float64 (jax x64 is enabled when this adapter starts,
  before jax computes anything), float16, bfloat16, and the mixed policies as
  Flax's own split: `dtype` = compute dtype, `param_dtype` = variable dtype.
* activations: the jax functions of the same names.
"""

import numpy as np

from conformance.targets.base import Unsupported
from conformance.arrays import Observed
from conformance.targets.torch_rnn import SequenceRNNAdapter, common_unsupported

_POLICIES = {"float32": ("float32", "float32"), "float64": ("float64", "float64"),
             "float16": ("float16", "float16"), "bfloat16": ("bfloat16", "bfloat16"),
             "mixed_float16": ("float16", "float32"), "mixed_bfloat16": ("bfloat16", "float32")}


class FlaxNNXAdapter(SequenceRNNAdapter):
    name = "flax"
    library = "flax.nnx.SimpleCell"
    activations = ("tanh", "relu", "sigmoid", "linear", "hard_sigmoid", "softsign", "elu", "exponential")
    dtypes = tuple(_POLICIES)
    supports_unroll = True
    supports_no_bias = False
    unsupported_features = common_unsupported(activations, dtypes, ("no_bias", "mask:not_right_padded", "training"))

    def __init__(self):
        super().__init__()
        import jax

        # float64 exists in jax only with x64 on, and only if set before any array is made.
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        from flax import nnx

        self.jax, self.jnp, self.nnx = jax, jnp, nnx
        self.rnn = None

    def versions(self):
        import importlib.metadata as md

        return {"flax": md.version("flax"), "jax": self.jax.__version__, "numpy": np.__version__}

    def _activation_fn(self):
        jax, jnp = self.jax, self.jnp
        return {"tanh": jnp.tanh, "relu": jax.nn.relu, "sigmoid": jax.nn.sigmoid, "linear": lambda x: x,
                "hard_sigmoid": jax.nn.hard_sigmoid, "softsign": jax.nn.soft_sign, "elu": jax.nn.elu,
                "exponential": jnp.exp}[self.activation]

    def _validate(self, units):
        # Flax checks nothing at construction; making a probe cell lets it raise what it would.
        self._cell(1, units)

    def _cell(self, input_dim, units):
        compute, params = _POLICIES[self.dtype]
        # Flax's own initializers draw from the Rngs: a fixed seed makes every case's draw the
        # same whatever the worker ran before, so verdicts do not change from run to run.
        return self.nnx.SimpleCell(input_dim, units, activation_fn=self._activation_fn(),
                                   dtype=self.jnp.dtype(compute), param_dtype=self.jnp.dtype(params),
                                   rngs=self.nnx.Rngs(0))

    def _build(self, input_dim):
        self.cell = self._cell(input_dim, self.units)
        self.rnn = self.nnx.RNN(self.cell, return_carry=True, reverse=self.go_backwards, keep_order=False,
                                unroll=True if self.unroll else 1)

    def _forward(self, x, h0, lengths, backwards):
        jnp = self.jnp
        compute, _ = _POLICIES[self.dtype]
        # Inputs go in as given (Flax promotes them to the compute dtype itself). The carry is
        # the cell's output, in the compute dtype: the initial carry must have that dtype for scan.
        if h0 is None:
            h0 = np.zeros((x.shape[0], self.units))
        carry = jnp.asarray(np.asarray(h0, dtype=np.float64)).astype(compute)
        kwargs = {"initial_carry": carry}
        if lengths is not None:
            kwargs["seq_lengths"] = jnp.asarray(lengths, dtype=jnp.int32)
        state, outputs = self.rnn(jnp.asarray(x), **kwargs)
        return outputs, state

    def _gradients(self, x, h0, lengths, loss_weights, want_h0):
        jax, jnp, nnx = self.jax, self.jnp, self.nnx
        compute, _ = _POLICIES[self.dtype]
        if h0 is None:
            h0 = np.zeros((x.shape[0], self.units))
        carry = jnp.asarray(np.asarray(h0, dtype=np.float64)).astype(compute)
        kwargs = {} if lengths is None else {"seq_lengths": jnp.asarray(lengths, dtype=jnp.int32)}
        graphdef, params, rest = nnx.split(self.rnn, nnx.Param, ...)

        def loss(params, x, carry):
            state, outputs = nnx.merge(graphdef, params, rest)(x, initial_carry=carry, **kwargs)
            return sum(jnp.sum(r * jnp.asarray(loss_weights(r.shape)).astype(r.dtype))
                       for r in self._returned(outputs, state))

        g_params, g_x, g_carry = jax.grad(loss, argnums=(0, 1, 2))(params, jnp.asarray(x), carry)
        cell = g_params["cell"]
        grads = {"inputs": g_x, "kernel": cell["dense_i"]["kernel"][...],
                 "recurrent_kernel": cell["dense_h"]["kernel"][...]}
        if self.use_bias:
            grads["bias"] = cell["dense_i"]["bias"][...]
        if want_h0:
            grads["initial_state"] = g_carry
        return grads

    def _observe(self, value):
        if isinstance(value, Observed):
            return value
        dtype = str(value.dtype)
        array = np.asarray(value.astype(self.jnp.float32) if dtype == "bfloat16" else value)
        return Observed(array, dtype)

    def _get_weights(self):
        weights = [self.cell.dense_i.kernel[...], self.cell.dense_h.kernel[...]]
        if self.use_bias:
            weights.append(self.cell.dense_i.bias[...])
        return weights

    def _set_weights(self, weights):
        variables = [self.cell.dense_i.kernel, self.cell.dense_h.kernel, self.cell.dense_i.bias]
        if len(weights) != len(variables):
            # Flax has no set_weights: its parameters are assigned one by one; a list of another
            # length has no meaning there.
            raise Unsupported(f"set_weights with {len(weights)} arrays: flax parameters are assigned "
                              f"one by one ({len(variables)} here), there is no list to check")
        for variable, value in zip(variables, weights):
            # Flax assigns a parameter without checking its shape (a wrong one fails later, in the
            # call): that is Flax's behaviour, and a case expecting Keras's ValueError here fails.
            value = self.jnp.asarray(np.asarray(value, dtype=np.float64))
            variable.value = value.astype(variable[...].dtype)

    def _count_params(self):
        state = self.nnx.state(self.cell, self.nnx.Param)
        return sum(int(np.prod(leaf.shape)) for leaf in self.jax.tree_util.tree_leaves(state))

    def _units(self):
        return self.cell.hidden_features if self.rnn is not None else self.units


def make_adapter(argument=None):
    return FlaxNNXAdapter()

"""PyTorch `torch.nn.RNN` as a target: `--target torch`.

Also home of `SequenceRNNAdapter`, the part shared by the third-party targets
(torch, flax, onnx): libraries that compute the SimpleRNN recurrence but have
no Keras layer surface. The adapter translates the Keras config and weights
into the library's terms and declares, up front or at run time, what the
library cannot express; it never computes anything the library does not.

How torch expresses Keras (docs/targets.md has the whole table):

* weights: `weight_ih_l0 = kernel.T`, `weight_hh_l0 = recurrent_kernel.T`,
  `bias_ih_l0 = bias`, `bias_hh_l0 = 0`; `get_weights` gives back
  `[weight_ih.T, weight_hh.T, bias_ih + bias_hh]` (the function torch
  computes, in Keras layout). `set_weights` goes through torch's own
  `load_state_dict(strict=True)`, so torch checks counts and shapes and
  raises its own errors. `count_params` counts torch's parameters, which
  include the second bias vector (`units` more than Keras).
* go_backwards: torch has no reverse-only RNN, so the adapter flips the input
  along time (per sample, within its length, when a mask gives lengths) and
  returns the outputs in processing order, as Keras does.
* masks: only right-padded masks, through `pack_padded_sequence` (lengths =
  the number of unmasked steps). That expresses Keras's final state and last
  output. It does not express Keras's sequence output at masked steps (Keras
  repeats the previous output, `pad_packed_sequence` writes a constant
  padding value), so `return_sequences=True` with a masked step is
  unsupported, as are masks that are not right-padded and empty sequences.
* stateful: the adapter keeps torch's `h_n` and feeds it as `h_0` next call.
* activations: tanh and relu (`nonlinearity`); dtypes float32, float64,
  float16, bfloat16 (module and inputs cast to it, as Keras autocasts).
"""

import numpy as np

from conformance.targets.base import Adapter, Unsupported
from conformance.arrays import Observed

KERAS_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear", "hard_sigmoid", "softsign", "elu", "exponential")
# Constructor arguments whose only effect is on something every third-party target declares unsupported.
_INERT = {"name", "seed"}
_FLAGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll")


def activation_name(value):
    """A Keras activation spec as a plain name: None -> linear, {callable: relu} -> relu."""
    if value is None:
        return "linear"
    if isinstance(value, dict):
        return value.get("callable") or value.get("class_name") or repr(value)
    return value


def policy_name(value):
    if value is None:
        return "float32"
    if isinstance(value, dict):
        return value.get("config", {}).get("name")
    return value


def common_unsupported(activations, dtypes, extra=()):
    """Feature names a third-party target declares unsupported (see conformance.cases.features)."""
    found = {"dropout", "recurrent_dropout", "regularizer", "constraint", "initializer",
             "reset_states:values",
             "op:get_config", "op:from_config", "op:losses", "op:apply_constraints",
             "op:compute_output_shape", "op:compute_mask", "activation:custom"}
    found |= {f"activation:{a}" for a in KERAS_ACTIVATIONS if a not in activations}
    if "linear" not in activations:
        found.add("activation:none")
    found |= {f"dtype:{d}" for d in ("float16", "bfloat16", "float32", "float64",
                                     "mixed_float16", "mixed_bfloat16") if d not in dtypes}
    return frozenset(found | set(extra))


class SequenceRNNAdapter(Adapter):
    """A library RNN without the Keras surface. Subclasses implement the hooks:

    `_validate(units)`            let the library check the constructor argument it takes
    `_build(input_dim)`           make the library's module for this input size
    `_forward(x, h0, lengths, backwards)`
                                  run it; x is (batch, time, features) in the layer dtype,
                                  h0 (batch, units) or None, lengths (batch,) ints or None
                                  (right-padded masks). Returns (outputs, final state)
                                  as NumPy arrays, outputs (batch, time, units) in
                                  processing order (reversed when `backwards`).
    `_get_weights()` / `_set_weights(list)` / `_count_params()`   in Keras layout
    """

    library = "the library"
    activations = ("tanh",)
    dtypes = ("float32",)
    supports_unroll = False
    supports_no_bias = True

    def __init__(self):
        self.config = None
        self.built = False
        self._state = None

    # ------------------------------------------------------------------ construction

    def create(self, layer):
        config = dict(layer)
        self.config = config
        self.built = False
        self._state = None
        for key, value in config.items():
            if key.endswith(("_regularizer", "_constraint")) and value is not None:
                raise Unsupported(f"{key}: {self.library} has no regularizers or constraints")
            if key.endswith("_initializer"):
                raise Unsupported(f"{key}: {self.library} has its own initialization, not Keras's initializers")
            if key in ("dropout", "recurrent_dropout") and value:
                raise Unsupported(f"{key}: {self.library} has no dropout inside a single recurrent layer")
            if key == "unroll" and value and not self.supports_unroll:
                raise Unsupported(f"unroll: {self.library} has no unrolled mode")
            if key == "use_bias" and value is False and not self.supports_no_bias:
                raise Unsupported(f"use_bias=False: {self.library} always has a bias")
            if key == "trainable" and value is not True:
                raise Unsupported(f"trainable={value!r}: not expressed by the {self.library} adapter")
            if key == "zero_output_for_mask" and value:
                raise Unsupported("zero_output_for_mask: not expressed")
            if key not in _INERT and key not in _FLAGS and key not in (
                    "units", "activation", "use_bias", "dtype", "trainable", "dropout", "recurrent_dropout",
                    "zero_output_for_mask") and not key.endswith(("_regularizer", "_constraint")):
                raise Unsupported(f"constructor argument {key!r} has no {self.library} counterpart")
        self.activation = activation_name(config.get("activation", "tanh"))
        if self.activation not in self.activations:
            raise Unsupported(f"activation {self.activation!r}: {self.library} offers {', '.join(self.activations)}")
        self.dtype = policy_name(config.get("dtype"))
        if self.dtype not in self.dtypes:
            raise Unsupported(f"dtype {self.dtype!r}: {self.library} target runs {', '.join(self.dtypes)}")
        self.use_bias = config.get("use_bias", True)
        for flag in _FLAGS:
            setattr(self, flag, bool(config.get(flag, False)))
        self.units = config.get("units")
        self._validate(self.units)

    def build(self, input_shape):
        shape = tuple(input_shape)
        self._build(int(shape[-1]))
        self.built = True
        self._input_dim = int(shape[-1])
        if self.stateful:
            self._state = None if shape[0] is None else np.zeros((shape[0], self.units))

    # ------------------------------------------------------------------ calling

    def call(self, inputs, mask=None, training=None, initial_state=None):
        if training and "training" in self.unsupported_features:
            raise Unsupported(f"training=True: {self.library} has no training mode")
        x = np.asarray(inputs)
        if not self.built:
            self.build(x.shape)
        self._set_training(bool(training))
        x = self._cast_input(x)
        lengths = None
        if mask is not None:
            lengths = self._lengths(np.asarray(mask, dtype=bool))
        h0 = None
        if initial_state is not None:
            states = list(initial_state)
            if len(states) != 1:
                raise Unsupported(f"{len(states)} initial states: {self.library} takes one hidden state")
            h0 = np.asarray(states[0])
        elif self.stateful and self._state is not None:
            h0 = self._state
        outputs, state = self._forward(x, h0, lengths, self.go_backwards)
        if self.stateful:
            self._state = np.asarray(state.array if isinstance(state, Observed) else state)
        if self.return_sequences:
            out = outputs
        else:
            # Keras: the last output in processing order, which is the final state (with a
            # right-padded mask, the state after the last unmasked step).
            out = state
        result = [out, state] if self.return_state else [out]
        return [self._observe(r) for r in result]

    def gradients(self, inputs, mask=None, initial_state=None):
        """Gradients of sum_k sum(returned_k * loss_weights), as the library's autodiff gives them."""
        from conformance.targets.base import loss_weights

        x = np.asarray(inputs)
        if not self.built:
            self.build(x.shape)
        lengths = None if mask is None else self._lengths(np.asarray(mask, dtype=bool))
        h0 = None
        if initial_state is not None:
            if len(initial_state) != 1:
                raise Unsupported(f"{len(initial_state)} initial states: {self.library} takes one hidden state")
            h0 = np.asarray(initial_state[0])
        elif self.stateful and self._state is not None:
            h0 = self._state
        grads = self._gradients(self._cast_input(x), h0, lengths, loss_weights, initial_state is not None)
        return {k: self._observe(v) for k, v in grads.items()}

    def _gradients(self, x, h0, lengths, loss_weights, want_h0):
        raise Unsupported(f"gradients: {self.library} has no automatic differentiation")

    def _returned(self, outputs, state):
        """The tensors a call returns, in order (what the gradient steps' loss sums over)."""
        out = outputs if self.return_sequences else state
        return [out, state] if self.return_state else [out]

    def _lengths(self, mask):
        """Right-padded mask -> lengths, or Unsupported saying why not."""
        if mask.ndim != 2:
            raise Unsupported(f"a mask of shape {mask.shape}: only (batch, timesteps) masks are expressed")
        lengths = mask.sum(axis=1)
        steps = mask.shape[1]
        right_padded = all(mask[i, :n].all() and not mask[i, n:].any() for i, n in enumerate(lengths))
        if not right_padded:
            raise Unsupported(f"a mask that is not right-padded: {self.library} takes sequence lengths only")
        if (lengths == 0).any():
            raise Unsupported(f"a fully masked sample: {self.library} refuses or mishandles empty sequences")
        if self.return_sequences and (lengths < steps).any():
            raise Unsupported(
                f"return_sequences with masked steps: Keras repeats the previous output at a masked step, "
                f"{self.library} with sequence lengths does not define the output there")
        return lengths.astype(np.int64)

    def _cast_input(self, x):
        return x

    def _set_training(self, training):
        pass

    # ------------------------------------------------------------------ weights and state

    def get_weights(self):
        if not self.built:
            return []
        return [self._observe(w) for w in self._get_weights()]

    def set_weights(self, weights):
        if not self.built:
            raise Unsupported(f"set_weights before build: {self.library} has no unbuilt layer "
                              "(the input size is part of its construction)")
        self._set_weights([np.asarray(w) for w in weights])

    def count_params(self):
        if not self.built:
            raise Unsupported(f"count_params before build: {self.library} has no unbuilt layer")
        return int(self._count_params())

    def reset_states(self, states=None):
        if states is not None:
            raise Unsupported("reset_states with values")
        if not self.stateful:
            raise Unsupported(f"reset_states on a non-stateful layer: statefulness is the adapter's, "
                              f"{self.library} has no such method")
        if self._state is not None:
            self._state = np.zeros_like(self._state)

    def get_property(self, name):
        if name in ("weights", "trainable_weights"):
            return self.get_weights()
        if name == "non_trainable_weights":
            return []
        if name in ("units", "activation", "use_bias"):
            return self._property(name)
        raise Unsupported(f"property {name!r} has no {self.library} counterpart")

    def _property(self, name):
        """units (as the library's layer has them, `_units`), activation and use_bias."""
        if name == "units":
            return self._units()
        if name == "activation":
            return {"callable": self.activation}
        return bool(self.use_bias)

    def _units(self):
        return self.units

    def _observe(self, array):
        if isinstance(array, Observed):
            return array
        array = np.asarray(array)
        return Observed(array, str(array.dtype))


# ====================================================================== torch

class TorchRNNAdapter(SequenceRNNAdapter):
    name = "torch"
    library = "torch.nn.RNN"
    activations = ("tanh", "relu")
    dtypes = ("float32", "float64", "float16", "bfloat16")
    unsupported_features = common_unsupported(activations, dtypes, ("unroll", "mask:not_right_padded"))

    def __init__(self):
        super().__init__()
        import torch

        self.torch = torch
        torch.manual_seed(0)
        self.module = None

    def versions(self):
        return {"torch": self.torch.__version__, "numpy": np.__version__}

    def _tdtype(self):
        return getattr(self.torch, self.dtype)

    def _validate(self, units):
        # torch checks hidden_size (type and sign) when the module is made; the input size is
        # not known yet, so a probe module of input size 1 lets torch say what it thinks.
        self.torch.nn.RNN(1, units, nonlinearity=self.activation, bias=bool(self.use_bias), batch_first=True)

    def _build(self, input_dim):
        self.module = self.torch.nn.RNN(input_dim, self.units, num_layers=1, nonlinearity=self.activation,
                                        bias=bool(self.use_bias), batch_first=True).to(self._tdtype())
        self.module.eval()

    def _set_training(self, training):
        self.module.train(training)  # no dropout in one layer: the same computation either way

    def _cast_input(self, x):
        # Keras casts floating inputs to the layer's compute dtype; torch would refuse them.
        return self.torch.as_tensor(np.asarray(x, dtype=np.float64 if self.dtype == "bfloat16" else None)).to(self._tdtype())

    def _forward(self, x, h0, lengths, backwards):
        if h0 is not None:
            h0 = self.torch.as_tensor(np.asarray(h0, dtype=np.float64)).to(self._tdtype())
        with self.torch.no_grad():
            return self._graph(x, h0, lengths, backwards)

    def _graph(self, x, h0, lengths, backwards):
        """(outputs in processing order, final state); h0 a (batch, units) tensor or None."""
        torch = self.torch
        rnn = torch.nn.utils.rnn
        if h0 is not None:
            h0 = h0.unsqueeze(0)
        if lengths is None:
            if backwards:
                x = torch.flip(x, dims=[1])
            out, h_n = self.module(x, h0)
            return out, h_n[0]
        if backwards:
            # Reverse each sample within its own length (padding stays at the end): the
            # masked steps of Keras's reversed sequence come first and change nothing.
            x = torch.stack([torch.cat([torch.flip(x[i, :n], dims=[0]), x[i, n:]]) for i, n in enumerate(lengths)])
        packed = rnn.pack_padded_sequence(x, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
        out, h_n = self.module(packed, h0)
        out, _ = rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out, h_n[0]

    def _gradients(self, x, h0, lengths, loss_weights, want_h0):
        torch = self.torch
        x = x.clone().requires_grad_(True)
        h0t = None
        if h0 is not None:
            h0t = torch.as_tensor(np.asarray(h0, dtype=np.float64)).to(self._tdtype()).requires_grad_(want_h0)
        self.module.zero_grad()
        with torch.enable_grad():
            outputs, state = self._graph(x, h0t, lengths, self.go_backwards)
            loss = sum((r * torch.as_tensor(loss_weights(tuple(r.shape))).to(r.dtype)).sum()
                       for r in self._returned(outputs, state))
            loss.backward()
        p = dict(self.module.named_parameters())
        grads = {"inputs": x.grad, "kernel": p["weight_ih_l0"].grad.T, "recurrent_kernel": p["weight_hh_l0"].grad.T}
        if self.use_bias:
            grads["bias"] = p["bias_ih_l0"].grad  # d/d(bias) of bias_ih + bias_hh
        if want_h0:
            grads["initial_state"] = h0t.grad
        return grads

    def _observe(self, value):
        if isinstance(value, self.torch.Tensor):
            dtype = str(value.dtype).replace("torch.", "")
            value = value.detach()
            if value.dtype == self.torch.bfloat16:
                value = value.float()
            return Observed(value.numpy(), dtype)
        return super()._observe(value)

    # Weights in Keras layout ------------------------------------------------------

    def _get_weights(self):
        p = dict(self.module.named_parameters())
        weights = [p["weight_ih_l0"].detach().T, p["weight_hh_l0"].detach().T]
        if self.use_bias:
            weights.append(p["bias_ih_l0"].detach() + p["bias_hh_l0"].detach())
        return weights

    def _set_weights(self, weights):
        torch = self.torch
        names = ["weight_ih_l0", "weight_hh_l0"] + (["bias_ih_l0"] if self.use_bias else [])
        state = {}
        for i, w in enumerate(weights):
            t = torch.as_tensor(np.asarray(w, dtype=np.float64))
            if i < len(names):
                state[names[i]] = t.T if t.ndim == 2 else t
            else:
                state[f"extra_weight_{i}"] = t
        if self.use_bias and "bias_ih_l0" in state:
            state["bias_hh_l0"] = torch.zeros_like(state["bias_ih_l0"])
        # torch checks the names and shapes and raises its own error (RuntimeError).
        self.module.load_state_dict(state, strict=True)

    def _count_params(self):
        return sum(p.numel() for p in self.module.parameters())

    def _units(self):
        return self.module.hidden_size if self.module is not None else self.units


def make_adapter(argument=None):
    return TorchRNNAdapter()

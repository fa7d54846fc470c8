"""Suite strength: the catalog of mutants of the reference (the kill run: conformance/tools/mutants.py).

A mutant is the NumPy reference (`reference_impl.SimpleRNN`) with one realistic
bug, the kind a SimpleRNN written for another framework, or ported from one,
tends to have. Each is a subclass whose methods are *patched copies* of the
reference's own: the source of a method with one or a few literal snippets
replaced (`Mutant.patches`), so that the bug reads as a one-line diff and the
reference files are never touched. A snippet that is no longer in the
reference makes the mutant fail loudly instead of silently becoming the
reference again.

Every mutant is a target, `mutant:NAME` (conformance.targets.resolve), run by
the same worker machinery as any implementation. `conformance mutants` runs
the suite (profile keras3) against every mutant: a mutant is *killed* when at
least one case fails, errors, crashes or times out on it that passes on the
unmutated reference; the kill rate is the share of mutants killed, and each
survivor names a bug that no case detects.
"""

import inspect
import textwrap
from dataclasses import dataclass, field

import numpy as np

from reference_impl import SimpleRNN, activations
from reference_impl import simple_rnn as _reference_module

KILLING_STATUSES = ("fail", "error", "crash", "timeout")


# --------------------------------------------------------------------------- building mutants

def patched(function, replacements, extra_globals=None):
    """A copy of `function` with each (old, new) source snippet replaced (each must occur)."""
    source = textwrap.dedent(inspect.getsource(function))
    for old, new in replacements:
        if old not in source:
            raise LookupError(f"mutant patch: {old!r} is not in {function.__qualname__}")
        source = source.replace(old, new)
    namespace = dict(function.__globals__)
    namespace.update(extra_globals or {})
    exec(compile(source, f"<mutant of {function.__qualname__}>", "exec"), namespace)  # noqa: S102
    return namespace[function.__name__]


def _recurrence(self, x, h, mask, input_keep, state_keep):
    """The reference's recurrence written as the plain per-step loop its docstring describes.

    Mutants of the recurrence patch this copy rather than the reference's own
    `_recurrence`, whose source is free to change shape (vectorised input
    projection, preallocated outputs) without breaking the catalog. The
    `control` mutant is this copy unpatched: `conformance mutants` checks that
    no case tells it from the reference, i.e. that the copy still computes
    exactly what the reference does.
    """
    steps = range(x.shape[1])
    if self.go_backwards:
        steps = reversed(steps)
    outputs = []
    output = np.zeros_like(h) if self.masked_output_before_first_step == "zeros" else h.copy()
    for t in steps:
        x_t = x[:, t, :] if input_keep is None else x[:, t, :] * input_keep
        h_in = h if state_keep is None else h * state_keep
        candidate = self.activation(x_t @ self.kernel + h_in @ self.recurrent_kernel + self._bias())
        if mask is None:
            output, h = candidate, candidate
        else:
            keep = mask[:, t, None]
            output = np.where(keep, candidate, output)
            h = np.where(keep, candidate, h)
        outputs.append(output)
    sequence = np.stack(outputs, axis=1)
    return sequence, output, h


# Methods whose patches apply to a copy kept here instead of the reference's source.
_COPIES = {"_recurrence": _recurrence}


@dataclass
class Mutant:
    name: str
    description: str
    patches: dict = field(default_factory=dict)   # method name -> [(old, new), ...]
    attributes: dict = field(default_factory=dict)  # class attributes set as they are
    area: str = ""

    @property
    def layer_class(self):
        """The mutant's class: a subclass of the reference with the patched methods."""
        cached = _CLASSES.get(self.name)
        if cached is None:
            body = dict(self.attributes)
            for method, replacements in self.patches.items():
                original = _COPIES.get(method) or inspect.getattr_static(SimpleRNN, method)
                if isinstance(original, property):
                    body[method] = property(patched(original.fget, replacements, _EXTRA))
                else:
                    body[method] = patched(original, replacements, _EXTRA)
            body["__doc__"] = f"Mutant {self.name}: {self.description}"
            cached = _CLASSES[self.name] = type(f"SimpleRNN_mutant_{self.name}", (SimpleRNN,), body)
        return cached


_CLASSES = {}


# Functions a few mutants put in place of the right activation.
def _leaky_relu(x):
    return np.where(x > 0, x, 0.01 * x)


def _keras2_hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def _naive_tanh(x):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(2.0 * x)
        return (e - 1.0) / (e + 1.0)


_EXTRA = {"_leaky_relu": _leaky_relu, "_keras2_hard_sigmoid": _keras2_hard_sigmoid,
          "_naive_tanh": _naive_tanh, "hard_sigmoid": activations.hard_sigmoid}

# Snippets of the reference that the patches below replace.
_CANDIDATE = "candidate = self.activation(x_t @ self.kernel + h_in @ self.recurrent_kernel + self._bias())"
_GET_ACTIVATION = "self._activation_name, self.activation = activations.get(activation)"
_STACK = "sequence = np.stack(outputs, axis=1)"
_KEEP = "keep = mask[:, t, None]"
_SELECT_OUTPUT = "output = np.where(keep, candidate, output)"
_SELECT_STATE = "h = np.where(keep, candidate, h)"
_STORE_STATE = "self._state = state"


def _activation_swap(name, replacement):
    return {"__init__": [(_GET_ACTIVATION, _GET_ACTIVATION + f"\n    if self._activation_name == {name!r}:"
                                                             f"\n        self.activation = {replacement}")]}


CONTROL = Mutant("control", "no bug: the per-step copy of the recurrence that recurrence mutants patch",
                 {"_recurrence": []}, area="control")

CATALOG = [
    # ------------------------------------------------------------------ direction
    Mutant("go_backwards_rereversed", "go_backwards returns the output sequence re-reversed into input order (torch-style flip back)",
           {"_recurrence": [(_STACK, "sequence = np.stack(outputs[::-1] if self.go_backwards else outputs, axis=1)")]}, area="go_backwards"),
    Mutant("go_backwards_ignored", "go_backwards is accepted but the sequence is processed forwards",
           {"_recurrence": [("steps = reversed(steps)", "steps = steps")]}, area="go_backwards"),
    Mutant("go_backwards_mask_not_reversed", "with go_backwards the input is reversed but the mask is not",
           {"_recurrence": [(_KEEP, "keep = mask[:, x.shape[1] - 1 - t if self.go_backwards else t, None]")]}, area="go_backwards"),
    Mutant("go_backwards_last_output_first", "with go_backwards and return_sequences=False the output of the first processed step is returned",
           {"__call__": [("output = sequence if self.return_sequences else last_output",
                          "output = sequence if self.return_sequences else (sequence[:, 0] if self.go_backwards else last_output)")]},
           area="go_backwards"),
    Mutant("unroll_ignores_go_backwards", "the unrolled code path (unroll=True) forgets go_backwards",
           {"_recurrence": [("if self.go_backwards:", "if self.go_backwards and not self.unroll:")]}, area="go_backwards"),
    # ------------------------------------------------------------------ masking
    Mutant("masked_step_emits_zeros", "a masked step emits zeros (as padded packed sequences do) instead of repeating the previous output",
           {"_recurrence": [(_SELECT_OUTPUT, "output = np.where(keep, candidate, 0.0)")]}, area="mask"),
    Mutant("masked_step_updates_state", "a masked step repeats the output but still updates the state",
           {"_recurrence": [(_SELECT_STATE, "h = candidate")]}, area="mask"),
    Mutant("mask_ignored", "the mask is accepted and ignored",
           {"_recurrence": [("if mask is None:", "if True:")]}, area="mask"),
    Mutant("mask_inverted", "True in the mask is read as 'masked' (the attention-mask convention)",
           {"_recurrence": [(_KEEP, "keep = ~mask[:, t, None]")]}, area="mask"),
    Mutant("mask_zeroes_inputs", "masking zeroes the masked inputs instead of skipping the step",
           {"_recurrence": [("x_t = x[:, t, :] if input_keep is None else x[:, t, :] * input_keep",
                             "x_t = (x[:, t, :] if input_keep is None else x[:, t, :] * input_keep) * (1.0 if mask is None else mask[:, t, None])"),
                            ("if mask is None:", "if True:")]}, area="mask"),
    Mutant("mask_arithmetic_blend", "masked steps are blended as m*new + (1-m)*old, so a NaN at a masked step leaks",
           {"_recurrence": [(_SELECT_OUTPUT, "output = keep * candidate + (1 - keep) * output"),
                            (_SELECT_STATE, "h = keep * candidate + (1 - keep) * h")]}, area="mask"),
    Mutant("unroll_ignores_mask", "the unrolled code path (unroll=True) ignores the mask",
           {"_recurrence": [("if mask is None:", "if mask is None or self.unroll:")]}, area="mask"),
    # ------------------------------------------------------------------ the recurrence
    Mutant("bias_added_twice", "two bias vectors (b_ih + b_hh, torch style) both loaded with the Keras bias",
           {"_recurrence": [("+ self._bias())", "+ self._bias() + self._bias())")]}, area="forward"),
    Mutant("kernel_transposed", "the kernel is read in (units, input_dim) layout: transposed when square, scrambled otherwise",
           {"_recurrence": [("x_t @ self.kernel", "x_t @ self.kernel.T.reshape(self.kernel.shape)")]}, area="forward"),
    Mutant("recurrent_kernel_transposed", "the recurrent kernel is used transposed (h @ U.T)",
           {"_recurrence": [("h_in @ self.recurrent_kernel", "h_in @ self.recurrent_kernel.T")]}, area="forward"),
    Mutant("time_major_reshape", "the time-major stack of outputs is reshaped to batch-major instead of transposed",
           {"_recurrence": [(_STACK, "sequence = np.stack(outputs, axis=0).reshape(x.shape[0], len(outputs), -1)")]}, area="forward"),
    Mutant("state_not_fed_back", "every step sees the initial state instead of the previous step's state",
           {"_recurrence": [("outputs = []", "outputs = []\n    h_first = h"), ("h_in = h if state_keep is None else h * state_keep", "h_in = h_first if state_keep is None else h_first * state_keep")]},
           area="forward"),
    Mutant("last_output_is_first", "return_sequences=False returns the output of the first timestep (outputs[0] for outputs[-1])",
           {"__call__": [("output = sequence if self.return_sequences else last_output",
                          "output = sequence if self.return_sequences else sequence[:, 0]")]}, area="forward"),
    Mutant("state_off_by_one", "the returned state is the state before the last step (off by one)",
           {"_recurrence": [("for t in steps:", "for t in steps:\n        prev_h = h"),
                            ("return sequence, output, h", "return sequence, output, prev_h")]}, area="forward"),
    # ------------------------------------------------------------------ activations
    Mutant("activation_none_is_tanh", "activation=None falls back to the default tanh instead of linear",
           {"__init__": [(_GET_ACTIVATION, "self._activation_name, self.activation = activations.get('tanh' if activation is None else activation)")]},
           area="activation"),
    Mutant("activation_ignored", "the cell hard-codes tanh whatever the activation argument says",
           {"_recurrence": [("candidate = self.activation(", "candidate = np.tanh(")]}, area="activation"),
    Mutant("relu_is_leaky", "relu is computed as leaky relu (slope 0.01 below zero)", _activation_swap("relu", "_leaky_relu"), area="activation"),
    Mutant("sigmoid_is_hard", "sigmoid is computed as hard_sigmoid", _activation_swap("sigmoid", "hard_sigmoid"), area="activation"),
    Mutant("hard_sigmoid_keras2", "hard_sigmoid uses the Keras 2 slope 0.2 instead of Keras 3's relu6(x + 3) / 6",
           _activation_swap("hard_sigmoid", "_keras2_hard_sigmoid"), area="activation"),
    Mutant("tanh_overflows", "tanh written as (e^2x - 1) / (e^2x + 1): NaN for large pre-activations",
           _activation_swap("tanh", "_naive_tanh"), area="activation"),
    # ------------------------------------------------------------------ precision
    Mutant("float16_intermediate", "the input projection x_t @ kernel is computed in float16 inside a float32 layer",
           {"_recurrence": [("x_t @ self.kernel", "(x_t.astype(np.float16) @ self.kernel.astype(np.float16)).astype(np.float64)")]},
           area="precision"),
    Mutant("mixed_policy_ignored", "a mixed_float16 / mixed_bfloat16 policy is ignored: the layer computes and returns float32",
           {"__init__": [("self.compute_dtype, self.variable_dtype = _POLICIES[self.dtype_policy]",
                          "self.compute_dtype, self.variable_dtype = _POLICIES[self.dtype_policy]\n"
                          "    self.compute_dtype = 'float32' if self.dtype_policy.startswith('mixed') else self.compute_dtype")]},
           area="precision"),
    Mutant("mixed_policy_half_variables", "a mixed precision policy stores the weights in half precision instead of float32",
           {"__init__": [("self.compute_dtype, self.variable_dtype = _POLICIES[self.dtype_policy]",
                          "self.compute_dtype, self.variable_dtype = _POLICIES[self.dtype_policy]\n"
                          "    self.variable_dtype = self.compute_dtype")]},
           area="precision"),
    Mutant("output_dtype_float64", "a float32 layer returns float64 outputs (NumPy's default dtype leaks out)",
           {"__init__": [("self.compute_dtype, self.variable_dtype = _POLICIES[self.dtype_policy]",
                          "self.compute_dtype, self.variable_dtype = _POLICIES[self.dtype_policy]\n"
                          "    self.compute_dtype = 'float64' if self.compute_dtype == 'float32' else self.compute_dtype")]},
           area="precision"),
    # ------------------------------------------------------------------ dropout
    Mutant("dropout_new_mask_every_step", "a new input dropout mask is drawn at every timestep",
           {"_recurrence": [("else x[:, t, :] * input_keep", "else x[:, t, :] * self._dropout_mask(input_keep.shape, self.dropout, True)")]},
           area="dropout"),
    Mutant("recurrent_dropout_new_mask_every_step", "a new recurrent dropout mask is drawn at every timestep",
           {"_recurrence": [("else h * state_keep", "else h * self._dropout_mask(state_keep.shape, self.recurrent_dropout, True)")]},
           area="dropout"),
    Mutant("dropout_not_rescaled", "kept units are not scaled by 1 / (1 - rate)",
           {"_dropout_mask": [("return (self._rng.random(shape) >= rate) / (1.0 - rate)", "return (self._rng.random(shape) >= rate) * 1.0")]},
           area="dropout"),
    Mutant("dropout_when_training_none", "training=None (absent) is taken as training: dropout is active at inference",
           {"_dropout_mask": [("if not training or rate == 0.0:", "if training is False or rate == 0.0:")]}, area="dropout"),
    Mutant("dropout_rates_swapped", "recurrent_dropout is applied to the inputs and dropout to the recurrent state",
           {"__call__": [("self._dropout_mask((batch, features), self.dropout, training)", "self._dropout_mask((batch, features), self.recurrent_dropout, training)"),
                         ("self._dropout_mask((batch, self.units), self.recurrent_dropout, training)", "self._dropout_mask((batch, self.units), self.dropout, training)")]},
           area="dropout"),
    Mutant("dropout_not_clamped", "a dropout rate outside [0, 1] is kept as given",
           {"__init__": [("self.dropout = min(1.0, max(0.0, float(dropout)))", "self.dropout = float(dropout)")]}, area="dropout"),
    # ------------------------------------------------------------------ state
    Mutant("stateful_not_carried", "a stateful layer does not carry its state to the next call",
           {"__call__": [(_STORE_STATE, "self._state = self._state")]}, area="stateful"),
    Mutant("reset_states_noop", "reset_states() leaves the state as it is",
           {"reset_states": [("self._state = np.zeros_like(self._state)", "self._state = self._state")]}, area="stateful"),
    Mutant("stateful_mixes_samples", "the carried state is stored in reverse batch order (sorted, never unsorted): samples mix",
           {"__call__": [(_STORE_STATE, "self._state = state[::-1]")]}, area="stateful"),
    Mutant("stateful_initial_state_not_stored", "a stateful call with an explicit initial_state does not store its final state",
           {"__call__": [("if self.stateful:", "if self.stateful and initial_state is None:")]}, area="stateful"),
    Mutant("stateful_batch_not_checked", "a stateful layer accepts another batch size (a batch-1 state broadcasts)",
           {"_initial_state": [("if self._state.shape[0] != batch:", "if False:")]}, area="stateful"),
    Mutant("initial_state_ignored", "initial_state is accepted and ignored: every call starts from zeros",
           {"_initial_state": [("if initial_state is None or stored_wins:", "if True:")]}, area="initial_state"),
    Mutant("initial_state_remembered", "a non-stateful layer keeps reusing the last initial_state it was given",
           {"_initial_state": [("return np.zeros((batch, self.units))", "return getattr(self, '_last_h0', np.zeros((batch, self.units)))"),
                               ("return h", "self._last_h0 = h\n    return h")]}, area="initial_state"),
    # ------------------------------------------------------------------ weights
    Mutant("weights_order_swapped", "get_weights / set_weights use the order [recurrent_kernel, kernel, bias]",
           {"_weight_list": [("[self.kernel, self.recurrent_kernel]", "[self.recurrent_kernel, self.kernel]")],
            "set_weights": [("self.kernel, self.recurrent_kernel = new[0], new[1]", "self.recurrent_kernel, self.kernel = new[0], new[1]")]},
           area="weights"),
    Mutant("set_weights_no_shape_check", "set_weights silently accepts arrays of the wrong shape",
           {"set_weights": [("if expected.shape != given.shape:", "if False:")]}, area="weights"),
    Mutant("set_weights_ignores_extra", "set_weights silently ignores extra arrays",
           {"set_weights": [("if len(weights) != len(current):", "if len(weights) < len(current):")]}, area="weights"),
    Mutant("use_bias_false_keeps_bias", "use_bias=False still creates a (zero) bias weight",
           {"build": [("if self.use_bias else None", "")],
            "_weight_list": [("([self.bias] if self.use_bias else [])", "[self.bias]")]}, area="weights"),
    Mutant("count_params_omits_bias", "count_params does not count the bias",
           {"count_params": [("for w in self._weight_list()", "for w in self._weight_list()[:2]")]}, area="weights"),
    Mutant("trainable_ignored", "trainable=False is ignored: the weights stay trainable",
           {"__init__": [('self.trainable = bool(kwargs.get("trainable", True))', "self.trainable = True")]}, area="weights"),
    Mutant("recurrent_initializer_glorot", "the default recurrent_initializer is glorot_uniform instead of orthogonal",
           {"__init__": [('recurrent_initializer="orthogonal"', 'recurrent_initializer="glorot_uniform"')]}, area="weights"),
    # ------------------------------------------------------------------ API surface
    Mutant("compute_output_shape_ignores_return_sequences", "compute_output_shape always gives (batch, units)",
           {"compute_output_shape": [("if self.return_sequences else (batch, self.units)", "if False else (batch, self.units)")]}, area="shapes"),
    Mutant("compute_output_shape_ignores_return_state", "compute_output_shape leaves out the state's shape",
           {"compute_output_shape": [("if self.return_state else output", "if False else output")]}, area="shapes"),
    Mutant("compute_mask_always_passes", "compute_mask passes the input mask through even without return_sequences",
           {"compute_mask": [("output_mask = mask if self.return_sequences else None", "output_mask = mask")]}, area="shapes"),
    Mutant("config_drops_go_backwards", "get_config leaves out go_backwards, so a round trip loses it",
           {"get_config": [('"go_backwards": self.go_backwards,', "")]}, area="config"),
    Mutant("config_loses_regularizers", "get_config writes the kernel_regularizer as None",
           {"get_config": [('"kernel_regularizer": regularizers.serialize(self.kernel_regularizer)', '"kernel_regularizer": None')]},
           area="config"),
    Mutant("units_not_validated", "units=0 or a negative units is accepted",
           {"__init__": [("if units <= 0 or", "if False or")]}, area="config"),
    Mutant("unknown_kwargs_accepted", "unknown keyword arguments are silently accepted",
           {"__init__": [("if unknown:", "if False:")]}, area="config"),
    # ------------------------------------------------------------------ losses and constraints
    Mutant("activity_regularizer_not_divided", "the activity penalty is not divided by the batch size",
           {"_activity_penalties": [("/ t.shape[0]", "")]}, area="losses"),
    Mutant("activity_regularizer_output_only", "with return_state the activity penalty covers the output but not the state",
           {"_activity_penalties": [("tensors = result if isinstance(result, list) else [result]",
                                     "tensors = result[:1] if isinstance(result, list) else [result]")]}, area="losses"),
    Mutant("activity_losses_accumulate", "activity penalties of earlier calls stay in losses",
           {"__call__": [("self._activity_losses = self._activity_penalties(result)",
                          "self._activity_losses = self._activity_losses + self._activity_penalties(result)")]}, area="losses"),
    Mutant("recurrent_regularizer_on_kernel", "the recurrent_regularizer penalises the kernel (copy-paste)",
           {"losses": [("(self.recurrent_regularizer, self.recurrent_kernel)", "(self.recurrent_regularizer, self.kernel)")]}, area="losses"),
    Mutant("bias_regularizer_missing", "the bias_regularizer's penalty never reaches losses",
           {"losses": [("(self.bias_regularizer, self.bias)", "(self.bias_regularizer, None)")]}, area="losses"),
    Mutant("kernel_constraint_ignored", "the kernel_constraint is never applied",
           {"apply_constraints": [("if self.kernel_constraint is not None:", "if False:")]}, area="constraints"),
    Mutant("bias_constraint_ignored", "the bias_constraint is never applied",
           {"apply_constraints": [("if self.use_bias and self.bias_constraint is not None:", "if False:")]}, area="constraints"),
]

MUTANTS = {m.name: m for m in [CONTROL, *CATALOG]}


def make_adapter(argument=None):
    """The worker's entry point for target `mutant:NAME` (argument = NAME)."""
    from conformance.targets.reference import ReferenceAdapter

    mutant = MUTANTS[argument]
    return ReferenceAdapter(layer_class=mutant.layer_class, name=f"mutant:{mutant.name}")

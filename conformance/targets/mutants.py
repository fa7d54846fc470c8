"""Suite strength: the catalog of mutants of the reference (the kill run: conformance/tools/mutants.py).

A mutant is the NumPy reference (`reference_impl.SimpleRNN`) with one realistic
bug, the kind a SimpleRNN written for another framework, or ported from one,
tends to have. Each is a subclass whose methods are *patched copies* of the
reference's own: the source of a method with one or a few literal snippets
replaced (`Mutant.patches`), so that the bug reads as a one-line diff and the
reference files are never touched. A snippet that is no longer in the
reference makes the mutant fail loudly instead of silently becoming the
reference again. Besides the layer's methods, a mutant may patch the backward
pass (`backward`: a copy of reference_impl.gradients.gradients, for bugs of
backpropagation alone) or the reference adapter's save-and-load step
(`adapter`: deployment-path bugs, modelled on the reference: the loaded layer
is marked as an exported artifact that the patched methods treat wrongly).
Each names the spec sentence or observed rule it breaks (`breaks`), which
`conformance coverage` uses to say whether that sentence is checked.
`AdapterMutant`s patch a third-party adapter's mapping code instead.

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
from reference_impl.gradients import gradients as _reference_gradients


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


def says(item, sentence, page="keras3"):
    """The sentence of a page that a mutant breaks (quoted as a case's `spec:` quotes it)."""
    return {"page": page, "item": item, "sentence": sentence}


def rule(item, observed, page="keras3"):
    """The observed rule a mutant breaks, where the pages are silent (a case's `observed:`)."""
    return {"page": page, "item": item, "observed": observed}


@dataclass
class Mutant:
    name: str
    description: str                                # the bug, in one line
    patches: dict = field(default_factory=dict)     # method name -> [(old, new), ...]
    attributes: dict = field(default_factory=dict)  # class attributes set as they are
    area: str = ""
    breaks: dict | None = None                      # the spec sentence or observed rule the bug breaks
    backward: list = field(default_factory=list)    # [(old, new), ...] in reference_impl.gradients.gradients
    adapter: dict = field(default_factory=dict)     # method name -> [(old, new), ...] of the reference's adapter

    @property
    def backprop(self):
        """The backward pass the mutant's adapter uses: the reference's, or a patched copy."""
        if not self.backward:
            return _reference_gradients
        cached = _BACKPROPS.get(self.name)
        if cached is None:
            cached = _BACKPROPS[self.name] = patched(_reference_gradients, self.backward, _EXTRA)
        return cached

    @property
    def layer_class(self):
        """The mutant's class: a subclass of the reference with the patched methods."""
        cached = _CLASSES.get(self.name)
        if cached is None:
            body = dict(self.attributes)
            for method, replacements in self.patches.items():
                original = _COPIES.get(method) or inspect.getattr_static(SimpleRNN, method)
                if isinstance(original, classmethod):
                    body[method] = classmethod(patched(original.__func__, replacements, _EXTRA))
                elif isinstance(original, property):
                    body[method] = property(patched(original.fget, replacements, _EXTRA))
                else:
                    body[method] = patched(original, replacements, _EXTRA)
            body["__doc__"] = f"Mutant {self.name}: {self.description}"
            cached = _CLASSES[self.name] = type(f"SimpleRNN_mutant_{self.name}", (SimpleRNN,), body)
        return cached


_CLASSES = {}
_BACKPROPS = {}


# Functions a few mutants put in place of the right activation.
def _leaky_relu(x):
    return np.where(x > 0, x, 0.01 * x)


def _keras2_hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def _naive_tanh(x):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(2.0 * x)
        return (e - 1.0) / (e + 1.0)


def _bfloat16(x):
    """x rounded to bfloat16 (round to nearest even on the top 16 bits of float32), back in float64."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32)
    bits = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return bits.view(np.float32).astype(np.float64)


def _softsign_without_abs(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return x / (1.0 + x)


def _elu_as_selu(x):
    return 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0.0)))


_EXTRA = {"_bfloat16": _bfloat16, "_softsign_without_abs": _softsign_without_abs, "_elu_as_selu": _elu_as_selu,
          "_leaky_relu": _leaky_relu, "_keras2_hard_sigmoid": _keras2_hard_sigmoid,
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


# What the gradient cases cite (cases/gradients.yaml): the pages are silent on gradients, and every
# Keras backend that differentiates agrees with backpropagation through the recurrence they describe.
_GRADIENTS = rule("SimpleRNN", "gradients are those of backpropagation through time of the recurrence")
_GRADIENTS_H0 = rule("initial_state", "the initial state receives the gradient of the first step's state")
_GRADIENTS_MASK = rule("mask", "a masked step passes its gradient back unchanged to the previous step")
_GRADIENTS_GB = rule("go_backwards", "with go_backwards each input's gradient is at that input's position")

# Deployment paths: the adapter's save-and-load step marks the loaded layer as an exported artifact.
_EXPORTED = {"save_and_load": [("self.from_config()", "self.from_config()\n    self.layer._exported = tuple(input_shape)")]}
_SAVED = rule("get_config", "model.save() writes each layer's get_config() and weights; keras.models.load_model() rebuilds the layer from them.", page="keras2")
_RESET = rule("reset_states", "reset_states() sets the stored state to zeros", page="keras2")
_CONFIG = rule("get_config", "get_config holds every constructor argument, so from_config rebuilds the same layer", page="keras2")
_PRECISION32 = rule("dtype", "a float32 layer computes within float32 rounding of the float64 reference", page="keras2")
_PRECISION64 = rule("dtype", "a float64 layer computes in float64, or in float32 and says so (JAX)", page="keras2")
ACTIVATION = says("activation", "Activation function to use.")
RETURN_SEQUENCES = says("return_sequences", "Whether to return the last output in the output sequence, or the full sequence.")
RETURN_STATE = says("return_state", "Whether to return the last state in addition to the output.")
DROPOUT = says("dropout", "Fraction of the units to drop for the linear transformation of the inputs.")

CONTROL = Mutant("control", "no bug: the per-step copy of the recurrence that recurrence mutants patch",
                 {"_recurrence": []}, area="control")

CATALOG = [
    # ------------------------------------------------------------------ direction
    Mutant("go_backwards_rereversed", "go_backwards returns the output sequence re-reversed into input order (torch-style flip back)",
           {"_recurrence": [(_STACK, "sequence = np.stack(outputs[::-1] if self.go_backwards else outputs, axis=1)")]}, 
           breaks=says("go_backwards", "If True, process the input sequence backwards and return the reversed sequence."), area="go_backwards"),
    Mutant("go_backwards_ignored", "go_backwards is accepted but the sequence is processed forwards",
           {"_recurrence": [("steps = reversed(steps)", "steps = steps")]}, 
           breaks=says("go_backwards", "If True, process the input sequence backwards and return the reversed sequence."), area="go_backwards"),
    Mutant("go_backwards_mask_not_reversed", "with go_backwards the input is reversed but the mask is not",
           {"_recurrence": [(_KEEP, "keep = mask[:, x.shape[1] - 1 - t if self.go_backwards else t, None]")]}, 
           breaks=says("go_backwards", "If True, process the input sequence backwards and return the reversed sequence."), area="go_backwards"),
    Mutant("go_backwards_last_output_first", "with go_backwards and return_sequences=False the output of the first processed step is returned",
           {"__call__": [("output = sequence if self.return_sequences else last_output",
                          "output = sequence if self.return_sequences else (sequence[:, 0] if self.go_backwards else last_output)")]},
           
           breaks=says("go_backwards", "If True, process the input sequence backwards and return the reversed sequence."), area="go_backwards"),
    Mutant("unroll_ignores_go_backwards", "the unrolled code path (unroll=True) forgets go_backwards",
           {"_recurrence": [("if self.go_backwards:", "if self.go_backwards and not self.unroll:")]}, 
           breaks=says("unroll", "Unrolling can speed-up a RNN, although it tends to be more memory-intensive."), area="go_backwards"),
    # ------------------------------------------------------------------ masking
    Mutant("masked_step_emits_zeros", "a masked step emits zeros (as padded packed sequences do) instead of repeating the previous output",
           {"_recurrence": [(_SELECT_OUTPUT, "output = np.where(keep, candidate, 0.0)")]}, 
           breaks=rule("mask", "a masked step repeats the previous output and leaves the state unchanged"), area="mask"),
    Mutant("masked_step_updates_state", "a masked step repeats the output but still updates the state",
           {"_recurrence": [(_SELECT_STATE, "h = candidate")]}, 
           breaks=rule("mask", "a masked step repeats the previous output and leaves the state unchanged"), area="mask"),
    Mutant("mask_ignored", "the mask is accepted and ignored",
           {"_recurrence": [("if mask is None:", "if True:")]}, 
           breaks=says("mask", "An individual True entry indicates that the corresponding timestep should be utilized, while a False entry indicates that the corresponding timestep should be ignored."), area="mask"),
    Mutant("mask_inverted", "True in the mask is read as 'masked' (the attention-mask convention)",
           {"_recurrence": [(_KEEP, "keep = ~mask[:, t, None]")]}, 
           breaks=says("mask", "An individual True entry indicates that the corresponding timestep should be utilized, while a False entry indicates that the corresponding timestep should be ignored."), area="mask"),
    Mutant("mask_zeroes_inputs", "masking zeroes the masked inputs instead of skipping the step",
           {"_recurrence": [("x_t = x[:, t, :] if input_keep is None else x[:, t, :] * input_keep",
                             "x_t = (x[:, t, :] if input_keep is None else x[:, t, :] * input_keep) * (1.0 if mask is None else mask[:, t, None])"),
                            ("if mask is None:", "if True:")]}, 
           breaks=says("mask", "An individual True entry indicates that the corresponding timestep should be utilized, while a False entry indicates that the corresponding timestep should be ignored."), area="mask"),
    Mutant("mask_arithmetic_blend", "masked steps are blended as m*new + (1-m)*old, so a NaN at a masked step leaks",
           {"_recurrence": [(_SELECT_OUTPUT, "output = keep * candidate + (1 - keep) * output"),
                            (_SELECT_STATE, "h = keep * candidate + (1 - keep) * h")]}, 
           breaks=rule("mask", "a masked step repeats the previous output and leaves the state unchanged"), area="mask"),
    Mutant("unroll_ignores_mask", "the unrolled code path (unroll=True) ignores the mask",
           {"_recurrence": [("if mask is None:", "if mask is None or self.unroll:")]}, 
           breaks=says("unroll", "Unrolling can speed-up a RNN, although it tends to be more memory-intensive."), area="mask"),
    # ------------------------------------------------------------------ the recurrence
    Mutant("bias_added_twice", "two bias vectors (b_ih + b_hh, torch style) both loaded with the Keras bias",
           {"_recurrence": [("+ self._bias())", "+ self._bias() + self._bias())")]}, 
           breaks=says("use_bias", "Boolean, (default True), whether the layer uses a bias vector."), area="forward"),
    Mutant("kernel_transposed", "the kernel is read in (units, input_dim) layout: transposed when square, scrambled otherwise",
           {"_recurrence": [("x_t @ self.kernel", "x_t @ self.kernel.T.reshape(self.kernel.shape)")]}, 
           breaks=says("kernel_initializer", "Initializer for the kernel weights matrix, used for the linear transformation of the inputs."), area="forward"),
    Mutant("recurrent_kernel_transposed", "the recurrent kernel is used transposed (h @ U.T)",
           {"_recurrence": [("h_in @ self.recurrent_kernel", "h_in @ self.recurrent_kernel.T")]}, 
           breaks=says("recurrent_initializer", "Initializer for the recurrent_kernel weights matrix, used for the linear transformation of the recurrent state."), area="forward"),
    Mutant("time_major_reshape", "the time-major stack of outputs is reshaped to batch-major instead of transposed",
           {"_recurrence": [(_STACK, "sequence = np.stack(outputs, axis=0).reshape(x.shape[0], len(outputs), -1)")]}, 
           breaks=says("return_sequences", "Whether to return the last output in the output sequence, or the full sequence."), area="forward"),
    Mutant("state_not_fed_back", "every step sees the initial state instead of the previous step's state",
           {"_recurrence": [("outputs = []", "outputs = []\n    h_first = h"), ("h_in = h if state_keep is None else h * state_keep", "h_in = h_first if state_keep is None else h_first * state_keep")]},
           
           breaks=says("SimpleRNN", "Fully-connected RNN where the output is to be fed back as the new input."), area="forward"),
    Mutant("last_output_is_first", "return_sequences=False returns the output of the first timestep (outputs[0] for outputs[-1])",
           {"__call__": [("output = sequence if self.return_sequences else last_output",
                          "output = sequence if self.return_sequences else sequence[:, 0]")]}, 
           breaks=says("return_sequences", "Whether to return the last output in the output sequence, or the full sequence."), area="forward"),
    Mutant("state_off_by_one", "the returned state is the state before the last step (off by one)",
           {"_recurrence": [("for t in steps:", "for t in steps:\n        prev_h = h"),
                            ("return sequence, output, h", "return sequence, output, prev_h")]}, 
           breaks=says("return_state", "Whether to return the last state in addition to the output."), area="forward"),
    # ------------------------------------------------------------------ activations
    Mutant("activation_none_is_tanh", "activation=None falls back to the default tanh instead of linear",
           {"__init__": [(_GET_ACTIVATION, "self._activation_name, self.activation = activations.get('tanh' if activation is None else activation)")]},
           
           breaks=says("activation", "If you pass None, no activation is applied (ie."), area="activation"),
    Mutant("activation_ignored", "the cell hard-codes tanh whatever the activation argument says",
           {"_recurrence": [("candidate = self.activation(", "candidate = np.tanh(")]}, 
           breaks=says("activation", "Activation function to use."), area="activation"),
    Mutant("relu_is_leaky", "relu is computed as leaky relu (slope 0.01 below zero)", _activation_swap("relu", "_leaky_relu"), 
           breaks=says("activation", "Activation function to use."), area="activation"),
    Mutant("sigmoid_is_hard", "sigmoid is computed as hard_sigmoid", _activation_swap("sigmoid", "hard_sigmoid"), 
           breaks=says("activation", "Activation function to use."), area="activation"),
    Mutant("hard_sigmoid_keras2", "hard_sigmoid uses the Keras 2 slope 0.2 instead of Keras 3's relu6(x + 3) / 6",
           _activation_swap("hard_sigmoid", "_keras2_hard_sigmoid"), 
           breaks=rule("activation", "hard_sigmoid is Keras 3's relu6(x + 3) / 6"), area="activation"),
    Mutant("tanh_overflows", "tanh written as (e^2x - 1) / (e^2x + 1): NaN for large pre-activations",
           _activation_swap("tanh", "_naive_tanh"), 
           breaks=says("activation", "Default: hyperbolic tangent (tanh)."), area="activation"),
    # ------------------------------------------------------------------ precision
    Mutant("float16_intermediate", "the input projection x_t @ kernel is computed in float16 inside a float32 layer",
           {"_recurrence": [("x_t @ self.kernel", "(x_t.astype(np.float16) @ self.kernel.astype(np.float16)).astype(np.float64)")]},
           
           breaks=rule("dtype", "a float32 layer computes within float32 rounding of the float64 reference", page="keras2"), area="precision"),
    Mutant("mixed_policy_ignored", "a mixed_float16 / mixed_bfloat16 policy is ignored: the layer computes and returns float32",
           {"__init__": [("self.compute_dtype, self.variable_dtype = _POLICIES[self.dtype_policy]",
                          "self.compute_dtype, self.variable_dtype = _POLICIES[self.dtype_policy]\n"
                          "    self.compute_dtype = 'float32' if self.dtype_policy.startswith('mixed') else self.compute_dtype")]},
           
           breaks=rule("dtype", "a layer computes in its dtype policy's compute dtype and keeps its weights in the variable dtype", page="keras2"), area="precision"),
    Mutant("mixed_policy_half_variables", "a mixed precision policy stores the weights in half precision instead of float32",
           {"__init__": [("self.compute_dtype, self.variable_dtype = _POLICIES[self.dtype_policy]",
                          "self.compute_dtype, self.variable_dtype = _POLICIES[self.dtype_policy]\n"
                          "    self.variable_dtype = self.compute_dtype")]},
           
           breaks=rule("dtype", "a layer computes in its dtype policy's compute dtype and keeps its weights in the variable dtype", page="keras2"), area="precision"),
    Mutant("output_dtype_float64", "a float32 layer returns float64 outputs (NumPy's default dtype leaks out)",
           {"__init__": [("self.compute_dtype, self.variable_dtype = _POLICIES[self.dtype_policy]",
                          "self.compute_dtype, self.variable_dtype = _POLICIES[self.dtype_policy]\n"
                          "    self.compute_dtype = 'float64' if self.compute_dtype == 'float32' else self.compute_dtype")]},
           
           breaks=rule("dtype", "a layer computes in its dtype policy's compute dtype and keeps its weights in the variable dtype", page="keras2"), area="precision"),
    # ------------------------------------------------------------------ gradients (the backward pass alone is wrong)
    Mutant("grad_bptt_truncated", "backpropagation stops at each step: the term through h_{t-1} @ recurrent_kernel is missing",
           backward=[("+ g_z @ recurrent.T", "")], breaks=_GRADIENTS, area="gradients"),
    Mutant("grad_no_initial_state", "no gradient reaches the initial state (it is treated as a constant)",
           backward=[('result["initial_state"] = g_h0', 'result["initial_state"] = np.zeros_like(g_h0)')],
           breaks=_GRADIENTS_H0, area="gradients"),
    Mutant("grad_mask_ignored", "the backward pass ignores the mask: masked steps get gradients as if they were kept",
           backward=[("t, h_prev, z, y, m = tape[position]", "t, h_prev, z, y, m = tape[position]\n        m = np.ones_like(m)")],
           breaks=_GRADIENTS_MASK, area="gradients"),
    Mutant("grad_masked_step_blocks_output", "a masked step does not pass its output's gradient back to the previous output",
           backward=[("g_out = np.where(m, 0.0, g_out)", "g_out = np.zeros_like(g_out)")], breaks=_GRADIENTS_MASK, area="gradients"),
    Mutant("grad_recurrent_uses_new_state", "the recurrent kernel's gradient uses h_t instead of h_{t-1}",
           backward=[("g_recurrent += h_prev.T @ g_z", "g_recurrent += np.where(m, y, h_prev).T @ g_z")],
           breaks=_GRADIENTS, area="gradients"),
    Mutant("grad_recurrent_not_transposed", "the state's gradient flows back through recurrent_kernel instead of its transpose",
           backward=[("g_z @ recurrent.T", "g_z @ recurrent")], breaks=_GRADIENTS, area="gradients"),
    Mutant("grad_inputs_in_processing_order", "with go_backwards the inputs' gradient is left in processing order, not put back in input order",
           backward=[("g_x[:, t, :] = g_z @ kernel.T", "g_x[:, position, :] = g_z @ kernel.T")], breaks=_GRADIENTS_GB, area="gradients"),
    Mutant("grad_sequence_upstream_in_input_order", "with go_backwards the returned (reversed) sequence's gradient is read in input order",
           backward=[("g_sequence[:, position, :]", "g_sequence[:, t, :]")], breaks=_GRADIENTS_GB, area="gradients"),
    Mutant("grad_state_upstream_dropped", "with return_state the gradient arriving at the returned state is dropped",
           backward=[("if layer.return_state else np.zeros((batch, layer.units))", "if False else np.zeros((batch, layer.units))")],
           breaks=_GRADIENTS, area="gradients"),
    Mutant("grad_bias_first_sample", "the bias gradient is taken from the first sample instead of summed over the batch",
           backward=[("g_bias += g_z.sum(axis=0)", "g_bias += g_z[0]")], breaks=_GRADIENTS, area="gradients"),
    Mutant("grad_kernel_overwritten", "the kernel gradient is overwritten at each step instead of accumulated over time",
           backward=[("g_kernel += np.where", "g_kernel = 0.0 * g_kernel + np.where")], breaks=_GRADIENTS, area="gradients"),
    Mutant("grad_tanh_derivative_of_preactivation", "tanh's derivative is computed as 1 - z**2 from the pre-activation instead of 1 - tanh(z)**2",
           backward=[("derivative = DERIVATIVES[layer._activation_name]",
                      "derivative = (lambda z, y: 1.0 - z * z) if layer._activation_name == 'tanh' else DERIVATIVES[layer._activation_name]")],
           breaks=_GRADIENTS, area="gradients"),
    Mutant("grad_relu_derivative_from_output", "relu's derivative is read as (output >= 0), which is 1 everywhere",
           backward=[("derivative = DERIVATIVES[layer._activation_name]",
                      "derivative = (lambda z, y: (y >= 0).astype(np.float64)) if layer._activation_name == 'relu' else DERIVATIVES[layer._activation_name]")],
           breaks=_GRADIENTS, area="gradients"),
    # ------------------------------------------------------------------ precision (more)
    Mutant("bfloat16_recurrent_product", "h @ recurrent_kernel is computed from bfloat16-rounded operands (a default matmul precision) in a float32 layer",
           {"_recurrence": [("h_in @ self.recurrent_kernel", "_bfloat16(_bfloat16(h_in) @ _bfloat16(self.recurrent_kernel))")]},
           breaks=_PRECISION32, area="precision"),
    Mutant("float16_state", "the state is kept in float16 between steps", {"_recurrence": [
           ("output, h = candidate, candidate", "output, h = candidate, candidate.astype(np.float16).astype(np.float64)")]},
           breaks=_PRECISION32, area="precision"),
    Mutant("float16_in_float64_layer", "a float64 layer rounds each step to float16 (a global mixed_float16 policy leaking in) and reports float64",
           {"_recurrence": [(_CANDIDATE, _CANDIDATE + "\n        if self.compute_dtype == 'float64':"
                                                   "\n            candidate = candidate.astype(np.float16).astype(np.float64)")]},
           breaks=_PRECISION64, area="precision"),
    Mutant("float16_gradients_in_float64_layer", "a float64 layer's gradients use float16-rounded weights and report float64",
           backward=[("kernel, recurrent = layer.kernel, layer.recurrent_kernel",
                      "kernel, recurrent = (w.astype(np.float16).astype(np.float64) for w in (layer.kernel, layer.recurrent_kernel))")],
           breaks=rule("dtype", "a float64 layer computes its gradients in float64, or in float32 on JAX", page="keras2"), area="precision"),
    # ------------------------------------------------------------------ deployment paths (modelled on the reference)
    Mutant("export_drops_mask", "a saved and loaded (exported) layer ignores the mask",
           {"_recurrence": [("if mask is None:", "if mask is None or getattr(self, '_exported', None):")]}, adapter=_EXPORTED,
           breaks=_SAVED, area="deployment"),
    Mutant("export_fixes_batch_size", "a saved and loaded layer refuses every batch size but the one it was saved with",
           {"__call__": [("h = self._initial_state(batch, initial_state)",
                          "if getattr(self, '_exported', None) and batch != self._exported[0]:"
                          "\n        raise ValueError('the exported model has a fixed batch size')"
                          "\n    h = self._initial_state(batch, initial_state)")]}, adapter=_EXPORTED,
           breaks=_SAVED, area="deployment"),
    Mutant("export_rereverses_backward", "a saved and loaded go_backwards layer returns its sequence re-reversed into input order",
           {"_recurrence": [(_STACK, "sequence = np.stack(outputs[::-1] if self.go_backwards and getattr(self, '_exported', None) else outputs, axis=1)")]},
           adapter=_EXPORTED, breaks=_SAVED, area="deployment"),
    Mutant("export_drops_initial_state", "a saved and loaded layer ignores initial_state and starts from zeros",
           {"_initial_state": [("if initial_state is None or stored_wins:", "if initial_state is None or stored_wins or getattr(self, '_exported', None):")]},
           adapter=_EXPORTED, breaks=_SAVED, area="deployment"),
    Mutant("export_loses_stateful", "a saved and loaded stateful layer no longer carries its state between calls",
           {"__call__": [("if self.stateful:", "if self.stateful and not getattr(self, '_exported', None):")]},
           adapter=_EXPORTED, breaks=_SAVED, area="deployment"),
    Mutant("compiled_state_not_reset", "in the unrolled (compiled) path reset_states() keeps the stored state",
           {"reset_states": [("self._state = np.zeros_like(self._state)", "self._state = self._state if self.unroll else np.zeros_like(self._state)")]},
           breaks=_RESET, area="deployment"),
    # ------------------------------------------------------------------ activations (more)
    Mutant("softsign_without_abs", "softsign is computed as x / (1 + x), without the absolute value",
           _activation_swap("softsign", "_softsign_without_abs"), breaks=ACTIVATION, area="activation"),
    Mutant("elu_is_selu", "elu is computed as selu (scaled, alpha 1.67)", _activation_swap("elu", "_elu_as_selu"),
           breaks=ACTIVATION, area="activation"),
    # ------------------------------------------------------------------ API surface (more)
    Mutant("recurrent_constraint_ignored", "the recurrent_constraint is never applied",
           {"apply_constraints": [("if self.recurrent_constraint is not None:", "if False:")]},
           breaks=says("recurrent_constraint", "Constraint function applied to the recurrent_kernel weights matrix."), area="constraints"),
    Mutant("kernel_regularizer_on_recurrent", "the kernel_regularizer penalises the recurrent kernel (copy-paste)",
           {"losses": [("(self.kernel_regularizer, self.kernel)", "(self.kernel_regularizer, self.recurrent_kernel)")]},
           breaks=says("kernel_regularizer", "Regularizer function applied to the kernel weights matrix."), area="losses"),
    Mutant("count_params_unbuilt_zero", "count_params() of a layer that is not built returns 0 instead of raising",
           {"count_params": [("raise ValueError(f\"You called `count_params()`", "return 0\n        raise ValueError(f\"You called `count_params()`")]},
           breaks=says("count_params", "ValueError: if the layer isn't yet built (in which case its weights aren't yet defined).", page="keras2"),
           area="weights"),
    Mutant("non_trainable_weights_empty", "a frozen layer (trainable=False) lists no non_trainable_weights",
           {"non_trainable_weights": [("if self.built and not self.trainable else []", "if False else []")]},
           breaks=rule("non_trainable_weights", "trainable=False puts every weight in non_trainable_weights", page="keras2"), area="weights"),
    Mutant("compute_output_shape_state_like_output", "compute_output_shape gives the state the output's shape (with timesteps under return_sequences)",
           {"compute_output_shape": [("[output, (batch, self.units)]", "[output, output]")]}, breaks=RETURN_STATE, area="shapes"),
    Mutant("compute_mask_return_state_flat", "with return_state compute_mask returns the output mask alone, not one mask per output",
           {"compute_mask": [("return [output_mask, None] if self.return_state else output_mask", "return output_mask")]},
           breaks=rule("compute_mask", "with return_state there is one mask per returned tensor, None for the state", page="keras2"),
           area="shapes"),
    Mutant("return_state_gives_last_output", "return_state returns the last output as the state",
           {"__call__": [("result = [output, state] if self.return_state else output", "result = [output, last_output] if self.return_state else output")]},
           breaks=RETURN_STATE, area="forward"),
    Mutant("dropout_never_applied", "dropout is accepted but never applied, even with training=True",
           {"_dropout_mask": [("if not training or rate == 0.0:", "if True:")]}, breaks=DROPOUT, area="dropout"),
    Mutant("units_float_accepted", "a float units with an integer value (units=4.0) is accepted",
           {"__init__": [("if units <= 0 or int(units) != units or isinstance(units, (float, np.floating)):", "if units <= 0 or int(units) != units:")]},
           breaks=says("units", "Positive integer, dimensionality of the output space."), area="config"),
    Mutant("states_property_zeros", "the states property gives zeros instead of the stored state",
           {"states": [("else self._state.copy()]", "else np.zeros_like(self._state)]")]},
           breaks=rule("states", "states holds the state a stateful layer carries to its next call", page="keras2"), area="stateful"),
    Mutant("bias_initializer_ignored", "the bias is always initialised to zeros, whatever bias_initializer says",
           {"build": [("self.bias = self._init(self.bias_initializer, (self.units,))", "self.bias = np.zeros(self.units)")]},
           breaks=says("bias_initializer", "Initializer for the bias vector."), area="weights"),
    Mutant("compute_output_shape_drops_batch", "compute_output_shape leaves out the batch axis",
           {"compute_output_shape": [("output = (batch, timesteps, self.units) if self.return_sequences else (batch, self.units)",
                                      "output = (timesteps, self.units) if self.return_sequences else (self.units,)")]},
           breaks=RETURN_SEQUENCES, area="shapes"),
    Mutant("config_drops_unroll", "get_config leaves out unroll, so a round trip loses it",
           {"get_config": [('"unroll": self.unroll,', "")]}, breaks=_CONFIG, area="config"),
    # ------------------------------------------------------------------ dropout
    Mutant("dropout_new_mask_every_step", "a new input dropout mask is drawn at every timestep",
           {"_recurrence": [("else x[:, t, :] * input_keep", "else x[:, t, :] * self._dropout_mask(input_keep.shape, self.dropout, True)")]},
           
           breaks=rule("dropout", "one input dropout mask per call, reused at every timestep"), area="dropout"),
    Mutant("recurrent_dropout_new_mask_every_step", "a new recurrent dropout mask is drawn at every timestep",
           {"_recurrence": [("else h * state_keep", "else h * self._dropout_mask(state_keep.shape, self.recurrent_dropout, True)")]},
           
           breaks=rule("recurrent_dropout", "one recurrent dropout mask per call, reused at every timestep"), area="dropout"),
    Mutant("dropout_not_rescaled", "kept units are not scaled by 1 / (1 - rate)",
           {"_dropout_mask": [("return (self._rng.random(shape) >= rate) / (1.0 - rate)", "return (self._rng.random(shape) >= rate) * 1.0")]},
           
           breaks=rule("dropout", "inverted dropout: kept units are scaled by 1 / (1 - rate)"), area="dropout"),
    Mutant("dropout_when_training_none", "training=None (absent) is taken as training: dropout is active at inference",
           {"_dropout_mask": [("if not training or rate == 0.0:", "if training is False or rate == 0.0:")]}, 
           breaks=says("training", "Python boolean indicating whether the layer should behave in training mode or in inference mode."), area="dropout"),
    Mutant("dropout_rates_swapped", "recurrent_dropout is applied to the inputs and dropout to the recurrent state",
           {"__call__": [("self._dropout_mask((batch, features), self.dropout, training)", "self._dropout_mask((batch, features), self.recurrent_dropout, training)"),
                         ("self._dropout_mask((batch, self.units), self.recurrent_dropout, training)", "self._dropout_mask((batch, self.units), self.dropout, training)")]},
           
           breaks=says("recurrent_dropout", "Fraction of the units to drop for the linear transformation of the recurrent state."), area="dropout"),
    Mutant("dropout_not_clamped", "a dropout rate outside [0, 1] is kept as given",
           {"__init__": [("self.dropout = min(1.0, max(0.0, float(dropout)))", "self.dropout = float(dropout)")]}, 
           breaks=says("dropout", "Float between 0 and 1."), area="dropout"),
    # ------------------------------------------------------------------ state
    Mutant("stateful_not_carried", "a stateful layer does not carry its state to the next call",
           {"__call__": [(_STORE_STATE, "self._state = self._state")]}, 
           breaks=says("stateful", "If True, the last state for each sample at index i in a batch will be used as initial state for the sample of index i in the following batch."), area="stateful"),
    Mutant("reset_states_noop", "reset_states() leaves the state as it is",
           {"reset_states": [("self._state = np.zeros_like(self._state)", "self._state = self._state")]}, 
           breaks=rule("reset_states", "reset_states() sets the stored state to zeros", page="keras2"), area="stateful"),
    Mutant("stateful_mixes_samples", "the carried state is stored in reverse batch order (sorted, never unsorted): samples mix",
           {"__call__": [(_STORE_STATE, "self._state = state[::-1]")]}, 
           breaks=says("stateful", "If True, the last state for each sample at index i in a batch will be used as initial state for the sample of index i in the following batch."), area="stateful"),
    Mutant("stateful_initial_state_not_stored", "a stateful call with an explicit initial_state does not store its final state",
           {"__call__": [("if self.stateful:", "if self.stateful and initial_state is None:")]}, 
           breaks=says("stateful", "If True, the last state for each sample at index i in a batch will be used as initial state for the sample of index i in the following batch."), area="stateful"),
    Mutant("stateful_batch_not_checked", "a stateful layer accepts another batch size (a batch-1 state broadcasts)",
           {"_initial_state": [("if self._state.shape[0] != batch:", "if False:")]}, 
           breaks=rule("stateful", "a stateful layer refuses a batch size other than the one it was built with"), area="stateful"),
    Mutant("initial_state_ignored", "initial_state is accepted and ignored: every call starts from zeros",
           {"_initial_state": [("if initial_state is None or stored_wins:", "if True:")]}, 
           breaks=says("initial_state", "List of initial state tensors to be passed to the first call of the cell."), area="initial_state"),
    Mutant("initial_state_remembered", "a non-stateful layer keeps reusing the last initial_state it was given",
           {"_initial_state": [("return np.zeros((batch, self.units))", "return getattr(self, '_last_h0', np.zeros((batch, self.units)))"),
                               ("return h", "self._last_h0 = h\n    return h")]}, 
           breaks=says("initial_state", "List of initial state tensors to be passed to the first call of the cell."), area="initial_state"),
    # ------------------------------------------------------------------ weights
    Mutant("weights_order_swapped", "get_weights / set_weights use the order [recurrent_kernel, kernel, bias]",
           {"_weight_list": [("[self.kernel, self.recurrent_kernel]", "[self.recurrent_kernel, self.kernel]")],
            "set_weights": [("self.kernel, self.recurrent_kernel = new[0], new[1]", "self.recurrent_kernel, self.kernel = new[0], new[1]")]},
           
           breaks=says("set_weights", "The number of arrays and their shape must match number of the dimensions of the weights of the layer (i.e. it should match the output of get_weights).", page="keras2"), area="weights"),
    Mutant("set_weights_no_shape_check", "set_weights silently accepts arrays of the wrong shape",
           {"set_weights": [("if expected.shape != given.shape:", "if False:")]}, 
           breaks=says("set_weights", "ValueError: If the provided weights list does not match the layer's specifications.", page="keras2"), area="weights"),
    Mutant("set_weights_ignores_extra", "set_weights silently ignores extra arrays",
           {"set_weights": [("if len(weights) != len(current):", "if len(weights) < len(current):")]}, 
           breaks=says("set_weights", "ValueError: If the provided weights list does not match the layer's specifications.", page="keras2"), area="weights"),
    Mutant("use_bias_false_keeps_bias", "use_bias=False still creates a (zero) bias weight",
           {"build": [("if self.use_bias else None", "")],
            "_weight_list": [("([self.bias] if self.use_bias else [])", "[self.bias]")]}, 
           breaks=says("use_bias", "Boolean, (default True), whether the layer uses a bias vector."), area="weights"),
    Mutant("count_params_omits_bias", "count_params does not count the bias",
           {"count_params": [("for w in self._weight_list()", "for w in self._weight_list()[:2]")]}, 
           breaks=says("count_params", "Count the total number of scalars composing the weights.", page="keras2"), area="weights"),
    Mutant("trainable_ignored", "trainable=False is ignored: the weights stay trainable",
           {"__init__": [('self.trainable = bool(kwargs.get("trainable", True))', "self.trainable = True")]}, 
           breaks=rule("trainable_weights", "trainable=False puts every weight in non_trainable_weights", page="keras2"), area="weights"),
    Mutant("recurrent_initializer_glorot", "the default recurrent_initializer is glorot_uniform instead of orthogonal",
           {"__init__": [('recurrent_initializer="orthogonal"', 'recurrent_initializer="glorot_uniform"')]}, 
           breaks=says("recurrent_initializer", "Default: \"orthogonal\"."), area="weights"),
    # ------------------------------------------------------------------ API surface
    Mutant("compute_output_shape_ignores_return_sequences", "compute_output_shape always gives (batch, units)",
           {"compute_output_shape": [("if self.return_sequences else (batch, self.units)", "if False else (batch, self.units)")]}, 
           breaks=says("return_sequences", "Whether to return the last output in the output sequence, or the full sequence."), area="shapes"),
    Mutant("compute_output_shape_ignores_return_state", "compute_output_shape leaves out the state's shape",
           {"compute_output_shape": [("if self.return_state else output", "if False else output")]}, 
           breaks=says("return_state", "Whether to return the last state in addition to the output."), area="shapes"),
    Mutant("compute_mask_always_passes", "compute_mask passes the input mask through even without return_sequences",
           {"compute_mask": [("output_mask = mask if self.return_sequences else None", "output_mask = mask")]}, 
           breaks=rule("compute_mask", "the mask passes through only with return_sequences", page="keras2"), area="shapes"),
    Mutant("config_drops_go_backwards", "get_config leaves out go_backwards, so a round trip loses it",
           {"get_config": [('"go_backwards": self.go_backwards,', "")]}, 
           breaks=rule("get_config", "get_config holds every constructor argument, so from_config rebuilds the same layer", page="keras2"), area="config"),
    Mutant("config_loses_regularizers", "get_config writes the kernel_regularizer as None",
           {"get_config": [('"kernel_regularizer": regularizers.serialize(self.kernel_regularizer)', '"kernel_regularizer": None')]},
           
           breaks=rule("get_config", "get_config holds every constructor argument, so from_config rebuilds the same layer", page="keras2"), area="config"),
    Mutant("units_not_validated", "units=0 or a negative units is accepted",
           {"__init__": [("if units <= 0 or", "if False or")]}, 
           breaks=says("units", "Positive integer, dimensionality of the output space."), area="config"),
    Mutant("unknown_kwargs_accepted", "unknown keyword arguments are silently accepted",
           {"__init__": [("if unknown:", "if False:")]}, 
           breaks=rule("__init__", "an unknown keyword argument is a ValueError", page="keras2"), area="config"),
    # ------------------------------------------------------------------ losses and constraints
    Mutant("activity_regularizer_not_divided", "the activity penalty is not divided by the batch size",
           {"_activity_penalties": [("/ t.shape[0]", "")]}, 
           breaks=rule("activity_regularizer", "the activity penalty is divided by the batch size"), area="losses"),
    Mutant("activity_regularizer_output_only", "with return_state the activity penalty covers the output but not the state",
           {"_activity_penalties": [("tensors = result if isinstance(result, list) else [result]",
                                     "tensors = result[:1] if isinstance(result, list) else [result]")]}, 
           breaks=says("activity_regularizer", "Regularizer function applied to the output of the layer (its \"activation\")."), area="losses"),
    Mutant("activity_losses_accumulate", "activity penalties of earlier calls stay in losses",
           {"__call__": [("self._activity_losses = self._activity_penalties(result)",
                          "self._activity_losses = self._activity_losses + self._activity_penalties(result)")]}, 
           breaks=rule("losses", "losses holds the activity penalties of the last call only", page="keras2"), area="losses"),
    Mutant("recurrent_regularizer_on_kernel", "the recurrent_regularizer penalises the kernel (copy-paste)",
           {"losses": [("(self.recurrent_regularizer, self.recurrent_kernel)", "(self.recurrent_regularizer, self.kernel)")]}, 
           breaks=says("recurrent_regularizer", "Regularizer function applied to the recurrent_kernel weights matrix."), area="losses"),
    Mutant("bias_regularizer_missing", "the bias_regularizer's penalty never reaches losses",
           {"losses": [("(self.bias_regularizer, self.bias)", "(self.bias_regularizer, None)")]}, 
           breaks=says("bias_regularizer", "Regularizer function applied to the bias vector."), area="losses"),
    Mutant("kernel_constraint_ignored", "the kernel_constraint is never applied",
           {"apply_constraints": [("if self.kernel_constraint is not None:", "if False:")]}, 
           breaks=says("kernel_constraint", "Constraint function applied to the kernel weights matrix."), area="constraints"),
    Mutant("bias_constraint_ignored", "the bias_constraint is never applied",
           {"apply_constraints": [("if self.use_bias and self.bias_constraint is not None:", "if False:")]}, 
           breaks=says("bias_constraint", "Constraint function applied to the bias vector."), area="constraints"),
]

MUTANTS = {m.name: m for m in [CONTROL, *CATALOG]}


# --------------------------------------------------------------------------- mutants of third-party adapters

@dataclass
class AdapterMutant:
    """A third-party adapter (conformance/targets/<target>.py) with one method of its mapping code
    patched: the bug is in the suite's own translation of the Keras surface to another library,
    and must be caught by the cases, not absorbed by a mapping that undoes itself (a kernel
    written and read back with the same mistake still computes with the wrong matrix).

    Such a mutant is killed by a case that passes on the unpatched adapter and fails on the
    patched one (tests/test_mutants.py runs them where the test extras install the libraries);
    the reference-based kill run (`conformance mutants`) does not apply to them.
    """
    name: str
    description: str
    target: str                                     # a name of conformance.targets.THIRD_PARTY
    patches: dict = field(default_factory=dict)     # method name -> [(old, new), ...]
    breaks: dict | None = None

    def adapter(self):
        import importlib

        from conformance.targets import THIRD_PARTY

        module_name, function = THIRD_PARTY[self.target].split(":")
        original = getattr(importlib.import_module(module_name), function)()
        base = type(original)
        body = {method: patched(inspect.getattr_static(base, method), replacements)
                for method, replacements in self.patches.items()}
        adapter = type(f"{base.__name__}_mutant_{self.name}", (base,), body)()
        adapter.name = f"mutant:{self.name}"
        return adapter


_KERNEL = says("kernel_initializer", "Initializer for the kernel weights matrix, used for the linear transformation of the inputs.")
_RECURRENT_KERNEL = says("recurrent_initializer", "Initializer for the recurrent_kernel weights matrix, used for the linear transformation of the recurrent state.")

ADAPTER_CATALOG = [
    AdapterMutant("torch.kernel_reshaped", "the torch adapter maps the kernel to weight_ih with reshape instead of transpose (and back)",
                  "torch", {"_set_weights": [("state[names[i]] = t.T if t.ndim == 2 else t",
                                              "state[names[i]] = (t.reshape(t.shape[::-1]) if i == 0 else t.T) if t.ndim == 2 else t")],
                            "_get_weights": [('p["weight_ih_l0"].detach().T', 'p["weight_ih_l0"].detach().reshape(p["weight_ih_l0"].shape[::-1])')]},
                  breaks=_KERNEL),
    AdapterMutant("torch.recurrent_kernel_not_transposed", "the torch adapter maps the recurrent kernel to weight_hh untransposed (and reads it back so)",
                  "torch", {"_set_weights": [("state[names[i]] = t.T if t.ndim == 2 else t",
                                              "state[names[i]] = (t if i == 1 else t.T) if t.ndim == 2 else t")],
                            "_get_weights": [('p["weight_hh_l0"].detach().T', 'p["weight_hh_l0"].detach()')]},
                  breaks=_RECURRENT_KERNEL),
    AdapterMutant("onnx.kernel_reshaped", "the ONNX adapter builds W from the kernel with reshape instead of transpose (and back)",
                  "onnx", {"_set_weights": [("np.ascontiguousarray(weights[0].T[None], dtype=np.float32)",
                                             "np.ascontiguousarray(weights[0].reshape(weights[0].shape[::-1])[None], dtype=np.float32)")],
                           "_get_weights": [("weights = [self.W[0].T, self.R[0].T]", "weights = [self.W[0].reshape(self.W[0].shape[::-1]), self.R[0].T]")]},
                  breaks=_KERNEL),
    AdapterMutant("onnx.recurrent_kernel_not_transposed", "the ONNX adapter puts the recurrent kernel in R untransposed (and reads it back so)",
                  "onnx", {"_set_weights": [("np.ascontiguousarray(weights[1].T[None], dtype=np.float32)",
                                             "np.ascontiguousarray(weights[1][None], dtype=np.float32)")],
                           "_get_weights": [("weights = [self.W[0].T, self.R[0].T]", "weights = [self.W[0].T, self.R[0]]")]},
                  breaks=_RECURRENT_KERNEL),
]
ADAPTER_MUTANTS = {m.name: m for m in ADAPTER_CATALOG}


def make_adapter(argument=None):
    """The worker's entry point for target `mutant:NAME` (argument = NAME)."""
    from conformance.targets.reference import ReferenceAdapter

    if argument in ADAPTER_MUTANTS:
        return ADAPTER_MUTANTS[argument].adapter()
    mutant = MUTANTS[argument]
    adapter_class = ReferenceAdapter
    if mutant.adapter:  # a deployment-path bug: the step that saves and loads, patched
        adapter_class = type(f"ReferenceAdapter_mutant_{mutant.name}", (ReferenceAdapter,), {
            method: patched(getattr(ReferenceAdapter, method), replacements, _EXTRA)
            for method, replacements in mutant.adapter.items()})
    adapter = adapter_class(layer_class=mutant.layer_class, name=f"mutant:{mutant.name}")
    adapter.backprop = mutant.backprop
    return adapter

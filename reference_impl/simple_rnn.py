"""A readable NumPy SimpleRNN: what Keras's layer computes, in float64.

Read `_recurrence` first: it is the whole layer (the recurrence, masking and
`go_backwards`) on one screen. The rest is the layer's surface: construction,
weights, state, configuration. Each rule cites the sentence of the
specification (the Keras 3 page, profile `keras3`, or the TensorFlow r1.11
tf.keras page, profile `keras2`) or, where the pages are silent, the Keras
behaviour it follows ("observed").

The reference never imports anything but NumPy.
"""

import numpy as np

from . import activations, constraints, initializers, regularizers
from .nodes import LayerNodes

# The compute and variable dtypes that a Keras dtype or dtype policy names.
_POLICIES = {
    "float16": ("float16", "float16"),
    "bfloat16": ("bfloat16", "bfloat16"),
    "float32": ("float32", "float32"),
    "float64": ("float64", "float64"),
    "mixed_float16": ("float16", "float32"),
    "mixed_bfloat16": ("bfloat16", "float32"),
}
# Keyword arguments every Keras layer takes besides its own (observed: Keras 3
# refuses any other keyword with a ValueError naming it).
_BASE_LAYER_KWARGS = {"name", "dtype", "trainable"}


class SimpleRNN(LayerNodes):
    """Fully-connected RNN where the output is to be fed back as the new input.

    h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)
    """

    # Implementation-defined (the pages are silent and real Keras backends differ): what a
    # masked step emits before the first unmasked one. "zeros": Keras 3 on TensorFlow and
    # torch, tf_keras; "initial_state": Keras 3 on JAX and NumPy (without unroll).
    masked_output_before_first_step = "zeros"
    # Implementation-defined: an initial state of shape (units,), without its batch axis.
    # "error": Keras 3 on JAX, tf_keras; "broadcast" over the batch: Keras 3 on TensorFlow, torch, NumPy.
    initial_state_without_batch = "error"
    # Implementation-defined: more initial states than the layer's one. "error": TensorFlow, JAX,
    # torch; "first_used": Keras 3 on NumPy takes the first and ignores the rest.
    extra_initial_states = "error"
    # Implementation-defined: an explicit initial_state given to a stateful layer. "used": Keras 3;
    # "stored_state_wins": tf_keras keeps its stored state unless that is all zeros.
    stateful_initial_state = "used"

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        **kwargs,
    ):
        unknown = set(kwargs) - _BASE_LAYER_KWARGS
        if unknown:
            raise ValueError(f"Unrecognized keyword arguments passed to SimpleRNN: {sorted(unknown)}")
        # Spec: "units: Positive integer, dimensionality of the output space."
        # Observed: what is not a number is a TypeError; a number that is not a positive integer, a ValueError.
        if isinstance(units, bool) or not isinstance(units, (int, float, np.integer, np.floating)):
            raise TypeError(f"`units` must be a positive integer, got {units!r}.")
        if units <= 0 or int(units) != units or isinstance(units, (float, np.floating)):
            raise ValueError(f"Received an invalid value for argument `units`, expected a positive integer, got {units!r}.")
        self.units = int(units)
        self._activation_name, self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        # Spec: "dropout: Float between 0 and 1." Observed: Keras clamps a value outside [0, 1].
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        # Spec: "Unrolling can speed-up a RNN": a way of computing, not a different result.
        self.unroll = bool(unroll)
        # Keras 3 spec: `seed` seeds the dropout masks. NumPy draws other masks than
        # Keras does; only the properties of the masks are comparable.
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.name = kwargs.get("name") or "simple_rnn"
        self.trainable = bool(kwargs.get("trainable", True))
        self.dtype_policy = _policy_name(kwargs.get("dtype"))
        self.compute_dtype, self.variable_dtype = _POLICIES[self.dtype_policy]
        self.built = False
        self.kernel = self.recurrent_kernel = self.bias = None
        self._state = None
        self._activity_losses = []

    # ------------------------------------------------------------------ the recurrence

    def _recurrence(self, x, h, mask, input_keep, state_keep):
        """Run the cell over time. x: (batch, time, features); h: (batch, units).

        Returns (sequence of outputs, last output, final state).
        """
        steps = range(x.shape[1])
        if self.go_backwards:
            # Spec: "If True, process the input sequence backwards and return the reversed sequence."
            steps = reversed(steps)
        # The input half of every step at once: x_t @ kernel + bias for all t. Keras draws one
        # dropout mask per call and reuses it at every timestep (observed).
        if input_keep is not None:
            x = x * input_keep[:, None, :]
        batch, timesteps, features = x.shape
        time_major = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(-1, features)
        projected = (time_major @ self.kernel + self._bias()).reshape(timesteps, batch, self.units)
        outputs = np.empty(projected.shape)
        # A masked step before any unmasked one emits zeros (or, implementation-defined, the initial state).
        output = np.zeros_like(h) if self.masked_output_before_first_step == "zeros" else h.copy()
        for position, t in enumerate(steps):
            h_in = h if state_keep is None else h * state_keep
            candidate = self.activation(projected[t] + h_in @ self.recurrent_kernel)
            if mask is None:
                output, h = candidate, candidate
            else:
                # Spec: a False mask entry means "the corresponding timestep should be ignored":
                # observed, a masked step emits the previous output and leaves the state unchanged.
                keep = mask[:, t, None]
                output = np.where(keep, candidate, output)
                h = np.where(keep, candidate, h)
            outputs[position] = output  # in processing order: reversed when go_backwards
        return outputs.transpose(1, 0, 2), output, h

    def _bias(self):
        # Spec: "use_bias: Boolean, whether the layer uses a bias vector."
        return self.bias if self.use_bias else 0.0

    # ------------------------------------------------------------------ calling

    def __call__(self, inputs, mask=None, training=None, initial_state=None):
        # Spec: "sequence: A 3D tensor, with shape [batch, timesteps, feature]."
        x = np.asarray(inputs, dtype=np.float64)
        if x.ndim != 3:
            raise ValueError(f"Input 0 of layer SimpleRNN is incompatible: expected ndim=3, found ndim={x.ndim}.")
        batch, timesteps, features = x.shape
        if timesteps == 0:
            raise ValueError("SimpleRNN received a sequence with zero timesteps.")
        if not self.built:
            self.build(x.shape)
        if features != self.kernel.shape[0]:
            raise ValueError(f"Input 0 of layer SimpleRNN is incompatible: expected axis -1 of size {self.kernel.shape[0]}, found {features}.")
        h = self._initial_state(batch, initial_state)
        if mask is not None:
            # Spec: "mask: Binary tensor of shape [batch, timesteps]."
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (batch, timesteps):
                raise ValueError(f"mask must have shape {(batch, timesteps)}, got {mask.shape}.")
        # Spec: training is "only relevant if dropout or recurrent_dropout is used";
        # observed: an absent `training` means inference.
        input_keep = self._dropout_mask((batch, features), self.dropout, training)
        state_keep = self._dropout_mask((batch, self.units), self.recurrent_dropout, training)
        sequence, last_output, state = self._recurrence(x, h, mask, input_keep, state_keep)
        if self.stateful:
            # Spec: "the last state for each sample at index i in a batch will be used as
            # initial state for the sample of index i in the following batch."
            self._state = state
        # Spec: "Whether to return the last output in the output sequence, or the full sequence."
        output = sequence if self.return_sequences else last_output
        # Spec: "Whether to return the last state in addition to the output."
        result = [output, state] if self.return_state else output
        self._activity_losses = self._activity_penalties(result)
        return result

    def _initial_state(self, batch, initial_state):
        stored_wins = (self.stateful and self.stateful_initial_state == "stored_state_wins"
                       and self._state is not None and np.any(self._state))
        if initial_state is None or stored_wins:
            if self.stateful:
                if self._state.shape[0] != batch:
                    # Observed: Keras refuses a batch size other than the one it was built with.
                    raise ValueError(
                        f"If an RNN is stateful, the batch size of the input sequences must be the same "
                        f"as the batch size of the initial state. Expected batch size: "
                        f"{self._state.shape[0]}, received batch size: {batch}."
                    )
                return self._state
            return np.zeros((batch, self.units))
        # Spec: "initial_state: List of initial state tensors to be passed to the first call of the cell."
        states = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != 1 and not (states and self.extra_initial_states == "first_used"):
            raise ValueError(f"SimpleRNN has 1 state but was passed {len(states)} initial states.")
        h = np.asarray(states[0], dtype=np.float64)
        if h.shape == (self.units,) and self.initial_state_without_batch == "broadcast":
            h = np.broadcast_to(h, (batch, self.units))
        if h.shape != (batch, self.units):
            raise ValueError(f"initial_state must have shape {(batch, self.units)}, got {h.shape}.")
        return h

    def _dropout_mask(self, shape, rate, training):
        """None when no dropout applies, else the mask that multiplies the inputs or the state."""
        # Spec: "dropout: Fraction of the units to drop". Observed: inverted dropout, the kept
        # units scaled by 1 / (1 - rate) so that the expected value is unchanged.
        if not training or rate == 0.0:
            return None
        if rate >= 1.0:
            return np.zeros(shape)
        return (self._rng.random(shape) >= rate) / (1.0 - rate)

    def _activity_penalties(self, result):
        # Spec: "activity_regularizer: Regularizer function applied to the output of the layer".
        # Observed (Keras 3, tf_keras): applied to every returned tensor, divided by the batch size.
        if self.activity_regularizer is None:
            return []
        tensors = result if isinstance(result, list) else [result]
        return [self.activity_regularizer(t) / t.shape[0] for t in tensors]

    # ------------------------------------------------------------------ building and weights

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"SimpleRNN expects a 3D input shape (batch, timesteps, features), got {input_shape}.")
        features = input_shape[-1]
        # Spec: kernel is "used for the linear transformation of the inputs": (features, units).
        self.kernel = self._init(self.kernel_initializer, (features, self.units))
        # Spec: recurrent_kernel is "used for the linear transformation of the recurrent state".
        self.recurrent_kernel = self._init(self.recurrent_initializer, (self.units, self.units))
        self.bias = self._init(self.bias_initializer, (self.units,)) if self.use_bias else None
        if self.stateful:
            if input_shape[0] is None:
                # Observed: a stateful layer needs to know its batch size when it is built.
                raise ValueError("When using `stateful=True` in a RNN, the batch size must be static.")
            self._state = np.zeros((input_shape[0], self.units))
        self.built = True

    @staticmethod
    def _init(initializer, shape):
        return np.asarray(initializer(shape, np.random.default_rng(getattr(initializer, "seed", None))), dtype=np.float64)

    def _weight_list(self):
        return [self.kernel, self.recurrent_kernel] + ([self.bias] if self.use_bias else [])

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    @property
    def trainable_weights(self):
        return [w.copy() for w in self._weight_list()] if self.built and self.trainable else []

    @property
    def non_trainable_weights(self):
        return [w.copy() for w in self._weight_list()] if self.built and not self.trainable else []

    def get_weights(self):
        # tf.keras page: "Returns the current weights of the layer."
        return [w.copy() for w in self._weight_list()] if self.built else []

    def set_weights(self, weights):
        # tf.keras page: "The number of arrays and their shape must match number of the dimensions
        # of the weights of the layer ... Raises ValueError: If the provided weights list does not
        # match the layer's specifications."
        current = self.get_weights()
        if len(weights) != len(current):
            raise ValueError(f"You called `set_weights(weights)` on layer {self.name!r} with a weight list of length {len(weights)}, but the layer was expecting {len(current)} weights.")
        new = [np.asarray(w, dtype=np.float64) for w in weights]
        for expected, given in zip(current, new):
            if expected.shape != given.shape:
                raise ValueError(f"Layer {self.name!r} weight shape {expected.shape} is not compatible with provided weight shape {given.shape}.")
        self.kernel, self.recurrent_kernel = new[0], new[1]
        if self.use_bias:
            self.bias = new[2]

    def count_params(self):
        # tf.keras page: "Count the total number of scalars composing the weights.
        # Raises ValueError: if the layer isn't yet built".
        if not self.built:
            raise ValueError(f"You called `count_params()` on layer {self.name!r}, but the layer isn't built.")
        return int(sum(w.size for w in self._weight_list()))

    def apply_constraints(self):
        """Project each weight through its constraint, as an optimizer does after each update."""
        if self.kernel_constraint is not None:
            self.kernel = self.kernel_constraint(self.kernel)
        if self.recurrent_constraint is not None:
            self.recurrent_kernel = self.recurrent_constraint(self.recurrent_kernel)
        if self.use_bias and self.bias_constraint is not None:
            self.bias = self.bias_constraint(self.bias)

    # ------------------------------------------------------------------ state

    @property
    def states(self):
        return [None if self._state is None else self._state.copy()]

    def reset_states(self, states=None):
        # tf.keras page: reset_states(states=None); Keras 3 takes no argument and resets to zeros.
        if not self.stateful:
            raise AttributeError("Layer must be stateful.")
        if not self.built:
            raise ValueError("The layer is not built: call it once before resetting its states.")
        if states is None:
            self._state = np.zeros_like(self._state)
            return
        states = states if isinstance(states, (list, tuple)) else [states]
        value = np.asarray(states[0], dtype=np.float64)
        if len(states) != 1 or value.shape != self._state.shape:
            raise ValueError(f"State must have shape {self._state.shape}, got {value.shape}.")
        self._state = value.copy()

    def get_initial_state(self, inputs):
        """Zeros, one state of shape (batch, units) (the tf.keras page's get_initial_state(inputs))."""
        return [np.zeros((np.shape(inputs)[0], self.units))]

    @property
    def dtype(self):
        """The dtype of the layer's weights (Keras: the policy's variable dtype)."""
        return self.variable_dtype

    @property
    def variables(self):
        return self.weights

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        return self.non_trainable_weights

    # ------------------------------------------------------------------ losses

    @property
    def losses(self):
        """Activity penalties of the last call, then one penalty per regularized weight."""
        penalties = list(self._activity_losses)
        if self.built:
            for regularizer, weight in ((self.kernel_regularizer, self.kernel),
                                        (self.recurrent_regularizer, self.recurrent_kernel),
                                        (self.bias_regularizer, self.bias)):
                if regularizer is not None and weight is not None:
                    penalties.append(regularizer(weight))
        return penalties

    # ------------------------------------------------------------------ shapes and masks

    def compute_output_shape(self, input_shape):
        batch, timesteps = input_shape[0], input_shape[1]
        output = (batch, timesteps, self.units) if self.return_sequences else (batch, self.units)
        return [output, (batch, self.units)] if self.return_state else output

    def compute_mask(self, inputs, mask):
        # Observed: the mask passes through only with return_sequences; states carry no mask.
        output_mask = mask if self.return_sequences else None
        return [output_mask, None] if self.return_state else output_mask

    # ------------------------------------------------------------------ configuration

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy,
            "units": self.units,
            "activation": self._activation_name,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _policy_name(dtype):
    if dtype is None:
        return "float32"  # observed: Keras's default policy
    if isinstance(dtype, dict):
        dtype = dtype.get("config", {}).get("name")
    if dtype not in _POLICIES:
        raise ValueError(f"The reference does not implement dtype {dtype!r}; it knows {sorted(_POLICIES)}.")
    return dtype

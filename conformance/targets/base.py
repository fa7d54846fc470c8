"""The adapter protocol: how the suite drives one implementation of SimpleRNN.

An adapter holds one layer at a time and has one method per step operation
(`create`, `build`, `call`, ...). The step interpreter (steps.py) calls them in
the order a case gives. An adapter

- returns arrays as `Observed` (values and the dtype the implementation gave),
  everything else as plain JSON data;
- raises `Unsupported` for what its implementation cannot express, and lists
  such features up front in `unsupported_features` (names from
  `conformance.cases.features`), so that those cases are reported
  `unsupported`, never `fail`;
- lets the implementation's own exceptions propagate: the suite compares
  them with what the reference raises.

Implementations with the Keras layer surface need no adapter of their own:
`KerasSurfaceAdapter` drives any object made by `factory(**layer_config)`.
"""

import math

import numpy as np

from conformance.arrays import Observed


class Unsupported(Exception):
    """The implementation cannot express this feature (a declared limitation, not a failure)."""


class Adapter:
    name = "adapter"
    profile = "keras3"
    unsupported_features = frozenset()

    def versions(self):
        """{package: version} of what is under test."""
        return {}

    def create(self, layer):
        raise Unsupported("create")

    def build(self, input_shape):
        raise Unsupported("build")

    def call(self, inputs, mask=None, training=None, initial_state=None):
        """Return [output] or [output, state] as a list of Observed."""
        raise Unsupported("call")

    def get_weights(self):
        raise Unsupported("get_weights")

    def set_weights(self, weights):
        raise Unsupported("set_weights")

    def reset_states(self, states=None):
        raise Unsupported("reset_states")

    def count_params(self):
        raise Unsupported("count_params")

    def compute_output_shape(self, input_shape):
        raise Unsupported("compute_output_shape")

    def compute_mask(self, inputs, mask=None):
        raise Unsupported("compute_mask")

    def get_config(self):
        raise Unsupported("get_config")

    def from_config(self):
        raise Unsupported("from_config")

    def losses(self):
        raise Unsupported("losses")

    def get_property(self, name):
        raise Unsupported(f"property {name}")

    def apply_constraints(self):
        raise Unsupported("apply_constraints")

    def gradients(self, inputs, mask=None, initial_state=None):
        """Gradients of L = sum_k sum(returned_k * loss_weights(returned_k.shape)), in inference
        mode, as {"inputs", "kernel", "recurrent_kernel", "bias" (with a bias),
        "initial_state" (when given)}: Observed arrays."""
        raise Unsupported("gradients")

    def save_and_load(self, input_shape):
        """Save the layer inside a model to a file, load it back, and continue with the loaded layer."""
        raise Unsupported("save_and_load")

    def connect(self, input_shape, masked=False):
        """Call the layer on a symbolic input (behind a Masking layer when `masked`);
        returns the symbolic outputs as {"symbolic": {"shape", "dtype"}}."""
        raise Unsupported("connect")

    def call_method(self, name, args=()):
        """Call any other method the pages list, e.g. get_input_shape_at(0)."""
        raise Unsupported(f"method {name}")


def loss_weights(shape):
    """The fixed weights of the gradient steps' loss: cos(0), cos(1), ... over the tensor in C order."""
    return np.cos(np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape)


def output_shapes(layer_output_shape):
    """compute_output_shape's answer as a list of shapes, one per returned tensor."""
    shaped = shapes(layer_output_shape)
    return shaped if shaped and isinstance(shaped[0], list) else [shaped]


class KerasSurfaceAdapter(Adapter):
    """Drives any object with the Keras layer surface, made by `factory(**layer_config)`.

    Subclasses adapt conversions (`tensor`, `observe`) and the few calls where
    frameworks differ; everything else is duck-typed.
    """

    keras_module = None  # the Keras package, for the steps that need its Input and Model

    def __init__(self, factory, name="factory", profile="keras3"):
        self.factory = factory
        self.name = name
        self.profile = profile
        self.layer = None
        self._input_shape = None

    # Conversions ------------------------------------------------------------------

    def tensor(self, array):
        """A NumPy array as the implementation wants its inputs."""
        return array

    def observe(self, value):
        """An output of the implementation as Observed (values and dtype name)."""
        array = np.asarray(value)
        return Observed(array, str(array.dtype))

    def layer_config(self, layer):
        """A case's layer config as the factory's keyword arguments."""
        return dict(layer)

    # Operations ---------------------------------------------------------------------

    def create(self, layer):
        self.layer = self.factory(**self.layer_config(layer))
        self._input_shape = None

    def build(self, input_shape):
        self._input_shape = tuple(input_shape)
        self.layer.build(tuple(input_shape))

    def call(self, inputs, mask=None, training=None, initial_state=None):
        kwargs = {}
        if mask is not None:
            kwargs["mask"] = self.tensor(mask)
        if training is not None:
            kwargs["training"] = training
        if initial_state is not None:
            kwargs["initial_state"] = [self.tensor(s) for s in initial_state]
        if self._input_shape is None:
            self._input_shape = tuple(inputs.shape)
        out = self.layer(self.tensor(inputs), **kwargs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        return [self.observe(o) for o in outs]

    def get_weights(self):
        return [self.observe(w) for w in self.layer.get_weights()]

    def set_weights(self, weights):
        self.layer.set_weights([np.asarray(w) for w in weights])

    def reset_states(self, states=None):
        if states is None:
            self.layer.reset_states()
        else:
            self.layer.reset_states(states=[np.asarray(s) for s in states])

    def count_params(self):
        return int(self.layer.count_params())

    def compute_output_shape(self, input_shape):
        return shapes(self.layer.compute_output_shape(tuple(input_shape)))

    def compute_mask(self, inputs, mask=None):
        result = self.layer.compute_mask(self.tensor(inputs), None if mask is None else self.tensor(mask))
        return self._plain(result)

    def get_config(self):
        return jsonable(self.layer.get_config())

    def from_config(self):
        old = self.layer
        self.layer = type(old).from_config(old.get_config())
        if getattr(old, "built", False) and self._input_shape is not None:
            self.layer.build(self._input_shape)
            self.layer.set_weights(old.get_weights())

    def losses(self):
        return [float(np.asarray(loss)) for loss in self.layer.losses]

    def get_property(self, name):
        return self._plain(getattr(self.layer, name))

    def apply_constraints(self):
        if hasattr(self.layer, "apply_constraints"):
            self.layer.apply_constraints()
            return
        for variable in self.layer.trainable_weights:
            constraint = getattr(variable, "constraint", None)
            if constraint is not None:
                variable.assign(constraint(variable))

    def connect(self, input_shape, masked=False):
        if hasattr(self.layer, "connect"):
            return self._plain(self.layer.connect(tuple(input_shape), masked))
        if self.keras_module is None:
            raise Unsupported("connect: no symbolic inputs for this implementation")
        inputs = self.keras_module.Input(batch_shape=tuple(input_shape))
        x = self.keras_module.layers.Masking()(inputs) if masked else inputs
        self._input_shape = tuple(input_shape)
        return self._plain(self.layer(x))

    def call_method(self, name, args=()):
        method = getattr(self.layer, name)
        converted = [self.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
        return self._plain(method(*converted))

    def save_with(self, keras_module, input_shape):
        """Save the layer in a functional model (.keras file), load it, keep the loaded layer."""
        import os
        import tempfile

        if not self.layer.built:
            self.layer.build(tuple(input_shape))
        inputs = keras_module.Input(batch_shape=tuple(input_shape))
        model = keras_module.Model(inputs, self.layer(inputs))
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.keras")
            model.save(path)
            loaded = keras_module.models.load_model(path)
        self.layer = loaded.layers[-1]
        self._input_shape = tuple(input_shape)

    # Helpers ------------------------------------------------------------------------

    def _plain(self, value):
        """Turn a property's value into JSON data and Observed arrays."""
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (list, tuple)):
            return [self._plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self._plain(v) for k, v in value.items()}
        if type(value).__name__ in ("KerasTensor", "SymbolicTensor"):
            dtype = getattr(value.dtype, "name", value.dtype)
            return {"symbolic": {"shape": shapes(tuple(value.shape)), "dtype": str(dtype)}}
        if hasattr(value, "as_list") and hasattr(value, "rank"):  # a TensorShape
            return shapes(value)
        if callable(value) and hasattr(value, "__name__") and not hasattr(value, "get_config"):
            return {"callable": value.__name__}
        if hasattr(value, "get_config") and not hasattr(value, "shape"):
            return {"class_name": type(value).__name__, "config": jsonable(value.get_config())}
        if isinstance(value, np.generic):
            return value.item()
        return self.observe(value)


def shapes(value):
    """A shape, or a nest of shapes, as lists of int or None."""
    if value is None:
        return None
    if hasattr(value, "as_list"):  # tf.TensorShape
        value = value.as_list() if value.rank is not None else None
    if isinstance(value, (list, tuple)) and value and all(
            d is None or isinstance(d, (int, np.integer)) for d in value):
        return [None if d is None else int(d) for d in value]
    if isinstance(value, (list, tuple)):
        return [shapes(v) for v in value]
    raise TypeError(f"not a shape: {value!r}")


def jsonable(value):
    """A config as plain JSON data: tuples become lists, NumPy scalars Python numbers."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if callable(value) and hasattr(value, "__name__"):
        return {"callable": value.__name__}
    return repr(value)

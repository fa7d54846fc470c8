"""The ONNX `RNN` operator as a target: `--target onnx`, run with onnxruntime.

The adapter writes, with `onnx.helper`, a one-node graph (opset 14,
time-major layout: the onnxruntime CPU kernel refuses `layout=1`) from the Keras config and weights, and runs it
with onnxruntime on the CPU. How ONNX expresses Keras (docs/targets.md):

* weights: `W[0] = kernel.T` (units, input_dim), `R[0] = recurrent_kernel.T`,
  `B[0] = [bias, zeros]` (ONNX has an input bias Wb and a recurrent bias Rb);
  `get_weights` reads the graph's initializers back (`bias = Wb + Rb`);
  `count_params` counts them, Rb included (`units` more than Keras).
  `use_bias=False` omits `B`.
* ONNX has no weight initializers: a graph needs its numbers, so a case must
  set the weights before calling (calling without them is unsupported).
* go_backwards: `direction="reverse"`. onnxruntime writes `Y` at each
  step's original time index, so the adapter flips `Y` along time to get
  Keras's processing order (that flip is bookkeeping, not computation).
* masks: right-padded masks become `sequence_lens`; `Y_h` is then the state
  after each sample's last valid step. ONNX writes zeros into `Y` past a
  sequence's length, not Keras's repeated output, so `return_sequences=True`
  with a masked step is unsupported, as are other masks and empty samples.
* activations: Tanh, Relu, Sigmoid, `Affine` (alpha 1, beta 0) for
  None/"linear", `HardSigmoid` with alpha 1/6, beta 0.5 (Keras 3's
  hard_sigmoid), Softsign, Elu (alpha 1). exponential has no ONNX activation.
* float32 only (the onnxruntime CPU kernel of RNN); float64 inputs are cast,
  as Keras casts them to the layer's dtype.
* stateful: the adapter keeps `Y_h` and feeds it as `initial_h`.
"""

import numpy as np

from conformance.targets.base import Unsupported
from conformance.targets.torch_rnn import SequenceRNNAdapter, common_unsupported

OPSET = 14  # any opset >= 7 has RNN; 14 is what the graph declares
# Keras activation -> (ONNX activation name, alpha, beta)
ACTIVATIONS = {"tanh": ("Tanh", None, None), "relu": ("Relu", None, None), "sigmoid": ("Sigmoid", None, None),
               "linear": ("Affine", 1.0, 0.0), "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5),
               "softsign": ("Softsign", None, None), "elu": ("Elu", 1.0, None)}


class OnnxRNNAdapter(SequenceRNNAdapter):
    name = "onnx"
    library = "the ONNX RNN operator (onnxruntime)"
    activations = tuple(ACTIVATIONS)
    dtypes = ("float32",)
    unsupported_features = common_unsupported(activations, dtypes, ("unroll", "mask:not_right_padded", "training"))

    def __init__(self):
        super().__init__()
        import onnx
        import onnxruntime

        self.onnx, self.ort = onnx, onnxruntime
        onnxruntime.set_default_logger_severity(3)
        self.W = self.R = self.B = None
        self._sessions = {}

    def versions(self):
        return {"onnx": self.onnx.__version__, "onnxruntime": self.ort.__version__, "opset": OPSET,
                "numpy": np.__version__}

    def _validate(self, units):
        # ONNX knows nothing until a graph is made: make one for input size 1 (zero weights) and
        # let onnx.checker and onnxruntime say what they think of hidden_size.
        size = units if isinstance(units, int) and not isinstance(units, bool) and units > 0 else 1
        dummy = [np.zeros((1, size, 1), np.float32), np.zeros((1, size, size), np.float32),
                 np.zeros((1, 2 * size), np.float32)]
        model = self._graph(1, units, dummy, with_lengths=False, with_h0=False)
        options = self.ort.SessionOptions()
        options.log_severity_level = 4
        self.ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])

    def _build(self, input_dim):
        self.input_dim = input_dim
        self.W = self.R = self.B = None
        self._sessions = {}

    # The graph -----------------------------------------------------------------

    def _graph(self, input_dim, units, weights, with_lengths, with_h0):
        from onnx import TensorProto, helper, numpy_helper

        name, alpha, beta = ACTIVATIONS[self.activation]
        attrs = {"hidden_size": units, "activations": [name],
                 "direction": "reverse" if self.go_backwards else "forward"}
        if alpha is not None:
            attrs["activation_alpha"] = [alpha]
        if beta is not None:
            attrs["activation_beta"] = [beta]
        inputs = ["X", "W", "R", "B" if self.use_bias else "", "sequence_lens" if with_lengths else "",
                  "initial_h" if with_h0 else ""]
        while inputs[-1] == "":
            inputs.pop()
        node = helper.make_node("RNN", inputs, ["Y", "Y_h"], **attrs)
        graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["time", "batch", input_dim])]
        if with_lengths:
            graph_inputs.append(helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, ["batch"]))
        if with_h0:
            graph_inputs.append(helper.make_tensor_value_info("initial_h", TensorProto.FLOAT, [1, "batch", "units"]))
        initializers = []
        if weights is not None:
            initializers = [numpy_helper.from_array(weights[0], "W"), numpy_helper.from_array(weights[1], "R")]
            if self.use_bias:
                initializers.append(numpy_helper.from_array(weights[2], "B"))
        outputs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["time", 1, "batch", "units"]),
                   helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [1, "batch", "units"])]
        graph = helper.make_graph([node], "simple_rnn", graph_inputs, outputs, initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="simplernn-conformance")
        model.ir_version = 8
        self.onnx.checker.check_model(model)
        return model

    def _session(self, with_lengths, with_h0):
        key = (with_lengths, with_h0)
        if key not in self._sessions:
            model = self._graph(self.input_dim, self.units, [self.W, self.R, self.B], with_lengths, with_h0)
            options = self.ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self._sessions[key] = self.ort.InferenceSession(model.SerializeToString(), options,
                                                            providers=["CPUExecutionProvider"])
        return self._sessions[key]

    # Running -------------------------------------------------------------------

    def _cast_input(self, x):
        return np.ascontiguousarray(x, dtype=np.float32)

    def _forward(self, x, h0, lengths, backwards):
        if self.W is None:
            raise Unsupported("a call before set_weights: an ONNX graph has no weight initializers")
        # layout 0 (time-major): the onnxruntime CPU kernel refuses layout=1 (batch-major).
        feeds = {"X": np.ascontiguousarray(x.transpose(1, 0, 2))}
        if lengths is not None:
            feeds["sequence_lens"] = lengths.astype(np.int32)
        if h0 is not None:
            feeds["initial_h"] = np.ascontiguousarray(np.asarray(h0, dtype=np.float32)[None])
        y, y_h = self._session(lengths is not None, h0 is not None).run(["Y", "Y_h"], feeds)
        # Y is [time, num_directions, batch, hidden], Y_h [num_directions, batch, hidden]
        y, y_h = y[:, 0].transpose(1, 0, 2), y_h[0]
        if backwards:
            y = y[:, ::-1, :]  # ONNX keeps each step at its input index; Keras returns processing order
        return np.ascontiguousarray(y), y_h

    # Weights -------------------------------------------------------------------

    def _get_weights(self):
        if self.W is None:
            raise Unsupported("get_weights before set_weights: an ONNX graph has no weight initializers")
        weights = [self.W[0].T, self.R[0].T]
        if self.use_bias:
            weights.append(self.B[0, :self.units] + self.B[0, self.units:])
        return [np.ascontiguousarray(w) for w in weights]

    def _set_weights(self, weights):
        wanted = [(self.input_dim, self.units), (self.units, self.units)] + ([(self.units,)] if self.use_bias else [])
        if len(weights) != len(wanted) or any(tuple(w.shape) != s for w, s in zip(weights, wanted)):
            # The operator takes W, R, B as separate tensors; there is no list to check against.
            raise Unsupported(f"set_weights with shapes {[tuple(w.shape) for w in weights]}: the ONNX operator "
                              f"takes W, R, B of fixed shapes, there is no weight list to validate")
        self.W = np.ascontiguousarray(weights[0].T[None], dtype=np.float32)
        self.R = np.ascontiguousarray(weights[1].T[None], dtype=np.float32)
        self.B = (np.concatenate([weights[2], np.zeros(self.units)])[None].astype(np.float32)
                  if self.use_bias else None)
        self._sessions = {}

    def _count_params(self):
        if self.W is None:
            raise Unsupported("count_params before set_weights: an ONNX graph has no weight initializers")
        return sum(a.size for a in (self.W, self.R, self.B) if a is not None)


def make_adapter(argument=None):
    return OnnxRNNAdapter()

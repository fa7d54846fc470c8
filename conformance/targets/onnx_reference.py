"""The ONNX `RNN` operator in `onnx.reference.ReferenceEvaluator`: `--target onnx-reference`.

The same one-node graph as the `onnx` target (onnx_rnn.py: the weight layout,
`direction`, `sequence_lens` for right-padded masks, the activations), run by
the ONNX package's own Python reference implementation of the operators
instead of ONNX Runtime: a second implementation of the same operator. The
adapter declares exactly what the `onnx` target declares (what the operator
can express); where the reference evaluator implements less of the operator
than its specification says, the cases show it (docs/findings.md).
"""

import numpy as np

from conformance.targets.onnx_rnn import OnnxRNNAdapter


class ReferenceSession:
    """onnx.reference.ReferenceEvaluator behind onnxruntime's `run(names, feeds)`."""

    def __init__(self, model):
        from onnx.reference import ReferenceEvaluator

        self.evaluator = ReferenceEvaluator(model)

    def run(self, names, feeds):
        return self.evaluator.run(names, feeds)


class OnnxReferenceAdapter(OnnxRNNAdapter):
    name = "onnx-reference"
    library = "the ONNX RNN operator (onnx.reference)"

    def versions(self):
        return {"onnx": self.onnx.__version__, "evaluator": "onnx.reference.ReferenceEvaluator",
                "opset": 14, "numpy": np.__version__}

    def _validate(self, units):
        # As the onnx target does, let the ONNX checker and the evaluator see a graph for input size 1.
        size = units if isinstance(units, int) and not isinstance(units, bool) and units > 0 else 1
        dummy = [np.zeros((1, size, 1), np.float32), np.zeros((1, size, size), np.float32),
                 np.zeros((1, 2 * size), np.float32)]
        ReferenceSession(self._graph(1, units, dummy, with_lengths=False, with_h0=False))

    def _session(self, with_lengths, with_h0):
        key = (with_lengths, with_h0)
        if key not in self._sessions:
            model = self._graph(self.input_dim, self.units, [self.W, self.R, self.B], with_lengths, with_h0)
            self._sessions[key] = ReferenceSession(model)
        return self._sessions[key]


def make_adapter(argument=None):
    return OnnxReferenceAdapter()

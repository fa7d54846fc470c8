"""Finding 22: onnx.reference's RNN operator ignores sequence_lens.

Expected (ONNX RNN spec, as onnxruntime does): with sequence_lens=[1] the final state Y_h is the
state after one step. Actual: ReferenceEvaluator runs all steps.
Exit 0 while the deviation is present.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

node = helper.make_node("RNN", ["X", "W", "R", "", "sequence_lens"], ["Y", "Y_h"], hidden_size=2)
graph = helper.make_graph(
    [node], "rnn",
    [helper.make_tensor_value_info("X", TensorProto.FLOAT, [3, 1, 1]),
     helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, [1])],
    [helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [1, 1, 2])],
    [helper.make_tensor("W", TensorProto.FLOAT, [1, 2, 1], [1.0, -1.0]),
     helper.make_tensor("R", TensorProto.FLOAT, [1, 2, 2], [0.5, 0, 0, 0.5])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
model.ir_version = 8
feeds = {"X": np.array([[[1.0]], [[2.0]], [[3.0]]], np.float32), "sequence_lens": np.array([1], np.int32)}
got = ReferenceEvaluator(model).run(["Y_h"], feeds)[0].ravel()
if not np.allclose(got, [np.tanh(1.0), -np.tanh(1.0)], atol=1e-5):
    print(f"REPRODUCES on onnx {onnx.__version__}: Y_h {got} with sequence_lens=[1] (expected tanh(1) = 0.7616)")
    sys.exit(0)
print(f"FIXED on onnx {onnx.__version__}: Y_h {got} follows sequence_lens")
sys.exit(1)

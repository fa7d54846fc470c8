"""Finding 20: a bfloat16 SimpleRNN exported to ONNX does not load in onnxruntime.

Expected: the exported model loads, as a float16 one does. Actual: InvalidGraph, tensor(bfloat16)
is no valid type for the Loop operator's carried state.
Exit 0 while the deviation is present.
"""
import os
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "tensorflow"
import keras  # noqa: E402
import onnxruntime as ort  # noqa: E402

inputs = keras.Input(shape=(5, 4))
model = keras.Model(inputs, keras.layers.SimpleRNN(3, dtype="bfloat16", recurrent_initializer="glorot_uniform")(inputs))
model(keras.ops.zeros((2, 5, 4)))
scratch = tempfile.TemporaryDirectory()  # the artifact's folder, removed when the script ends
path = os.path.join(scratch.name, "model.onnx")
model.export(path, format="onnx", verbose=False)
try:
    ort.InferenceSession(path)
except Exception as exc:  # noqa: BLE001 - onnxruntime's InvalidGraph
    if "bfloat16" in str(exc):
        print(f"REPRODUCES on onnxruntime {ort.__version__}: {type(exc).__name__}: tensor(bfloat16) refused")
        sys.exit(0)
    print(f"DIFFERENT: {type(exc).__name__}: {str(exc)[:200]}")
    sys.exit(1)
print(f"FIXED on onnxruntime {ort.__version__}: the bfloat16 SimpleRNN loads")
sys.exit(1)

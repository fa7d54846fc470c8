"""Finding 21: a SimpleRNN exported to ONNX lets a NaN at a masked step reach the output.

Expected: as Keras, a masked step keeps the previous output and state (finite here). Actual in
onnxruntime: tf2onnx writes the selection as arithmetic on the mask, so NaN * 0 is NaN.
Exit 0 while the deviation is present.
"""
import os
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "tensorflow"
import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

x = np.array([[[0.1, 0.2], [np.nan, np.nan], [0.5, -0.4]]], np.float32)
mask = np.array([[True, False, True]])
inputs, m = keras.Input(shape=(3, 2)), keras.Input(shape=(3,), dtype="bool")
model = keras.Model([inputs, m], keras.layers.SimpleRNN(2, return_sequences=True)(inputs, mask=m))
expected = keras.ops.convert_to_numpy(model([x, mask]))  # Keras: finite, step 2 repeats step 1
scratch = tempfile.TemporaryDirectory()  # the artifact's folder, removed when the script ends
path = os.path.join(scratch.name, "model.onnx")
model.export(path, format="onnx", verbose=False)
session = ort.InferenceSession(path)
out = session.run(None, dict(zip([i.name for i in session.get_inputs()], [x, mask])))[0]
if np.isnan(out).any() and not np.isnan(expected).any():
    print(f"REPRODUCES on onnxruntime {ort.__version__}: NaN in the output after the masked step")
    sys.exit(0)
print(f"FIXED on onnxruntime {ort.__version__}: the masked NaN is ignored")
sys.exit(1)

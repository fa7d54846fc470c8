"""Finding 17: export(format="openvino") from the TensorFlow backend cannot convert SimpleRNN.

Expected: the model exports, as from torch or Keras's OpenVINO backend. Actual:
OpConversionFailure, no conversion rule for the TensorList ops of tf.while_loop.
Exit 0 while the deviation is present.
"""
import os
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "tensorflow"
import keras  # noqa: E402

inputs = keras.Input(shape=(5, 4))
model = keras.Model(inputs, keras.layers.SimpleRNN(3)(inputs))
scratch = tempfile.TemporaryDirectory()  # the artifact's folder, removed when the script ends
try:
    model.export(os.path.join(scratch.name, "model.xml"), format="openvino", verbose=False)
except Exception as exc:  # noqa: BLE001 - OpenVINO's OpConversionFailure
    if "TensorList" in str(exc) or "Conversion" in type(exc).__name__:
        print(f"REPRODUCES on keras {keras.__version__} (tensorflow): {type(exc).__name__} (TensorList ops)")
        sys.exit(0)
    print(f"DIFFERENT on keras {keras.__version__}: {type(exc).__name__}: {str(exc)[:200]}")
    sys.exit(1)
print(f"FIXED on keras {keras.__version__} (tensorflow): the SimpleRNN model exports to OpenVINO")
sys.exit(1)

"""Finding 19: export(format="litert") of a SimpleRNN needs TensorFlow ops the LiteRT interpreter lacks.

Expected: the exported model runs in ai_edge_litert's Interpreter. Actual (unroll=False):
RuntimeError, Select TensorFlow op(s) (FlexTensorListReserve) not supported by this interpreter.
Exit 0 while the deviation is present.
"""
import os
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "tensorflow"
import keras  # noqa: E402
import numpy as np  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

inputs = keras.Input(shape=(5, 4), name="inputs")
model = keras.Model(inputs, keras.layers.SimpleRNN(3)(inputs))
scratch = tempfile.TemporaryDirectory()  # the artifact's folder, removed when the script ends
path = os.path.join(scratch.name, "model.tflite")
model.export(path, format="litert", verbose=False)
try:
    Interpreter(model_path=path).get_signature_runner()(inputs=np.zeros((2, 5, 4), np.float32))
except RuntimeError as exc:
    if "Flex" in str(exc) or "Select TensorFlow" in str(exc):
        print(f"REPRODUCES on keras {keras.__version__}: the LiteRT interpreter lacks the Flex (TensorList) ops")
        sys.exit(0)
    print(f"DIFFERENT: RuntimeError: {str(exc)[:200]}")
    sys.exit(1)
print(f"FIXED on keras {keras.__version__}: the exported SimpleRNN runs in the LiteRT interpreter")
sys.exit(1)

"""Finding 18: Keras's OpenVINO exporter cannot export a model with several inputs given as a list.

Expected: a functional model with two inputs (sequence and mask) exports. Actual: ValueError
("expects 2 named input(s) ... received 1 input tensors"): the exporter spreads the list over
Functional.call. A dict input_signature by input name works.
Exit 0 while the deviation is present.
"""
import os
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "openvino"
import keras  # noqa: E402

x, mask = keras.Input(shape=(5, 4), name="x"), keras.Input(shape=(5,), dtype="bool", name="mask")
model = keras.Model([x, mask], keras.layers.SimpleRNN(3)(x, mask=mask))
scratch = tempfile.TemporaryDirectory()  # the artifact's folder, removed when the script ends
path = os.path.join(scratch.name, "model.xml")
try:
    model.export(path, format="openvino", verbose=False)
except ValueError as exc:
    print(f"REPRODUCES on keras {keras.__version__} (openvino): ValueError: {str(exc).splitlines()[0][:120]}")
    sys.exit(0)
print(f"FIXED on keras {keras.__version__} (openvino): a model with two list inputs exports")
sys.exit(1)

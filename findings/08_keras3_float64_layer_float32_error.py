"""Finding 8: Keras 3 on torch and NumPy: a float64 SimpleRNN computes with float32-sized errors.

Expected: a float64 layer with float64 weights and inputs follows the float64 recurrence (TF and
tf_keras: ~3e-16). Actual on torch and NumPy: errors of 1e-7..1e-6, the size of float32 rounding.
Exit 0 while the deviation is present. Run with KERAS_BACKEND=torch or numpy.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import numpy as np  # noqa: E402

rng = np.random.default_rng(0)
x = rng.uniform(-3, 3, (3, 7, 5))
k, u, b = rng.normal(size=(5, 4)), rng.normal(size=(4, 4)) * 0.7, rng.normal(size=4)
layer = keras.layers.SimpleRNN(4, dtype="float64")
layer.build((3, 7, 5))
layer.set_weights([k, u, b])
h = np.zeros((3, 4))
for t in range(7):
    h = np.tanh(x[:, t] @ k + h @ u + b)
error = float(np.abs(keras.ops.convert_to_numpy(layer(x)) - h).max())
where = f"keras {keras.__version__} ({keras.backend.backend()})"
if error > 1e-10:
    print(f"REPRODUCES on {where}: float64 layer off the float64 recurrence by {error:.2g}")
    sys.exit(0)
print(f"FIXED on {where}: float64 layer within {error:.2g} of the float64 recurrence")
sys.exit(1)

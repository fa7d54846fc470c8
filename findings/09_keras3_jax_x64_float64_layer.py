"""Finding 9: Keras 3 on JAX with x64 enabled cannot run a float64 SimpleRNN.

Expected: SimpleRNN(units, dtype="float64") runs. Actual with JAX_ENABLE_X64=1: TypeError from
lax.scan (the carry comes back float32), because keras.ops.tanh returns float32 for a float64 input.
Exit 0 while the deviation is present.
"""
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
os.environ["JAX_ENABLE_X64"] = "1"
import keras  # noqa: E402
import numpy as np  # noqa: E402

tanh_dtype = keras.ops.tanh(np.ones((2, 4))).dtype
try:
    keras.layers.SimpleRNN(4, dtype="float64")(np.ones((2, 5, 3)))
except TypeError as exc:
    print(f"REPRODUCES on keras {keras.__version__} (jax, x64): ops.tanh(float64) is {tanh_dtype}; "
          f"TypeError: {str(exc).splitlines()[0][:100]}")
    sys.exit(0)
print(f"FIXED on keras {keras.__version__} (jax, x64): a float64 SimpleRNN runs (ops.tanh gives {tanh_dtype})")
sys.exit(1)

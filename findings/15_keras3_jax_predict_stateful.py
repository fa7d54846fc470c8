"""Finding 15: Keras 3 on JAX: predict() does not carry a stateful layer's state.

Expected: after predict(), a stateful layer's state is the last state, as eagerly and under
predict() on TensorFlow, torch and NumPy. Actual on JAX: the state variable stays zeros.
Exit 0 while the deviation is present.
"""
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
import keras  # noqa: E402
import numpy as np  # noqa: E402

x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
layer = keras.layers.SimpleRNN(3, stateful=True)
inputs = keras.Input(batch_shape=(2, 3, 4))
model = keras.Model(inputs, layer(inputs))
first = model.predict(x, batch_size=2, verbose=0)
state = keras.ops.convert_to_numpy(layer.states[0])
if np.abs(state).max() == 0 and np.abs(first).max() > 0:
    print(f"REPRODUCES on keras {keras.__version__} (jax): the state after predict() is zeros")
    sys.exit(0)
print(f"FIXED on keras {keras.__version__} (jax): predict() keeps the state ({np.abs(state - first).max():.2g} from the output)")
sys.exit(1)

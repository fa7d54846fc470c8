"""Finding 2: Keras 3 on torch crashes with unroll=True, go_backwards=True and any mask.

Expected (keras3 page): the arguments are independent; a mask of shape (batch, timesteps) is
accepted. Actual: AttributeError from keras/src/backend/torch/rnn.py (torch.flip on a tuple).
Exit 0 while the deviation is present.
"""
import os
import sys

os.environ["KERAS_BACKEND"] = "torch"
import keras  # noqa: E402
import numpy as np  # noqa: E402

layer = keras.layers.SimpleRNN(4, unroll=True, go_backwards=True)
try:
    layer(np.ones((3, 7, 5), "float32"), mask=np.ones((3, 7), bool))
except AttributeError as exc:
    print(f"REPRODUCES on keras {keras.__version__} (torch): AttributeError: {str(exc).splitlines()[0][:120]}")
    sys.exit(0)
print(f"FIXED on keras {keras.__version__} (torch): the masked backward unrolled call runs")
sys.exit(1)

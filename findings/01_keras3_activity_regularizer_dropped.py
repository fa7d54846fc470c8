"""Finding 1: Keras 3's SimpleRNN drops `activity_regularizer` (every backend).

Expected (keras3 page): "activity_regularizer: Regularizer function applied to the output of the
layer". Actual: the layer keeps None, its config says None, no activity loss is added.
Exit 0 while the deviation is present. Run: KERAS_BACKEND=numpy python findings/01_*.py
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "numpy")
import keras  # noqa: E402
import numpy as np  # noqa: E402

layer = keras.layers.SimpleRNN(4, activity_regularizer=keras.regularizers.L2(0.05))
layer(np.ones((3, 7, 5), "float32"))
seen = (layer.activity_regularizer, layer.get_config()["activity_regularizer"], len(layer.losses))
where = f"keras {keras.__version__} ({keras.backend.backend()})"
if seen == (None, None, 0):
    print(f"REPRODUCES on {where}: activity_regularizer None, config None, no activity loss")
    sys.exit(0)
print(f"FIXED on {where}: activity_regularizer {seen[0]!r}, config {seen[1]!r}, {seen[2]} losses")
sys.exit(1)

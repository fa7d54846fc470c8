"""Finding 3: tf_keras accepts an unknown regularizer name at construction.

Expected (keras2 page): "kernel_regularizer: Regularizer function applied to the kernel weights
matrix": a name that is no regularizer is refused, as Keras 3 does (ValueError at construction).
Actual: the string is stored as the regularizer; the layer builds and runs, and reading
`layer.losses` raises TypeError: 'str' object is not callable.
Exit 0 while the deviation is present.
"""
import sys

import numpy as np
import tf_keras

try:
    layer = tf_keras.layers.SimpleRNN(4, kernel_regularizer="no_such_regularizer")
except ValueError as exc:
    print(f"FIXED on tf_keras {tf_keras.__version__}: refused at construction ({exc})")
    sys.exit(1)
layer(np.zeros((2, 3, 5), "float32"))
try:
    layer.losses
except TypeError as exc:
    print(f"REPRODUCES on tf_keras {tf_keras.__version__}: constructed and called; `losses` raised TypeError: {exc}")
    sys.exit(0)
print(f"DIFFERENT on tf_keras {tf_keras.__version__}: constructed, called and its losses read without an error")
sys.exit(1)

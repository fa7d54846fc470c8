"""Finding 4: tf_keras accepts units=2.5.

Expected (keras2 page): "units: Positive integer, dimensionality of the output space." Keras 3
raises ValueError at construction. Actual: tf_keras constructs the layer, its config says 2.5.
Exit 0 while the deviation is present.
"""
import sys

import tf_keras

try:
    layer = tf_keras.layers.SimpleRNN(2.5)
except (ValueError, TypeError) as exc:
    print(f"FIXED on tf_keras {tf_keras.__version__}: units=2.5 refused ({type(exc).__name__})")
    sys.exit(1)
print(f"REPRODUCES on tf_keras {tf_keras.__version__}: constructed, config units = {layer.get_config()['units']!r}")
sys.exit(0)

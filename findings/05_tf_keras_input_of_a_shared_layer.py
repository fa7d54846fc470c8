"""Finding 5: tf_keras returns the first connection's `input` of a layer connected twice.

Expected (keras2 page, `input`): "Only applicable if the layer has exactly one input ...
AttributeError: if the layer is connected to more than one incoming layers." Actual: the first
connection's tensor, no AttributeError (likewise output, input_mask, output_mask).
Exit 0 while the deviation is present.
"""
import sys

import tf_keras

layer = tf_keras.layers.SimpleRNN(3)
layer(tf_keras.Input(batch_shape=(2, 5, 4)))
layer(tf_keras.Input(batch_shape=(2, 5, 4)))
try:
    value = layer.input
except AttributeError:
    print(f"FIXED on tf_keras {tf_keras.__version__}: `input` of a layer connected twice raises AttributeError")
    sys.exit(1)
print(f"REPRODUCES on tf_keras {tf_keras.__version__}: `input` of a layer connected twice is {type(value).__name__}")
sys.exit(0)

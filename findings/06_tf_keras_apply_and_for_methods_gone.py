"""Finding 6: tf_keras has no `apply`, `get_losses_for` or `get_updates_for`.

Expected (keras2 page): `apply(inputs)` "simply wraps self.__call__"; `get_losses_for(inputs)`,
`get_updates_for(inputs)`. Actual: AttributeError for each.
Exit 0 while the deviation is present.
"""
import sys

import tf_keras

layer = tf_keras.layers.SimpleRNN(3)
missing = [name for name in ("apply", "get_losses_for", "get_updates_for") if not hasattr(layer, name)]
if missing:
    print(f"REPRODUCES on tf_keras {tf_keras.__version__}: no {', '.join(missing)}")
    sys.exit(0)
print(f"FIXED on tf_keras {tf_keras.__version__}: apply, get_losses_for and get_updates_for exist")
sys.exit(1)

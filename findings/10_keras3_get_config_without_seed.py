"""Finding 10: Keras 3's SimpleRNN.get_config() leaves out `seed` (keras-team/keras#23657).

Expected (keras3 page): `seed` is a constructor argument, and get_config returns what rebuilds the
layer. Actual: every other argument is in the config, `seed` is not, so from_config loses it.
Exit 0 while the deviation is present.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "numpy")
import keras  # noqa: E402

config = keras.layers.SimpleRNN(4, dropout=0.5, seed=3).get_config()
if "seed" not in config:
    print(f"REPRODUCES on keras {keras.__version__}: get_config has no `seed` ({len(config)} keys)")
    sys.exit(0)
print(f"FIXED on keras {keras.__version__}: get_config carries seed={config['seed']!r}")
sys.exit(1)

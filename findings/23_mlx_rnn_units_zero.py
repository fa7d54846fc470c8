"""Finding 23: MLX's nn.RNN raises ZeroDivisionError for hidden_size 0.

Expected (as Keras for units=0): a ValueError naming the argument. Actual: ZeroDivisionError
from the default initializer's 1/sqrt(hidden_size).
Exit 0 while the deviation is present.
"""
import sys

import mlx.core as mx
import mlx.nn as nn

try:
    nn.RNN(4, 0)
except ZeroDivisionError:
    print(f"REPRODUCES on mlx {mx.__version__}: nn.RNN(4, 0) raises ZeroDivisionError")
    sys.exit(0)
except ValueError as exc:
    print(f"FIXED on mlx {mx.__version__}: ValueError: {exc}")
    sys.exit(1)
print(f"DIFFERENT on mlx {mx.__version__}: nn.RNN(4, 0) is accepted")
sys.exit(1)

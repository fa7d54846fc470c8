"""Finding 24: Keras 3 on torch: `jit_compile=True` runs eagerly after about eight models.

Expected: every model compiled with `jit_compile=True` runs through `torch.compile`, as the
first one does. Actual: Dynamo recompiles Keras's one `forward` (keras/src/backend/torch/layer.py)
for each new layer, and after `torch._dynamo.config.recompile_limit` (8) recompilations it
runs that code eagerly for the rest of the process, with a warning only.
Exit 0 while the deviation is present.
"""
import os
import sys

os.environ["KERAS_BACKEND"] = "torch"
import keras  # noqa: E402
import numpy as np  # noqa: E402
from torch._dynamo.utils import counters  # noqa: E402

x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
graphs = []
for units in range(2, 12):  # ten models, each with a SimpleRNN of its own
    inputs = keras.Input(batch_shape=x.shape)
    model = keras.Model(inputs, keras.layers.SimpleRNN(units)(inputs))
    model.compile(jit_compile=True)
    model.predict(x, batch_size=2, verbose=0)
    graphs.append(counters["stats"]["unique_graphs"])
new = [b - a for a, b in zip(graphs, graphs[1:])]  # graphs Dynamo compiled for models 2 to 10
if new[0] > 0 and new[-1] == 0:
    first = new.index(0) + 2
    print(f"REPRODUCES on keras {keras.__version__} (torch): graphs compiled for models 2 to 10: {new}; "
          f"none from model {first} on (recompile_limit)")
    sys.exit(0)
print(f"FIXED on keras {keras.__version__} (torch): graphs compiled per new model {new}")
sys.exit(1)

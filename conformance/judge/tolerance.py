"""The tolerance policy: how close a target's numbers must be to the reference's.

A value passes when |actual - expected| <= atol + rtol * |expected|, elementwise,
with (rtol, atol) chosen by the dtype the layer computes in (the expected
dtype), then widened for long sequences.

Why these numbers:
- The reference computes in float64 from the very inputs and weights the
  target gets (already rounded to the case's dtype), so the only difference
  left is the target's own rounding in matmul, bias add and activation.
- float32: one step rounds at ~6e-8 relative; ten steps of a contractive
  recurrence stay well under 1e-6. 2e-5 leaves room for fused or reordered
  sums on every Keras backend, yet a float16 intermediate (~5e-4 relative)
  fails by a factor of 25.
- float16 / bfloat16: a step rounds at ~5e-4 / ~4e-3; outputs of tanh are in
  [-1, 1], so absolute bounds of 1e-2 / 6e-2 hold for short sequences.
- float64: 1e-9 admits only reordered sums.
- Long sequences: rounding errors add up along time, roughly with the square
  root of the number of steps for a contractive recurrence, linearly in the
  worst case; bounds grow by max(1, timesteps / 20) (linear, conservative).

A case may override the policy only with a stated `reason:` (see the case
schema); the report shows the tolerance each case used.
"""

BASE = {
    "float64": {"rtol": 1e-9, "atol": 1e-9},
    "float32": {"rtol": 2e-5, "atol": 2e-5},
    "float16": {"rtol": 1e-2, "atol": 1e-2},
    "bfloat16": {"rtol": 6e-2, "atol": 6e-2},
}
REFERENCE_STEPS = 20


def tolerance(dtype, timesteps=1, override=None):
    """(rtol, atol) for values computed in `dtype` over `timesteps` steps."""
    base = dict(BASE.get(dtype, BASE["float32"]))
    if override and dtype in override:
        base.update(override[dtype])
        return base["rtol"], base["atol"]
    growth = max(1.0, timesteps / REFERENCE_STEPS)
    return base["rtol"] * growth, base["atol"] * growth

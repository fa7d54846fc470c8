"""Property checks: what a case asserts where values cannot come from the reference.

Random results (dropout masks, random initializers) differ between
implementations in value but must share properties. A step names a check in
`expect: {checks: [{check: NAME, ...params}]}`; each check returns None when
the property holds, else a one-line reason.
"""

import numpy as np

from .arrays import Observed

CHECKS = {}


def check(fn):
    CHECKS[fn.__name__] = fn
    return fn


def run(spec, value, step, case):
    name = spec["check"]
    if name not in CHECKS:
        return f"unknown check {name!r} (known: {', '.join(sorted(CHECKS))})"
    params = {k: v for k, v in spec.items() if k != "check"}
    return CHECKS[name](value, **params)


def _array(value, output):
    if isinstance(value, list):
        value = value[output]
    if not isinstance(value, Observed):
        raise TypeError(f"expected an array, got {type(value).__name__}")
    return value.array.astype(np.float64)


@check
def finite(value, output=0):
    """Every value is finite."""
    a = _array(value, output)
    return None if np.isfinite(a).all() else f"{int((~np.isfinite(a)).sum())} values are not finite"


@check
def values_in(value, values, output=0, atol=1e-5):
    """Every value is close to one of `values` (e.g. 0 and 1/(1-rate) for a dropout mask)."""
    a = _array(value, output)
    near = np.zeros(a.shape, dtype=bool)
    for v in values:
        near |= np.abs(a - v) <= atol * max(1.0, abs(v))
    if near.all():
        return None
    first = a[~near].ravel()[:3]
    return f"{int((~near).sum())} values are none of {values}, e.g. {[round(float(x), 6) for x in first]}"


@check
def zero_pattern_constant_over_time(value, output=0):
    """Which units are zero is the same at every timestep (one dropout mask per call)."""
    a = _array(value, output)
    zeros = np.isclose(a, 0.0)
    if (zeros == zeros[:, :1, :]).all():
        return None
    return "the zero pattern changes along time: a new dropout mask was drawn within one call"


@check
def fraction_zero_between(value, low, high, output=0):
    """The share of exact zeros lies in [low, high] (a dropout rate, statistically)."""
    a = _array(value, output)
    share = float(np.isclose(a, 0.0).mean())
    return None if low <= share <= high else f"{share:.3f} of values are zero, expected between {low} and {high}"

"""Property checks: what a case asserts where values cannot come from the reference.

Random results (dropout masks, random initializers) differ between
implementations in value but must share properties. A step names a check in
`expect: {checks: [{check: NAME, ...params}]}`; each check returns None when
the property holds, else a one-line reason.

A check must not raise false alarms: tests/test_checks.py shows that each one
accepts samples of the right distribution and rejects wrong ones, and measures,
for every check step of the catalog, how often the reference itself fails it
when its random draws come from other streams (docs/tolerances.md gives the
rates: none seen). The structural checks (values_in, zero patterns, powers,
bounds, orthogonality, constants) hold exactly for a correct implementation;
the statistical ones (fraction_*_between, moments, variance_scaling) are used
with bounds many standard deviations wide on large samples.
"""

import numpy as np

from conformance.arrays import Observed

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


# --------------------------------------------------------------------------- dropout structure

@check
def recurrent_dropout_powers(value, rate, output=0, atol=1e-4):
    """Recurrent dropout seen through h_t = h_{t-1} * m (ones initial state, zero kernel, identity
    recurrent kernel, linear activation, no bias): every (sample, unit) column of the sequence is
    either zero at every step or (1/(1-rate))**(t+1) at step t, i.e. one mask per call, reused at
    every timestep and scaled by 1/(1-rate)."""
    a = _array(value, output)
    if a.ndim != 3:
        return f"expected a (batch, timesteps, units) sequence, got shape {list(a.shape)}"
    scale = 1.0 / (1.0 - rate)
    powers = scale ** np.arange(1, a.shape[1] + 1)[None, :, None]
    kept = np.isclose(a, powers, rtol=atol, atol=atol).all(axis=1)
    dropped = np.isclose(a, 0.0, atol=atol).all(axis=1)
    bad = ~(kept | dropped)
    if bad.any():
        b, u = (int(i) for i in np.argwhere(bad)[0])
        return (f"{int(bad.sum())} (sample, unit) columns are neither all zero nor {scale:g}**(t+1), "
                f"e.g. sample {b} unit {u}: {[round(float(x), 5) for x in a[b, :, u][:6]]}")
    return None


@check
def fraction_kept_between(value, low, high, output=0):
    """The share of non-zero values lies in [low, high] (1 - the dropout rate, statistically)."""
    a = _array(value, output)
    share = float((~np.isclose(a, 0.0)).mean())
    return None if low <= share <= high else f"{share:.3f} of values are kept, expected between {low} and {high}"


# --------------------------------------------------------------------------- initializer statistics

@check
def within_bounds(value, low, high, output=0, atol=1e-6):
    """Every value lies in [low, high] (up to atol, for bounds rounded to float32)."""
    a = _array(value, output)
    if a.size and (a.min() < low - atol or a.max() > high + atol):
        return f"values span [{a.min():.4g}, {a.max():.4g}], outside [{low}, {high}]"
    return None


@check
def moments(value, mean, std, mean_atol, std_rtol, output=0):
    """The sample mean is within mean_atol of `mean` and the sample standard deviation within
    std_rtol (relative) of `std`."""
    a = _array(value, output)
    m, s = float(a.mean()), float(a.std())
    problems = []
    if abs(m - mean) > mean_atol:
        problems.append(f"mean {m:.4g}, expected {mean} +- {mean_atol}")
    if abs(s - std) > std_rtol * std:
        problems.append(f"std {s:.4g}, expected {std} within {std_rtol:.0%}")
    return "; ".join(problems) or None


def _fans(a):
    if a.ndim == 1:
        return a.shape[0], a.shape[0]
    return a.shape[0], a.shape[1]


@check
def variance_scaling(value, scale, mode, distribution, output=0, std_rtol=0.1, mean_standard_errors=6):
    """A weight drawn as Keras's VarianceScaling family (Glorot, He, LeCun): variance
    scale / n with n = fan_in, fan_out or their mean, read from the weight's own shape;
    uniform draws lie within sqrt(3 * variance), truncated normal ones within 2 stddev; the
    mean within `mean_standard_errors` standard errors of zero."""
    a = _array(value, output)
    fan_in, fan_out = _fans(a)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    variance = scale / max(1.0, n)
    std = variance ** 0.5
    problems = []
    if distribution == "uniform":
        limit = (3.0 * variance) ** 0.5
        if np.abs(a).max() > limit * (1 + 1e-6):
            problems.append(f"max |w| {np.abs(a).max():.4g} exceeds the uniform limit {limit:.4g}")
    elif distribution == "truncated_normal":
        bound = 2.0 * std / 0.87962566103423978
        if np.abs(a).max() > bound * (1 + 1e-6):
            problems.append(f"max |w| {np.abs(a).max():.4g} exceeds the truncation bound {bound:.4g}")
    got = float(a.std())
    if abs(got - std) > std_rtol * std:
        problems.append(f"std {got:.4g}, expected {std:.4g} within {std_rtol:.0%} ({mode}, scale {scale})")
    # The mean of n draws has standard error std / sqrt(n). Six of them: a false alarm once in
    # 5e8 draws of a correct initializer (four gave one in 16,000), while a real bug (a one-sided
    # or shifted draw) moves the mean by a sizeable fraction of std, hundreds of standard errors.
    if abs(float(a.mean())) > mean_standard_errors * std / (a.size ** 0.5) + 1e-12:
        problems.append(f"mean {float(a.mean()):.4g} is not near 0")
    return "; ".join(problems) or None


@check
def orthogonal(value, gain=1.0, output=0, atol=1e-4):
    """The weight is `gain` times a matrix with orthonormal rows or columns (whichever are
    fewer): W^T W = gain^2 I (or W W^T for a wide matrix)."""
    a = _array(value, output)
    if a.ndim != 2:
        return f"expected a matrix, got shape {list(a.shape)}"
    gram = a.T @ a if a.shape[0] >= a.shape[1] else a @ a.T
    err = float(np.abs(gram - gain ** 2 * np.eye(gram.shape[0])).max())
    return None if err <= atol * max(1.0, gain ** 2) else f"W^T W differs from {gain}^2 I by up to {err:.3g}"


@check
def constant(value, fill, output=0, atol=1e-6):
    """Every value equals `fill` (e.g. a zeros or ones initializer)."""
    a = _array(value, output)
    err = float(np.abs(a - fill).max()) if a.size else 0.0
    return None if err <= atol * max(1.0, abs(fill)) else f"values differ from {fill} by up to {err:.3g}"


@check
def not_all_equal(value, output=0):
    """The values are not all the same (a random draw, not a constant)."""
    a = _array(value, output)
    return None if a.size < 2 or float(a.max() - a.min()) > 0 else "every value is the same"

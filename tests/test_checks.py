"""The property checks (conformance/judge/checks.py) tested: each accepts samples of the right
distribution and rejects wrong ones, and none raises false alarms as the catalog uses it.

Random results (dropout masks, random initializers) cannot be compared with the reference value by
value, only by their properties. A check that a correct implementation fails now and then (another
random stream, another seed) would make a fixed-seed case flake on the next backend or release.
`false_alarm_rates` measures, for every check step of the catalog, how often the reference itself
fails it when its random draws come from another stream: over SEEDS streams here, over 2,000 for
docs/tolerances.md (`python tests/test_checks.py 2000`). Every rate must be zero.
"""

import sys

import numpy as np
import pytest

from conformance.arrays import Observed
from conformance.catalog.cases import load_cases
from conformance.judge import checks
from conformance.targets.reference import ReferenceAdapter
from conformance.targets.steps import run_steps
from reference_impl import SimpleRNN

SEEDS = 60


def obs(a, dtype="float32"):
    return Observed(np.asarray(a, dtype=np.float64), dtype)


def run(name, value, **params):
    return checks.run({"check": name, **params}, value, None, None)


# --------------------------------------------------------------------------- accepts / rejects

def _dropout_sequence(rng, rate, shape=(3, 7, 4), per_step=False):
    """What inverted dropout on ones gives: a (sample, unit) mask, reused at every step unless per_step."""
    mask_shape = shape if per_step else (shape[0], 1, shape[2])
    keep = rng.random(mask_shape) >= rate
    return np.broadcast_to(keep / (1.0 - rate), shape)


def test_finite():
    assert run("finite", obs(np.ones((2, 3)))) is None
    assert "not finite" in run("finite", obs([[1.0, np.nan], [np.inf, 0.0]]))


def test_values_in():
    rng = np.random.default_rng(1)
    assert run("values_in", obs(_dropout_sequence(rng, 0.5)), values=[0, 2.0]) is None
    assert run("values_in", obs(_dropout_sequence(rng, 0.5) * 0.5), values=[0, 2.0])  # not rescaled
    assert run("values_in", obs([[0.0, 2.0000001]]), values=[0, 2.0]) is None        # float32 rounding


def test_zero_pattern_constant_over_time():
    rng = np.random.default_rng(2)
    assert run("zero_pattern_constant_over_time", obs(_dropout_sequence(rng, 0.5))) is None
    assert run("zero_pattern_constant_over_time", obs(_dropout_sequence(rng, 0.5, per_step=True)))


def test_fraction_zero_and_kept_between():
    rng = np.random.default_rng(3)
    right = obs(_dropout_sequence(rng, 0.5, shape=(64, 7, 16)))
    assert run("fraction_zero_between", right, low=0.4, high=0.6) is None
    assert run("fraction_kept_between", right, low=0.4, high=0.6) is None
    wrong = obs(_dropout_sequence(rng, 0.2, shape=(64, 7, 16)))  # the other rate
    assert run("fraction_zero_between", wrong, low=0.4, high=0.6)
    assert run("fraction_kept_between", obs(np.ones((4, 4))), low=0.4, high=0.6)


def test_recurrent_dropout_powers():
    rng = np.random.default_rng(4)
    rate, t = 0.5, np.arange(1, 8)[None, :, None]
    keep = (rng.random((3, 1, 4)) >= rate).astype(float)
    right = keep * (1 / (1 - rate)) ** t
    assert run("recurrent_dropout_powers", obs(right), rate=rate) is None
    assert run("recurrent_dropout_powers", obs(keep * np.ones_like(right)), rate=rate)         # not rescaled
    per_step = np.cumprod((rng.random((3, 7, 4)) >= rate) * 2.0, axis=1)
    assert run("recurrent_dropout_powers", obs(per_step), rate=rate)                            # a mask per step
    assert "expected a (batch" in run("recurrent_dropout_powers", obs(np.ones((3, 4))), rate=rate)


def test_within_bounds_and_constant_and_not_all_equal():
    assert run("within_bounds", obs(np.linspace(-1, 1, 9)), low=-1, high=1) is None
    assert run("within_bounds", obs([0.0, 1.01]), low=-1, high=1)
    assert run("constant", obs(np.zeros(4)), fill=0.0) is None
    assert run("constant", obs([0.0, 0.1]), fill=0.0)
    assert run("not_all_equal", obs([1.0, 2.0])) is None
    assert run("not_all_equal", obs([3.0, 3.0]))


def test_moments():
    rng = np.random.default_rng(5)
    sample = obs(rng.normal(0.5, 0.2, (200, 100)))
    assert run("moments", sample, mean=0.5, std=0.2, mean_atol=0.01, std_rtol=0.05) is None
    assert run("moments", sample, mean=0.6, std=0.2, mean_atol=0.01, std_rtol=0.05)
    assert run("moments", sample, mean=0.5, std=0.25, mean_atol=0.01, std_rtol=0.05)


@pytest.mark.parametrize("distribution", ["uniform", "truncated_normal", "untruncated_normal"])
def test_variance_scaling(distribution):
    rng = np.random.default_rng(6)
    fan_in, fan_out = 200, 100
    std = (1.0 / ((fan_in + fan_out) / 2)) ** 0.5
    if distribution == "uniform":
        right = rng.uniform(-std * 3 ** 0.5, std * 3 ** 0.5, (fan_in, fan_out))
    else:
        draw = rng.standard_normal((fan_in * 3, fan_out))
        if distribution == "truncated_normal":
            draw = draw[np.abs(draw) <= 2.0] / 0.87962566103423978
        right = (std * draw.ravel()[: fan_in * fan_out]).reshape(fan_in, fan_out)
    params = {"scale": 1.0, "mode": "fan_avg", "distribution": distribution}
    assert run("variance_scaling", obs(right), **params) is None
    assert run("variance_scaling", obs(right * 2 ** 0.5), **params)           # He's scale 2 for Glorot's 1
    assert run("variance_scaling", obs(right), **{**params, "mode": "fan_out"})  # the other fan
    assert run("variance_scaling", obs(right + 0.01), **params)               # not centred
    if distribution != "untruncated_normal":                                   # a draw past its bound
        past = right.copy()
        past[0, 0] = 3.5 * std
        assert "exceeds" in run("variance_scaling", obs(past), **params)


def test_orthogonal():
    q, _ = np.linalg.qr(np.random.default_rng(7).standard_normal((40, 10)))
    assert run("orthogonal", obs(q)) is None
    assert run("orthogonal", obs(q.T)) is None           # a wide matrix: orthonormal rows
    assert run("orthogonal", obs(2.0 * q), gain=2.0) is None
    assert run("orthogonal", obs(2.0 * q))               # the gain forgotten
    assert run("orthogonal", obs(q + 1e-3))
    assert "expected a matrix" in run("orthogonal", obs(np.ones(3)))


def test_an_unknown_check_is_a_reason_not_a_crash():
    assert "unknown check" in run("no_such_check", obs([1.0]))


# --------------------------------------------------------------------------- false alarms as the catalog uses them

def _checked_cases():
    return [c for c in load_cases() if any(step.get("expect") and (step["expect"].get("checks") or any(
        o.get("checks") for o in step["expect"].get("any_of", []))) for step in c.concrete()["steps"])]


def _with_stream(seed):
    """The reference with its random draws (dropout masks, initializers) from stream `seed`."""
    rng = np.random.default_rng(seed)

    class Drawn(SimpleRNN):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._rng = rng

        @staticmethod
        def _init(initializer, shape):
            return np.asarray(initializer(shape, rng), dtype=np.float64)

    return Drawn


def false_alarm_rates(seeds):
    """{(case id, step, check name): share of `seeds` random streams on which the reference fails it}."""
    cases = _checked_cases()
    alarms = {}
    for seed in range(seeds):
        layer_class = _with_stream(1000 + seed)
        for case in cases:
            concrete = case.concrete()
            with np.errstate(all="ignore"):
                observations = run_steps(ReferenceAdapter(layer_class), concrete)
            for index, step in enumerate(concrete["steps"]):
                expect = step.get("expect") or {}
                specs = expect.get("checks") or []
                for spec in specs:
                    key = (case.id, index, spec["check"])
                    alarms.setdefault(key, 0)
                    value = observations[index].get("ok")
                    if value is None or checks.run(spec, value, step, concrete) is not None:
                        alarms[key] += 1
    return {key: count / seeds for key, count in alarms.items()}


def test_the_false_alarm_measurement_reaches_the_catalog_checks():
    """Every check the catalog names is a known one, and all but fraction_kept_between (kept for
    outside case files) are measured below."""
    used = {spec["check"] for case in _checked_cases() for step in case.concrete()["steps"]
            for spec in (step.get("expect") or {}).get("checks", [])}
    assert used <= set(checks.CHECKS)
    assert set(checks.CHECKS) - used <= {"fraction_kept_between"}


@pytest.mark.slow
def test_no_check_of_the_catalog_raises_false_alarms():
    rates = false_alarm_rates(SEEDS)
    assert len(rates) > 30
    assert {key: rate for key, rate in rates.items() if rate > 0} == {}


if __name__ == "__main__":  # the measurement behind docs/tolerances.md
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rates = false_alarm_rates(n)
    by_check = {}
    for (case_id, _, name), rate in rates.items():
        by_check.setdefault(name, []).append(rate)
    for name, values in sorted(by_check.items()):
        print(f"{name}: {len(values)} uses, worst false-alarm rate {max(values):.4f} over {n} streams")

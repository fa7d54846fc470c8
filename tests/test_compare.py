"""compare.judge on hand-made observations: every kind of verdict, and the tolerance policy."""

import numpy as np
import pytest

from conformance.judge import tolerance
from conformance.arrays import Observed
from conformance.judge.compare import judge

T = 5  # timesteps of the call step (under tolerance.REFERENCE_STEPS: no widening)


def make_case(expect=None, op="call", timesteps=T, more_steps=()):
    steps = [{"op": "create", "args": {"layer": {"units": 2}}, "expect": None}]
    args = {"inputs": np.zeros((1, timesteps, 3), np.float32)} if op == "call" else {}
    steps.append({"op": op, "args": args, "expect": expect})
    steps.extend(more_steps)
    return {"id": "t/case", "config": {"units": 2}, "steps": steps, "features": []}


def obs(values, dtype="float32"):
    return {"ok": [Observed(np.asarray(values, dtype=np.float64), dtype)]}


CREATED = {"ok": None}
BASE = [[1.0, -0.5]]


def verdict_for(actual_step, expected_step=None, expect=None, **kwargs):
    case = make_case(expect, **kwargs)
    expected = [CREATED, expected_step if expected_step is not None else obs(BASE)]
    return judge(case, expected, [CREATED, actual_step])


def raised(type_name, message="boom", bases=("Exception",)):
    return {"raised": {"type": type_name, "types": [type_name, *bases], "message": message}}


# --------------------------------------------------------------------------- arrays

def test_identical_observations_pass():
    v = verdict_for(obs(BASE))
    assert v.status == "pass", v
    assert v.max_abs_error == 0.0
    assert v.tolerance == {"float32": {"rtol": 2e-5, "atol": 2e-5}}


def test_shape_mismatch_fails():
    v = verdict_for(obs([[1.0, -0.5, 0.0]]))
    assert v.status == "fail"
    assert "shape" in v.message and "[1, 3]" in v.message and "[1, 2]" in v.message
    assert v.step == 1 and v.op == "call"


def test_number_of_outputs_mismatch_fails():
    actual = {"ok": [Observed(np.array(BASE), "float32"), Observed(np.array(BASE), "float32")]}
    assert verdict_for(actual).status == "fail"


def test_dtype_mismatch_fails_even_with_equal_values():
    v = verdict_for(obs(BASE, dtype="float16"))
    assert v.status == "fail"
    assert "float16" in v.message and "float32" in v.message


def test_nan_pattern_mismatch_fails():
    v = verdict_for(obs([[np.nan, -0.5]]))
    assert v.status == "fail" and "NaN" in v.message
    v = verdict_for(obs([[1.0, -0.5]]), expected_step=obs([[np.nan, -0.5]]))
    assert v.status == "fail" and "NaN" in v.message


def test_same_nan_pattern_passes():
    v = verdict_for(obs([[np.nan, -0.5]]), expected_step=obs([[np.nan, -0.5]]))
    assert v.status == "pass", v


def test_inf_pattern_and_sign():
    assert verdict_for(obs([[np.inf, -0.5]])).status == "fail"
    assert verdict_for(obs([[-np.inf, -0.5]]), expected_step=obs([[np.inf, -0.5]])).status == "fail"
    assert verdict_for(obs([[np.inf, -0.5]]), expected_step=obs([[np.inf, -0.5]])).status == "pass"


def test_tolerance_policy_numbers():
    # the numbers documented in conformance/tolerance.py
    assert tolerance.tolerance("float32", T) == (2e-5, 2e-5)
    assert tolerance.tolerance("float64", T) == (1e-9, 1e-9)
    assert tolerance.tolerance("float16", T) == (1e-2, 1e-2)
    assert tolerance.tolerance("bfloat16", T) == (6e-2, 6e-2)
    assert tolerance.tolerance("float32", 40) == pytest.approx((4e-5, 4e-5))   # 40 / 20 steps
    assert tolerance.tolerance("float32", 20) == (2e-5, 2e-5)
    override = {"reason": "r", "float32": {"rtol": 1e-3, "atol": 1e-4}}
    assert tolerance.tolerance("float32", 100, override) == (1e-3, 1e-4)
    assert tolerance.tolerance("float16", 5, override) == (1e-2, 1e-2)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("timesteps", [5, 60])
def test_values_inside_tolerance_pass_outside_fail(dtype, timesteps):
    rtol, atol = tolerance.tolerance(dtype, timesteps)
    expected_value = 0.75
    bound = atol + rtol * expected_value          # |a - e| <= atol + rtol * |e|
    expected = obs([[expected_value, 0.0]], dtype)

    inside = verdict_for(obs([[expected_value + 0.9 * bound, 0.0]], dtype), expected, timesteps=timesteps)
    assert inside.status == "pass", inside
    assert inside.tolerance[dtype] == {"rtol": rtol, "atol": atol}
    assert inside.max_abs_error == pytest.approx(0.9 * bound)

    outside = verdict_for(obs([[expected_value - 1.1 * bound, 0.0]], dtype), expected, timesteps=timesteps)
    assert outside.status == "fail", outside
    assert "differ" in outside.message
    # at 0 the bound is atol alone
    zero = verdict_for(obs([[expected_value, 1.1 * atol]], dtype), expected, timesteps=timesteps)
    assert zero.status == "fail"


def test_long_sequences_widen_the_tolerance():
    expected = obs([[1.0, 0.0]])
    off = [[1.0 + 6e-5, 0.0]]          # outside 4e-5 (5 steps), inside 8e-5 (40 steps)
    assert verdict_for(obs(off), expected, timesteps=5).status == "fail"
    assert verdict_for(obs(off), expected, timesteps=40).status == "pass"


def test_case_tolerance_override_in_the_concrete_case():
    case = make_case()
    case["tolerance"] = {"reason": "r", "float32": {"rtol": 1e-3, "atol": 1e-3}}
    v = judge(case, [CREATED, obs([[1.0, 0.0]])], [CREATED, obs([[1.0005, 0.0]])])
    assert v.status == "pass" and v.tolerance == {"float32": {"rtol": 1e-3, "atol": 1e-3}}


# --------------------------------------------------------------------------- exceptions

def test_expected_exception_matched_by_type():
    v = verdict_for(raised("ValueError", bases=("Exception",)), expected_step=raised("ValueError"))
    assert v.status == "pass", v
    v = verdict_for(raised("ValueError"), expected_step=obs(BASE), expect={"raises": {"type": "ValueError"}})
    assert v.status == "pass", v


def test_expected_exception_matched_by_base_class_name():
    subclass = raised("InvalidArgumentError", bases=("OpError", "ValueError", "Exception"))
    assert verdict_for(subclass, expected_step=raised("ValueError")).status == "pass"
    assert verdict_for(subclass, expect={"raises": {"type": "ValueError"}}).status == "pass"
    assert verdict_for(subclass, expect={"raises": {"type": ["TypeError", "OpError"]}}).status == "pass"


def test_wrong_exception_type_fails():
    v = verdict_for(raised("TypeError", "bad type"), expected_step=raised("ValueError"))
    assert v.status == "fail"
    assert "ValueError" in v.message and "TypeError" in v.message
    v = verdict_for(raised("TypeError"), expect={"raises": {"type": ["KeyError", "ValueError"]}})
    assert v.status == "fail"


def test_expected_exception_not_raised_fails():
    v = verdict_for(obs(BASE), expected_step=raised("ValueError"))
    assert v.status == "fail" and "ValueError" in v.message
    v = verdict_for(obs(BASE), expect={"raises": {"type": "ValueError"}})
    assert v.status == "fail"


def test_raises_match_regex():
    act = raised("ValueError", "Received an invalid value for argument `units`, got 0")
    assert verdict_for(act, expect={"raises": {"type": "ValueError", "match": r"units.*got 0"}}).status == "pass"
    v = verdict_for(act, expect={"raises": {"type": "ValueError", "match": r"^dropout"}})
    assert v.status == "fail" and "does not match" in v.message


def test_target_raising_where_reference_did_not_is_error():
    v = verdict_for(raised("RuntimeError", "planted"))
    assert v.status == "error"
    assert "RuntimeError" in v.message and "planted" in v.message
    assert v.step == 1 and v.op == "call"


def test_create_raising_then_skipped_steps():
    case = make_case(more_steps=[{"op": "count_params", "args": {}, "expect": None}])
    skipped = {"skipped": "the layer could not be created"}
    expected = [raised("ValueError"), skipped, skipped]
    assert judge(case, expected, [raised("ValueError"), skipped, skipped]).status == "pass"
    v = judge(case, [CREATED, obs(BASE), {"ok": 8}], [raised("ValueError"), skipped, skipped])
    assert v.status == "error" and v.step == 0


# --------------------------------------------------------------------------- any_of, unsupported, literals

def test_any_of_names_the_variant_taken():
    expect = {"any_of": [
        {"variant": "zeros", "reference": {"masked_output_before_first_step": "zeros"}},
        {"variant": "initial_state", "reference": {"masked_output_before_first_step": "initial_state"}},
    ]}
    case = make_case(expect)
    zeros, h0 = obs([[0.0, 0.0]]), obs([[0.5, -0.5]])
    variants = {"zeros": [CREATED, zeros], "initial_state": [CREATED, h0]}
    v = judge(case, [CREATED, zeros], [CREATED, h0], variants)
    assert v.status == "pass", v
    assert "initial_state" in v.variant and "step 1" in v.variant
    v = judge(case, [CREATED, zeros], [CREATED, zeros], variants)
    assert v.status == "pass" and "zeros" in v.variant and "initial_state" not in v.variant
    v = judge(case, [CREATED, zeros], [CREATED, obs([[0.9, 0.9]])], variants)
    assert v.status == "fail"
    assert "[zeros]" in v.message and "[initial_state]" in v.message


def test_any_of_variant_with_literal_checks():
    expect = {"any_of": [
        {"variant": "raises", "raises": {"type": "ValueError"}},
        {"variant": "returns", "shape": [[1, 2]]},
    ]}
    case = make_case(expect)
    assert judge(case, [CREATED, obs(BASE)], [CREATED, raised("ValueError")]).variant == "step 1: raises"
    assert judge(case, [CREATED, obs(BASE)], [CREATED, obs(BASE)]).variant == "step 1: returns"
    assert judge(case, [CREATED, obs(BASE)], [CREATED, raised("TypeError")]).status == "fail"


def test_unsupported_observation_is_unsupported():
    v = verdict_for({"unsupported": "masks are not supported"})
    assert v.status == "unsupported"
    assert v.message == "masks are not supported"


def test_fewer_observations_is_error():
    case = make_case()
    assert judge(case, [CREATED, obs(BASE)], [CREATED]).status == "error"


def test_literal_expectations():
    case = make_case({"equals": 24}, op="count_params")
    assert judge(case, [CREATED, {"ok": 24}], [CREATED, {"ok": 24}]).status == "pass"
    v = judge(case, [CREATED, {"ok": 24}], [CREATED, {"ok": 25}])
    assert v.status == "fail" and "24" in v.message
    v = verdict_for(obs(BASE), expect={"shape": [[1, 3]]})
    assert v.status == "fail" and "shape" in v.message
    assert verdict_for(obs(BASE), expect={"shape": [[1, 2]], "dtype": "float32"}).status == "pass"
    assert verdict_for(obs(BASE), expect={"dtype": ["float16", "bfloat16"]}).status == "fail"


def test_compare_false_skips_reference_values():
    v = verdict_for(obs([[5.0, 5.0]]), expect={"compare": False, "shape": [[1, 2]]})
    assert v.status == "pass", v


def test_property_checks():
    expect = {"compare": False, "checks": [{"check": "values_in", "values": [0, 2.0]}]}
    assert verdict_for(obs([[0.0, 2.0]]), expect=expect).status == "pass"
    v = verdict_for(obs([[0.0, 1.0]]), expect=expect)
    assert v.status == "fail" and "none of" in v.message
    unknown = {"compare": False, "checks": [{"check": "no_such_check"}]}
    assert verdict_for(obs(BASE), expect=unknown).status == "fail"


def test_losses_compared_in_sorted_order():
    case = make_case(op="losses")
    assert judge(case, [CREATED, {"ok": [0.5, 0.1]}], [CREATED, {"ok": [0.1, 0.5]}]).status == "pass"
    assert judge(case, [CREATED, {"ok": [0.5, 0.1]}], [CREATED, {"ok": [0.1, 0.6]}]).status == "fail"
    assert judge(case, [CREATED, {"ok": [0.5]}], [CREATED, {"ok": []}]).status == "fail"


def test_get_config_compares_the_shared_arguments():
    from conformance.judge.compare import CONFIG_KEYS

    from reference_impl import SimpleRNN

    reference = SimpleRNN(3).get_config()
    case = make_case(op="get_config")
    # What Keras writes besides the shared arguments (a layer name, a dtype policy object, the
    # serialization module of an initializer, extra keys) is not compared.
    keras_like = dict(reference, name="simple_rnn_7", dtype={"class_name": "DTypePolicy", "config": {"name": "float32"}},
                      seed=None, kernel_initializer={"class_name": "GlorotUniform", "config": {"seed": None},
                                                     "module": "keras.initializers", "registered_name": None},
                      zero_output_for_mask=False)
    assert judge(case, [CREATED, {"ok": reference}], [CREATED, {"ok": keras_like}]).status == "pass"
    wrong_initializer = dict(keras_like, kernel_initializer={"class_name": "Orthogonal", "config": {"seed": None},
                                                              "module": "keras.initializers"})
    v = judge(case, [CREATED, {"ok": reference}], [CREATED, {"ok": wrong_initializer}])
    assert v.status == "fail" and "kernel_initializer" in v.message
    wrong = dict(reference, go_backwards=True)
    v = judge(case, [CREATED, {"ok": reference}], [CREATED, {"ok": wrong}])
    assert v.status == "fail" and "go_backwards" in v.message
    missing = {k: v for k, v in reference.items() if k != "unroll"}
    v = judge(case, [CREATED, {"ok": reference}], [CREATED, {"ok": missing}])
    assert v.status == "fail" and "unroll" in v.message
    assert "units" in CONFIG_KEYS and len(CONFIG_KEYS) == 20


# --------------------------------------------------------------------------- failure messages

def _masked_call(go_backwards=False):
    mask = np.array([[False, True, True]])
    config = {"units": 2, "return_sequences": True, "return_state": True, "go_backwards": go_backwards}
    return {"id": "t/masked", "config": config, "features": [],
            "steps": [{"op": "create", "args": {"layer": config}, "expect": None},
                      {"op": "call", "args": {"inputs": np.zeros((1, 3, 2), np.float32), "mask": mask}, "expect": None}]}


def test_messages_name_the_tensor_not_an_index():
    case = _masked_call()
    sequence, state = np.zeros((1, 3, 2)), np.zeros((1, 2))
    expected = [CREATED, {"ok": [Observed(sequence, "float32"), Observed(state, "float32")]}]
    v = judge(case, expected, [CREATED, {"ok": [Observed(sequence, "float32"), Observed(state + 1, "float32")]}])
    assert v.status == "fail" and "values differ in state" in v.message and "[1]" not in v.message.split(";")[0][:40]
    v = judge(case, expected, [CREATED, {"ok": [Observed(sequence + 1, "float32"), Observed(state, "float32")]}])
    assert v.message.startswith("6 of 6 values differ in output")
    weights = make_case(op="get_weights")
    w = [Observed(np.zeros((3, 2)), "float32"), Observed(np.zeros((2, 2)), "float32"), Observed(np.zeros(2), "float32")]
    v = judge(weights, [CREATED, {"ok": w}], [CREATED, {"ok": w[:2] + [Observed(np.ones(2), "float32")]}])
    assert "values differ in bias" in v.message


@pytest.mark.parametrize("go_backwards, index, step", [(False, 0, 0), (True, 2, 0), (False, 2, None), (True, 0, None)])
def test_messages_say_when_the_differing_step_was_masked(go_backwards, index, step):
    case = _masked_call(go_backwards)
    sequence, state = np.zeros((1, 3, 2)), np.zeros((1, 2))
    wrong = sequence.copy()
    wrong[0, index, 0] = 1.0
    expected = [CREATED, {"ok": [Observed(sequence, "float32"), Observed(state, "float32")]}]
    v = judge(case, expected, [CREATED, {"ok": [Observed(wrong, "float32"), Observed(state, "float32")]}])
    assert v.status == "fail"
    if step is None:
        assert "masked" not in v.message
    else:
        assert f"(timestep {step} of sample 0 is masked)" in v.message
    v = judge(case, expected, [CREATED, {"ok": [Observed(sequence, "float32"), Observed(state + 1, "float32")]}])
    assert "(sample 0 has 1 masked timestep)" in v.message

"""Differential fuzzing: reproducible with a seed, silent on the reference, and a planted bug is
found, shrunk and written as a case file that fails on the bug and passes on the reference."""

import yaml

from conformance.tools import fuzz
from conformance.catalog.cases import load_cases
from conftest import run_cli, statuses, load_report

import hypothesis  # noqa: F401,E402 - in the test extras: missing, this module fails instead of skipping


def test_scenarios_become_valid_cases():
    from hypothesis import given, settings, HealthCheck

    @settings(max_examples=30, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(fuzz.scenarios("keras3"))
    def check(scenario):
        case = fuzz.to_case(scenario)
        concrete = case.concrete()
        ops = [s["op"] for s in concrete["steps"]]
        assert ops[:3] == ["create", "build", "set_weights"]
        assert ops.count("call") == len(scenario["calls"])

    check()


def test_nothing_found_against_the_reference(tmp_path):
    result = fuzz.fuzz("reference", examples=60, seed=0, out=tmp_path)
    assert not result.found
    assert result.runs == 60
    assert list(tmp_path.iterdir()) == []


def test_fixed_seed_reproduces_the_same_case_file(tmp_path):
    first = fuzz.fuzz("mutant:recurrent_kernel_transposed", examples=60, seed=7, out=tmp_path / "a")
    second = fuzz.fuzz("mutant:recurrent_kernel_transposed", examples=60, seed=7, out=tmp_path / "b")
    assert first.found and second.found
    assert first.runs == second.runs
    assert first.path.name == second.path.name == "mutant_recurrent_kernel_transposed-seed7.yaml"
    assert first.path.read_text() == second.path.read_text()


def test_planted_bug_is_found_shrunk_and_replays(tmp_path):
    result = fuzz.fuzz("mutant:masked_step_updates_state", examples=100, seed=1, out=tmp_path)
    assert result.found
    assert result.replay == {"target": "fail", "reference": "pass"}
    text = result.path.read_text()
    assert "target: mutant:masked_step_updates_state" in text and "seed: 1" in text
    document = yaml.safe_load(text)
    (case,) = document["cases"]
    # Shrunk: at most a handful of values beyond the weights, and the bug needs a mask.
    scenario, _ = result.minimal
    assert fuzz.scenario_size(scenario)["timesteps"] <= 4
    assert any("mask" in (step.get("call") or {}) for step in case["steps"])
    (loaded,) = load_cases([result.path])
    assert loaded.id == case["id"]

    # The written file is an ordinary case file: it fails on the mutant and passes on the reference.
    bad = run_cli("run", "--target", "mutant:masked_step_updates_state", "--cases", result.path, "-o", tmp_path / "m", "-q")
    assert bad.returncode == 1 and set(statuses(load_report(tmp_path / "m")).values()) == {"fail"}
    good = run_cli("run", "--target", "reference", "--cases", result.path, "-o", tmp_path / "r", "-q")
    assert good.returncode == 0, good.stdout + good.stderr


def test_cli_exit_status(tmp_path):
    clean = run_cli("fuzz", "--target", "reference", "--examples", "20", "--seed", "3", "--out", tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert "no disagreement in 20 scenarios" in clean.stdout
    found = run_cli("fuzz", "--target", "mutant:bias_added_twice", "--examples", "50", "--seed", "3", "--out", tmp_path)
    assert found.returncode == 1, found.stdout + found.stderr
    assert (tmp_path / "mutant_bias_added_twice-seed3.yaml").is_file()
    assert "reference pass" in found.stdout


def test_keras2_stateful_initial_states_accept_the_stored_state_rule():
    """Under keras2 a stateful layer given an initial_state is drawn too: from that call on, both
    'the given state is used' and tf_keras's 'the stored non-zero state wins' are accepted, and a
    layer following either rule passes; dropout drawn with the layer is inert in inference."""
    import numpy as np

    from conformance.judge.compare import judge
    from conformance.judge.expected import expected_outcome
    from conformance.targets.reference import ReferenceAdapter
    from conformance.targets.steps import run_steps
    from reference_impl import SimpleRNN

    f32 = lambda *shape: np.linspace(-1, 1, int(np.prod(shape)), dtype=np.float32).reshape(shape)  # noqa: E731
    call = lambda h0: {"inputs": f32(2, 3, 2), "mask": None, "initial_state": h0, "reset": False, "training": False}  # noqa: E731
    scenario = {"layer": {"units": 2, "activation": "tanh", "use_bias": False, "return_sequences": False,
                          "return_state": True, "go_backwards": False, "unroll": False, "stateful": True,
                          "dropout": 0.5, "recurrent_dropout": 0.25},
                "weights": {"kernel": f32(2, 2), "recurrent_kernel": f32(2, 2) * 0.5},
                "calls": [call(None), call(f32(2, 2) + 0.5), call(None)], "observations": []}
    case = fuzz.to_case(scenario, profile="keras2").concrete()
    calls = [s for s in case["steps"] if s["op"] == "call"]
    assert not calls[0].get("expect") and all(s["args"]["training"] is False for s in calls)
    assert [v["variant"] for v in calls[1]["expect"]["any_of"]] == ["used", "stored_state_wins"]
    expected, variants = expected_outcome(case)
    tf_keras_like = type("StoredWins", (SimpleRNN,), {"stateful_initial_state": "stored_state_wins"})
    for layer_class in (SimpleRNN, tf_keras_like):
        assert judge(case, expected, run_steps(ReferenceAdapter(layer_class), case), variants).status == "pass"
    # A layer that does not carry its state is caught all the same.
    from conformance.targets.mutants import MUTANTS

    forgetting = MUTANTS["stateful_not_carried"].layer_class
    assert judge(case, expected, run_steps(ReferenceAdapter(forgetting), case), variants).status == "fail"

"""Differential fuzzing: reproducible with a seed, silent on the reference, and a planted bug is
found, shrunk and written as a case file that fails on the bug and passes on the reference."""

import pytest
import yaml

from conformance.tools import fuzz
from conformance.catalog.cases import load_cases
from conftest import run_cli, statuses, load_report

hypothesis = pytest.importorskip("hypothesis")


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

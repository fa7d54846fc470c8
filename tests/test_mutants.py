"""Suite strength: the mutant catalog, the `mutant:NAME` targets and `conformance mutants`.

The kill-rate test runs the whole catalog against every mutant (about a minute
on two cores): each mutant must be killed by at least one case that passes on
the reference, and the control (the mutants' copy of the recurrence, unpatched)
must not be.
"""

import json

import numpy as np
import pytest

from conformance.targets import mutants as catalog
from conformance.tools import mutants
from conformance.report.record import FAILING
from conformance.catalog.cases import load_cases
from conformance.judge.compare import judge
from conformance.judge.expected import expected_outcome
from conformance.targets.steps import run_steps
from conformance.targets import UnknownTarget, resolve
from conformance.targets.reference import ReferenceAdapter
from conftest import CATALOG, run_cli
from reference_impl import SimpleRNN


def test_catalog_has_at_least_100_single_bug_mutants():
    names = [m.name for m in catalog.CATALOG]
    assert len(names) >= 100
    assert len(set(names)) == len(names)
    for mutant in catalog.CATALOG:
        assert mutant.description and "\n" not in mutant.description, mutant.name
        assert mutant.patches or mutant.attributes or mutant.backward, mutant.name
        cls = mutant.layer_class
        assert issubclass(cls, SimpleRNN) and cls is not SimpleRNN
    # The new kinds of bug are there: the backward pass, precision, deployment paths.
    areas = {m.area for m in catalog.CATALOG}
    assert {"gradients", "precision", "deployment"} <= areas
    assert sum(bool(m.backward) for m in catalog.CATALOG) >= 10


def test_each_mutant_names_the_sentence_or_rule_it_breaks():
    """`breaks` quotes a sentence of an item of a page (as a case's spec: does) or states the observed rule."""
    from conformance.tools.coverage import _normalize, find_spec_dir, spec_items

    items = {(i["page"], i["name"]): i["sentences"] + i.get("code", []) for i in spec_items(find_spec_dir())}
    for mutant in catalog.CATALOG:
        ref = mutant.breaks
        assert ref and (ref["page"], ref["item"]) in items, (mutant.name, ref)
        if "sentence" in ref:
            quote = _normalize(ref["sentence"])
            assert any(quote in s or s in quote for s in items[(ref["page"], ref["item"])]), (mutant.name, quote)
        else:
            assert ref.get("observed"), mutant.name


def test_gradient_mutants_change_only_the_backward_pass():
    from reference_impl.gradients import gradients

    mutant = catalog.MUTANTS["grad_bptt_truncated"]
    adapter = catalog.make_adapter(mutant.name)
    assert adapter.backprop is mutant.backprop and adapter.backprop is not gradients
    assert vars(mutant.layer_class).keys() <= {"__doc__", "__module__", "__qualname__", "__dict__", "__weakref__"}
    assert catalog.make_adapter("bias_added_twice").backprop is gradients


def test_mutants_leave_the_reference_alone():
    original = {name: SimpleRNN.__dict__[name] for name in vars(SimpleRNN)}
    for mutant in catalog.CATALOG:
        mutant.layer_class
    assert {name: SimpleRNN.__dict__[name] for name in vars(SimpleRNN)} == original


def test_mutant_targets_resolve():
    spec = resolve("mutant:bias_added_twice")
    assert spec.adapter == "conformance.targets.mutants:make_adapter" and spec.argument == "bias_added_twice"
    assert spec.profile == "keras3"
    adapter = catalog.make_adapter("bias_added_twice")
    assert adapter.name == "mutant:bias_added_twice"
    with pytest.raises(UnknownTarget, match="unknown mutant"):
        resolve("mutant:no_such_bug")


def test_a_patch_that_no_longer_applies_fails_loudly():
    broken = catalog.Mutant("broken", "a snippet the reference does not have",
                            {"count_params": [("this text is not there", "")]})
    with pytest.raises(LookupError, match="not in"):
        broken.layer_class


def test_a_mutant_that_cannot_be_built_is_broken_not_killed(monkeypatch):
    """Its worker cannot start, so every case errs: that must not count as a kill."""
    ghost = catalog.Mutant("only_in_this_process", "a mutant the worker process does not know", {})
    monkeypatch.setitem(catalog.MUTANTS, ghost.name, ghost)
    results, _ = mutants.kill_run(load_cases([CATALOG / "forward.yaml"])[:3], [ghost.name], jobs=1, timeout=60)
    (result,) = results
    assert result.broken and "could not start" in result.broken
    assert not result.killed and result.to_dict()["killed"] is False


def _verdict(layer_class, case):
    concrete = case.concrete()
    expected, variants = expected_outcome(concrete)
    actual = run_steps(ReferenceAdapter(layer_class), concrete)
    return judge(concrete, expected, actual, variants)


def test_control_equals_the_reference_on_forward_cases():
    cases = load_cases([CATALOG / "forward.yaml"])
    control = catalog.MUTANTS["control"].layer_class
    assert all(_verdict(control, case).status == "pass" for case in cases[:40])


def test_float16_intermediate_fails_the_float32_tolerance():
    """The precision mutant proves the float32 tolerance is tight enough (docs/tolerances.md)."""
    cases = [c for c in load_cases([CATALOG / "forward.yaml"]) if c.id.startswith("forward/core")]
    layer_class = catalog.MUTANTS["float16_intermediate"].layer_class
    verdicts = [_verdict(layer_class, case) for case in cases]
    failing = [v for v in verdicts if v.status == "fail"]
    assert len(failing) >= len(cases) // 2
    # The errors are those of float16 rounding: well above the float32 bound, far below a wrong formula.
    worst = max(v.max_abs_error for v in failing)
    assert 2e-5 < worst < 0.5
    assert np.median([v.max_abs_error for v in failing]) > 5 * 2e-5


def test_cli_lists_the_mutants():
    proc = run_cli("mutants", "--list")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == len(catalog.CATALOG)
    assert {line.split()[0] for line in proc.stdout.splitlines()} == {m.name for m in catalog.CATALOG}


def test_cli_survivor_exit_status_and_message():
    # forward.yaml has no stateful case, so this mutant survives it.
    proc = run_cli("mutants", "--cases", CATALOG / "forward.yaml", "-m", "stateful_not_carried",
                   "-m", "bias_added_twice", "-q")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "kill rate: 1/2 mutants killed (50.0%)" in proc.stdout
    assert "SURVIVED mutant:stateful_not_carried: no case detects: a stateful layer does not carry" in proc.stdout


@pytest.mark.slow
def test_kill_rate_is_100_percent(tmp_path):
    report = tmp_path / "mutants.json"
    proc = run_cli("mutants", "--jobs", "2", "-q", "--json", report, timeout=900)
    results = json.loads(report.read_text())
    survivors = [m["name"] for m in results["mutants"] if not m["killed"] and m["name"] != "control"]
    assert survivors == [], proc.stdout
    control = next(m for m in results["mutants"] if m["name"] == "control")
    assert not control["killed"], f"the control is killed: {control}"
    assert results["kill_rate"] == 100.0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    real = len(catalog.CATALOG)
    assert f"kill rate: {real}/{real} mutants killed (100.0%)" in proc.stdout
    assert len(results["mutants"]) == real + 1  # and the control


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted({m.target for m in catalog.ADAPTER_CATALOG}))
def test_mutants_of_the_third_party_adapters_are_killed(target):
    """A kernel mapped with reshape for transpose, or a recurrent kernel left untransposed, in the
    torch or ONNX adapter (written and read back with the same mistake, so get_weights agrees):
    some forward case that passes on the real adapter fails on the patched one."""
    from conformance.run.runner import Runner

    cases = load_cases([CATALOG / "forward.yaml"])

    def statuses(name):
        records = []
        Runner(resolve(name), timeout=120).run(cases, records.append)
        return {r.id: r.status for r in records}

    real = statuses(target)
    passing = {i for i, s in real.items() if s == "pass"}
    assert passing, f"no forward case passes on {target}"
    for mutant in (m for m in catalog.ADAPTER_CATALOG if m.target == target):
        assert resolve(f"mutant:{mutant.name}").argument == mutant.name
        killed = {i for i, s in statuses(f"mutant:{mutant.name}").items() if s in FAILING} & passing
        assert killed, f"mutant:{mutant.name} survives the forward cases: {mutant.description}"

"""The quick tier (conformance/catalog/quick.py) stays adequate when cases or mutants change.

Adequate means: at most 15% of the catalog, every case of it exists, its cases cite every item
of both spec pages, and `conformance mutants --quick` kills every mutant of the catalog. The
stored tier must also be what the greedy cover of the published kill matrix gives, and that
matrix must name exactly today's mutants: a new mutant or case that the stored files do not
know about fails here with the command that regenerates them.
"""

import json

import pytest

from conformance.catalog import quick
from conformance.catalog.cases import load_cases
from conformance.targets import mutants as catalog
from conformance.tools import killmatrix
from conformance.tools.coverage import find_spec_dir, spec_items
from conftest import CATALOG, run_cli

REGENERATE = "python -m conformance.tools.killmatrix"


@pytest.fixture(scope="module")
def cases():
    return load_cases()


def test_the_tier_is_small_and_made_of_catalog_cases(cases):
    tier = quick.tier()
    ids = {c.id for c in cases}
    assert tier and tier <= ids, f"unknown ids in quick.json: {sorted(tier - ids)[:5]}; run {REGENERATE}"
    assert len(tier) <= killmatrix.MAX_SHARE * len(cases)
    assert {c.id for c in cases if quick.TAG in c.tags} == tier


def test_the_tier_cites_every_spec_item(cases):
    cited = {key for c in cases if c.id in quick.tier() for key in killmatrix.spec_items_cited(c)}
    items = {(i["page"], i["name"]) for i in spec_items(find_spec_dir())}
    assert items - cited == set()


def test_the_published_kill_matrix_knows_todays_mutants(cases):
    matrix = killmatrix.published_matrix()
    assert matrix is not None, f"reports/kill-matrix.json is missing; run {REGENERATE}"
    assert set(matrix) == set(catalog.MUTANTS), f"the kill matrix is stale; run {REGENERATE}"
    ids = {c.id for c in cases}
    stale = {i for killers in matrix.values() for i in killers} - ids
    assert not stale, f"the kill matrix names cases that are gone; run {REGENERATE}"
    assert matrix["control"] == [], "the control (no bug) is killed"
    assert all(matrix[m.name] for m in catalog.CATALOG), "a mutant no case kills"


def test_the_stored_tier_is_the_cover_of_the_published_matrix(cases):
    costs = killmatrix.case_costs(killmatrix.COSTS_FILE)
    tier, uncovered = killmatrix.greedy_cover(cases, killmatrix.published_matrix(), costs)
    assert uncovered == []
    assert set(tier) == quick.tier(), (f"quick.json is not the cover of the kill matrix; run {REGENERATE} "
                                       "--tier-only (or without --tier-only when steps or mutants changed)")


def test_list_quick_is_the_tier():
    proc = run_cli("list", "--quick")
    assert proc.returncode == 0, proc.stderr
    assert set(proc.stdout.split()) == quick.tier()
    proc = run_cli("list", "--quick", "-k", "mask")
    assert proc.returncode == 0 and set(proc.stdout.split()) < quick.tier()


@pytest.mark.slow
def test_mutants_quick_kills_every_mutant(tmp_path):
    out = tmp_path / "quick.json"
    proc = run_cli("mutants", "--quick", "-q", "--json", out, timeout=900)
    results = json.loads(out.read_text())
    survivors = [m["name"] for m in results["mutants"] if not m["killed"] and m["name"] != "control"]
    assert survivors == [], proc.stdout
    assert results["kill_rate"] == 100.0 and proc.returncode == 0, proc.stdout + proc.stderr
    assert len(results["mutants"]) == len(catalog.CATALOG) + 1
    assert results["cases"] <= killmatrix.MAX_SHARE * len(load_cases())


def test_the_kill_matrix_command(tmp_path):
    """`conformance mutants --kill-matrix FILE` judges every selected case on every mutant."""
    out = tmp_path / "matrix.json"
    proc = run_cli("mutants", "--kill-matrix", out, "--cases", CATALOG / "go_backwards.yaml", "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    matrix = data["kill_matrix"]
    assert set(matrix) == set(catalog.MUTANTS) and matrix["control"] == []
    go_backwards = {c.id for c in load_cases([CATALOG / "go_backwards.yaml"])}
    assert matrix["go_backwards_ignored"] and set(matrix["go_backwards_ignored"]) <= go_backwards
    assert matrix["dropout_not_rescaled"] == []  # no dropout there: what a narrow selection cannot kill shows


def test_the_mutants_a_case_says_it_kills_are_killed_by_it(cases):
    """A case's notes 'kills mutant:NAME' are a claim: some expansion of that case kills NAME in
    the published kill matrix (keras3 cases; a keras2-only case cannot kill, so cannot claim)."""
    import re

    matrix = killmatrix.published_matrix()
    claims = {}
    for case in cases:
        for name in re.findall(r"mutant:([\w.]+)", case.notes or ""):
            claims.setdefault((case.id.split("[")[0], name), []).append(case)
    assert claims
    wrong = []
    for (base, name), expansions in claims.items():
        if name not in matrix or not any(c.id in matrix[name] for c in expansions):
            wrong.append(f"{base}: mutant:{name}")
    assert wrong == []

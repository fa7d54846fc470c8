"""Spec coverage: every argument, property, method and sentence of both pages is checked by a case."""

from pathlib import Path

import pytest

from conformance.catalog.cases import load_cases
from conformance.tools.coverage import coverage, find_spec_dir, spec_items

from conftest import run_cli


@pytest.fixture(scope="module")
def spec_dir():
    return find_spec_dir()


@pytest.fixture(scope="module")
def catalog():
    return load_cases()


def test_the_pages_parse_into_their_items(spec_dir):
    items = spec_items(spec_dir)
    keras3_arguments = {i["name"] for i in items if i["page"] == "keras3" and i["kind"] == "argument"}
    assert len(keras3_arguments) == 21 and {"units", "unroll", "seed"} <= keras3_arguments
    call_arguments = {i["name"] for i in items if i["kind"] == "call argument"}
    assert call_arguments == {"sequence", "mask", "training", "initial_state"}
    keras2_arguments = {i["name"] for i in items if i["page"] == "keras2" and i["kind"] == "argument"}
    assert keras2_arguments == keras3_arguments - {"seed"}
    methods = {i["name"] for i in items if i["page"] == "keras2" and i["kind"] == "method"}
    assert {"get_weights", "set_weights", "reset_states", "count_params", "get_input_shape_at"} <= methods
    set_weights = next(i for i in items if i["name"] == "set_weights")
    assert "ValueError: If the provided weights list does not match the layer's specifications." in set_weights["sentences"]


def test_the_catalog_covers_every_item_and_sentence(catalog, spec_dir):
    report = coverage(catalog, spec_dir)
    assert report["missing_items"] == []
    assert report["missing_sentences"] == []
    assert report["unmatched_quotes"] == []
    assert report["summary"]["item_percent"] == 100.0 and report["summary"]["sentence_percent"] == 100.0


def test_a_gap_shows(catalog, spec_dir):
    """Without the cases that cite the keras2 unroll sentences, those sentences are reported missing."""
    fewer = [c for c in catalog if not any(r["page"] == "keras2" and r["item"] == "unroll" for r in c.spec)]
    report = coverage(fewer, spec_dir)
    assert "keras2 unroll: Unrolling is only suitable for short sequences." in report["missing_sentences"]
    assert "keras2 argument unroll" in report["missing_items"]
    assert report["summary"]["sentence_percent"] < 100.0


def test_a_misquote_shows(catalog, spec_dir):
    case = next(c for c in catalog if c.id.startswith("forward/core"))
    case.spec = case.spec + [{"page": "keras3", "item": "units", "sentence": "Negative integer, please."}]
    try:
        report = coverage([case], spec_dir)
    finally:
        case.spec = case.spec[:-1]
    assert any("Negative integer, please." in q for q in report["unmatched_quotes"])


def test_the_command_writes_both_reports(tmp_path):
    out = tmp_path / "coverage.md"
    proc = run_cli("coverage", "--out", out, "--fail-under", "100")
    assert proc.returncode == 0, proc.stderr
    items = spec_items(find_spec_dir())
    assert f"items {len(items)}/{len(items)} (100.0%)" in proc.stdout
    assert out.read_text().startswith("# Spec coverage") and Path(str(out)[:-3] + ".json").is_file()


def test_the_suite_copy_of_the_spec_has_not_drifted():
    """spec/ is the suite's copy of the two pages, always checked against the SHA-256 sums
    recorded with it (spec/SHA256SUMS, `sha256sum *.md`): an edit of a page fails here until
    the sums are recorded again, on purpose. Where the project's shared/ is beside the
    checkout, the copy must also equal it."""
    import hashlib

    repo = Path(__file__).resolve().parents[1]
    copies = sorted((repo / "spec").glob("*.md"))
    assert [p.name for p in copies] == ["README.md", "keras3-SimpleRNN.md", "tf-keras-r1.11-SimpleRNN.md"]
    lines = (repo / "spec" / "SHA256SUMS").read_text().split("\n")
    recorded = {name: digest for digest, name in (line.split() for line in lines if line.strip())}
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in copies} == recorded
    assert find_spec_dir() == repo / "spec" or find_spec_dir().resolve() == (repo / "spec").resolve()
    shared = repo.parent / "shared" / "spec"
    if shared.is_dir():
        for page in copies:
            assert page.read_bytes() == (shared / page.name).read_bytes(), f"spec/{page.name} drifted from {shared}"


def test_every_sentence_a_mutant_breaks_is_checked(catalog, spec_dir):
    """With the published kill matrix: each sentence that some mutant's `breaks` quotes is
    *checked*, i.e. one of those mutants is killed by a case citing that sentence."""
    from conformance.tools.killmatrix import published_matrix

    report = coverage(catalog, spec_dir, kill_matrix=published_matrix())
    s = report["summary"]
    assert s["sentences_broken_by_a_mutant"] > 20
    unchecked = [(i["name"], x["sentence"]) for i in report["items"] for x in i["sentences"]
                 if x["mutants"] and not x["checked"]]
    assert unchecked == [] and s["sentences_checked"] == s["sentences_broken_by_a_mutant"]


def test_an_unchecked_sentence_shows(catalog, spec_dir):
    """Without any killer of kernel_transposed, its sentence is broken but not checked."""
    from conformance.tools.killmatrix import published_matrix

    matrix = dict(published_matrix(), kernel_transposed=[])
    report = coverage(catalog, spec_dir, kill_matrix=matrix)
    item = next(i for i in report["items"] if i["page"] == "keras3" and i["name"] == "kernel_initializer")
    entry = next(x for x in item["sentences"] if "linear transformation of the inputs" in x["sentence"])
    assert entry["mutants"] == ["kernel_transposed"] and entry["checked"] is False


"""Matrix expansion: ids, `$var` substitution anywhere, `exclude`, unknown variables."""

import textwrap

import numpy as np
import pytest

from conformance.catalog import expand as matrix
from conformance.catalog.cases import CaseFileError, load_cases, load_file
from conftest import run_cli


def entry(**extra):
    base = {"id": "area/name", "description": "d", "spec": [{"page": "keras3", "item": "units"}],
            "layer": {"units": 3}, "steps": [{"count_params": None}]}
    base.update(extra)
    return base


def test_entry_without_matrix_is_itself():
    ((case, variables),) = list(matrix.expand(entry()))
    assert case["id"] == "area/name" and variables == {}
    assert "matrix" not in case and "exclude" not in case


def test_ids_one_per_combination_in_order():
    e = entry(matrix={"activation": ["tanh", "relu", None], "use_bias": [True, False]},
              layer={"units": 3, "activation": "$activation", "use_bias": "$use_bias"})
    expanded = list(matrix.expand(e))
    ids = [case["id"] for case, _ in expanded]
    assert ids == [
        "area/name[activation=tanh,use_bias=true]", "area/name[activation=tanh,use_bias=false]",
        "area/name[activation=relu,use_bias=true]", "area/name[activation=relu,use_bias=false]",
        "area/name[activation=none,use_bias=true]", "area/name[activation=none,use_bias=false]",
    ]
    assert len(set(ids)) == 6
    case, variables = expanded[4]
    assert variables == {"activation": None, "use_bias": True}
    assert case["layer"] == {"units": 3, "activation": None, "use_bias": True}


def test_labels_of_structured_values():
    e = entry(matrix={"activation": [{"callable": "relu"}], "units": [4], "rate": [0.5],
                      "mask": [{"mask": "leading", "shape": [2, 6]}]})
    ((case, _),) = list(matrix.expand(e))
    assert case["id"] == "area/name[activation=callable:relu,units=4,rate=0.5,mask=leading]"


def test_substitution_in_nested_places_keeps_types():
    e = entry(
        matrix={"t": [3, 7], "act": [{"callable": "tanh"}], "m": [{"mask": "ragged", "shape": [2, 3]}],
                "n": [24]},
        layer={"units": 3, "activation": "$act", "nested": {"deeper": ["$t", {"again": "$t"}]}},
        arrays={"x": {"random": "uniform", "shape": [2, "$t", 4], "seed": "$t"}},
        steps=[{"call": {"inputs": "x", "mask": "$m"}}, {"count_params": None, "expect": {"equals": "$n"}}],
        notes="$t stays text here; only a string that is exactly $name is replaced",
    )
    first, second = [case for case, _ in matrix.expand(e)]
    assert first["layer"]["activation"] == {"callable": "tanh"}
    assert first["layer"]["nested"] == {"deeper": [3, {"again": 3}]}
    assert second["layer"]["nested"] == {"deeper": [7, {"again": 7}]}
    assert first["arrays"]["x"] == {"random": "uniform", "shape": [2, 3, 4], "seed": 3}
    assert isinstance(first["arrays"]["x"]["shape"][1], int)
    assert first["steps"][0]["call"]["mask"] == {"mask": "ragged", "shape": [2, 3]}
    assert first["steps"][1]["expect"]["equals"] == 24
    assert first["notes"].startswith("$t stays text")
    # the entry itself is not modified
    assert e["layer"]["nested"]["deeper"][0] == "$t"


def test_exclude_removes_partial_combinations():
    e = entry(matrix={"a": [1, 2], "b": [True, False], "c": ["x", "y"]},
              exclude=[{"a": 1, "b": False}, {"c": "y", "a": 2, "b": True}])
    ids = [case["id"] for case, _ in matrix.expand(e)]
    assert ids == ["area/name[a=1,b=true,c=x]", "area/name[a=1,b=true,c=y]",
                   "area/name[a=2,b=true,c=x]",
                   "area/name[a=2,b=false,c=x]", "area/name[a=2,b=false,c=y]"]


def test_exclude_matches_structured_values():
    e = entry(matrix={"act": [{"callable": "relu"}, "relu"]}, exclude=[{"act": {"callable": "relu"}}])
    assert [case["id"] for case, _ in matrix.expand(e)] == ["area/name[act=relu]"]


def test_exclude_of_unknown_variable_is_an_error():
    e = entry(matrix={"a": [1, 2]}, exclude=[{"b": 1}])
    with pytest.raises(matrix.MatrixError, match="'b'"):
        list(matrix.expand(e))


def test_unknown_variable_is_a_clear_error():
    e = entry(matrix={"activation": ["tanh"]}, layer={"units": 3, "activation": "$activaton"})
    with pytest.raises(matrix.MatrixError) as info:
        list(matrix.expand(e))
    assert "$activaton" in str(info.value) and "activation" in str(info.value)


def _write(tmp_path, text):
    path = tmp_path / "m.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_unknown_variable_in_a_file_names_file_line_and_case(tmp_path):
    path = _write(tmp_path, """\
        cases:
          - id: ok/one
            description: d
            spec: [{page: keras3, item: units}]
            layer: {units: 3}
            steps: [{count_params: null}]
          - id: bad/typo
            description: d
            spec: [{page: keras3, item: units}]
            matrix: {units: [1, 2]}
            layer: {units: $unit}
            steps: [{count_params: null}]
        """)
    cases, problems = load_file(path)
    assert [c.id for c in cases] == ["ok/one"]
    assert len(problems) == 1
    problem = problems[0]
    assert problem.case_id == "bad/typo" and problem.line == 7 and "$unit" in problem.message
    assert str(path) in str(problem)
    proc = run_cli("validate", path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{path}:7" in proc.stderr and "$unit" in proc.stderr


def test_matrix_file_expands_and_validates_each_case(tmp_path):
    path = _write(tmp_path, """\
        defaults:
          tags: [forward]
        cases:
          - id: forward/grid
            description: d
            spec: [{page: keras3, item: units}]
            matrix:
              units: [1, 3]
              input: [a, b]
            exclude:
              - {units: 1, input: b}
            layer: {units: $units}
            arrays:
              a: {random: uniform, shape: [2, 4, 3], seed: 1}
              b: {fill: 0.5, shape: [2, 6, 3]}
            weights: {random: normal, seed: 3}
            steps:
              - call: {inputs: $input}
        """)
    cases = load_cases([path])
    assert [c.id for c in cases] == ["forward/grid[units=1,input=a]", "forward/grid[units=3,input=a]",
                                     "forward/grid[units=3,input=b]"]
    assert cases[2].variables == {"units": 3, "input": "b"}
    assert all(c.tags == ["forward"] for c in cases)
    call = [s for s in cases[2].concrete()["steps"] if s["op"] == "call"][0]
    np.testing.assert_array_equal(call["args"]["inputs"], np.full((2, 6, 3), 0.5, np.float32))
    setw = [s for s in cases[2].concrete()["steps"] if s["op"] == "set_weights"][0]
    assert [w.shape for w in setw["args"]["weights"]] == [(3, 3), (3, 3), (3,)]


def test_schema_error_in_a_matrix_case_is_reported_once(tmp_path):
    path = _write(tmp_path, """\
        cases:
          - id: forward/grid
            description: d
            spec: [{page: keras3, item: units}]
            matrix: {units: [1, 2, 3]}
            layer: {units: $units}
            steps:
              - count_params: 5
        """)
    with pytest.raises(CaseFileError) as info:
        load_cases([path])
    assert len(info.value.problems) == 1
    assert info.value.problems[0].line == 8

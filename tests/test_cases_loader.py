"""Loading case files: safe YAML with lines, defaults, arrays, weights, concrete steps."""

import textwrap

import numpy as np
import pytest

from conformance import arrays
from conformance.catalog import yamlfile
from conformance.catalog.cases import (CaseFileError, _fast_check, _validator, case_files, features, load_cases,
                               load_file, schema_errors)
from conftest import DATA

HEADER = "    description: d\n    spec: [{page: keras3, item: units}]\n"


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# --------------------------------------------------------------------------- YAML

def test_yaml_mappings_remember_lines():
    tree = yamlfile.load("a: 1\nb:\n  c: 2\n  d:\n    - e: 3\n")
    assert tree.line == 1 and tree.key_lines == {"a": 1, "b": 2}
    assert tree["b"].key_lines == {"c": 3, "d": 4}
    assert yamlfile.line_of(tree, ["b", "d", 0, "e"]) == 5
    assert yamlfile.line_of(tree, ["b", "nope"]) == 2


@pytest.mark.parametrize("text, line", [
    ("a: 1\nb: [1, 2\nc: 3\n", 3),
    ("a: 1\n  b: 2\n", 2),
    ("a: 1\na: 2\n", 2),                                  # duplicate key
    ("a: !!python/object/apply:os.system ['true']\n", 1),
    ("a: 1\nb: !!python/name:os.system\n", 2),
    ("a: !custom 3\n", 1),
])
def test_yaml_errors_have_lines(text, line):
    with pytest.raises(yamlfile.YamlError) as info:
        yamlfile.load(text)
    assert info.value.line == line


def test_python_tag_message_names_the_tag():
    with pytest.raises(yamlfile.YamlError) as info:
        yamlfile.load("a: !!python/object/apply:os.system ['true']\n")
    message = info.value.message
    assert "not allowed" in message
    # the tag is named whole (as written, or resolved), not cut after its first "tag"
    assert "!!python/object/apply:os.system" in message or "tag:yaml.org,2002:python/object/apply:os.system" in message, message
    assert message.count("'") % 2 == 0, message   # no quote left open


# --------------------------------------------------------------------------- the two validators

def _mutations(case):
    """Broken copies of a valid case: a key lost, a key unknown, a value of the wrong type."""
    for key in list(case):
        yield {k: v for k, v in case.items() if k != key}
        for wrong in (None, 3, "text", [], {}):
            yield {**case, key: wrong}
    yield {**case, "colour": "red"}
    for index, step in enumerate(case["steps"]):
        (op,) = [k for k in step if k != "expect"]
        for wrong in ({"no_such_op": {}}, {op: step[op], "expect": 3}, {op: step[op], "extra": {}},
                      {op: {"inputs": {"random": "cauchy", "shape": [1]}}}):
            yield {**case, "steps": case["steps"][:index] + [wrong] + case["steps"][index + 1:]}


def test_the_fast_validator_agrees_with_jsonschema():
    """The compiled check says yes to exactly what jsonschema says yes to, on the catalog's
    cases and on broken copies of them (so it never lets through what jsonschema refuses)."""
    raw = [yamlfile.load(path.read_text()) for path in case_files()]
    entries = [entry for tree in raw for entry in tree["cases"]][::5]
    checked = refused = 0
    for entry in entries:
        for document in [{"cases": [entry]}] + [{"cases": [m]} for m in _mutations(entry)]:
            slow = not list(_validator().iter_errors(document))
            try:
                _fast_check()(document)
                fast = True
            except Exception:  # noqa: BLE001 - fastjsonschema's refusal
                fast = False
            assert fast == slow, (entry["id"], document)
            assert (schema_errors(document) == []) == slow
            checked += 1
            refused += not slow
    assert checked > 1000 and refused > checked // 2


# --------------------------------------------------------------------------- files

def test_defaults_are_merged(tmp_path):
    path = write(tmp_path, """\
        defaults:
          profiles: [keras2]
          tags: [forward, shared]
          layer: {units: 3, activation: relu}
        cases:
          - id: a/one
            description: d
            spec: [{page: keras3, item: units}]
            tags: [shared, extra]
            layer: {units: 5}
            steps: [{count_params: null}]
          - id: a/two
            description: d
            spec: [{page: keras3, item: units}]
            profiles: [keras3]
            layer: {}
            steps: [{count_params: null}]
        """)
    one, two = load_cases([path])
    assert one.tags == ["forward", "shared", "extra"]
    assert one.layer == {"units": 5, "activation": "relu"}
    assert one.profiles == ["keras2"]
    assert two.tags == ["forward", "shared"] and two.profiles == ["keras3"]
    assert two.layer == {"units": 3, "activation": "relu"}
    assert one.source == f"{path}:6" and two.source == f"{path}:12"


def test_profiles_default_to_both(tmp_path):
    path = write(tmp_path, """\
        cases:
          - id: a/one
            description: d
            spec: [{page: keras3, item: units}]
            layer: {units: 5}
            steps: [{count_params: null}]
        """)
    (case,) = load_cases([path])
    assert sorted(case.profiles) == ["keras2", "keras3"] and case.tags == []


def test_duplicate_ids_across_files(tmp_path):
    body = """\
        cases:
          - id: a/same
            description: d
            spec: [{page: keras3, item: units}]
            layer: {units: 5}
            steps: [{count_params: null}]
        """
    first = write(tmp_path, body, "a.yaml")
    second = write(tmp_path, body, "b.yaml")
    with pytest.raises(CaseFileError) as info:
        load_cases([tmp_path])
    (problem,) = info.value.problems
    assert problem.path == str(second) and problem.line == 2 and "duplicate" in problem.message
    assert str(first) in problem.message


@pytest.mark.parametrize("text, line, words", [
    ("- just\n- a list\n", 1, "mapping"),
    ("description: no cases\n", 1, "cases"),
    ("cases: []\n", 1, "cases"),
    ("description: d\ncases:\n  - id: A/Upper\n" + HEADER + "    layer: {}\n    steps: [{count_params: null}]\n",
     3, "id"),
    ("cases:\n  - id: a/b\n" + HEADER + "    layer: {}\n    steps: [{count_params: null}]\n"
     "  - id: a/c\n" + HEADER + "    layer: {}\n    steps: [{count_params: null, get_config: null}]\n", 11, ""),
    ("cases:\n  - id: a/b\n" + HEADER + "    layer: {}\n    steps: [{fly: null}]\n", 6, ""),
    ("cases:\n  - id: a/b\n" + HEADER + "    layer: {}\n    steps:\n      - call: {inputs: nope}\n", 2, "nope"),
    ("cases:\n  - id: a/b\n" + HEADER + "    layer: {}\n    steps:\n      - call: {inputs: {fill: 1}}\n", 7, ""),
])
def test_problems_have_lines(tmp_path, text, line, words):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    cases, problems = load_file(path)
    assert problems, cases
    assert problems[0].line == line, problems
    assert words in str(problems[0])
    assert str(problems[0]).startswith(f"{path}:{line}")


def test_case_files_of_a_folder_are_sorted_and_missing_path_is_an_error(tmp_path):
    for name in ("b.yaml", "a.yml", "c.txt"):
        (tmp_path / name).write_text("cases: []\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.yaml").write_text("cases: []\n")
    assert [p.name for p in case_files([tmp_path])] == ["a.yml", "b.yaml", "d.yaml"]
    with pytest.raises(CaseFileError) as info:
        case_files([tmp_path / "missing.yaml"])
    assert "missing.yaml" in str(info.value)


def test_data_files_load():
    shared = load_cases([DATA / "shared.yaml"])
    assert len(shared) == 17
    assert len(load_cases([DATA / "three.yaml"])) == 4


# --------------------------------------------------------------------------- arrays

def test_array_specs():
    np.testing.assert_array_equal(arrays.materialize({"value": [[1, 2], [3, 4]]}), [[1, 2], [3, 4]])
    assert arrays.materialize({"value": [1, 2]}).dtype == np.float32
    assert arrays.materialize({"value": [1, 2], "dtype": "int32"}).dtype == np.int32
    assert arrays.materialize({"value": [1, 2, 3, 4], "shape": [2, 2]}).shape == (2, 2)
    u = arrays.materialize({"random": "uniform", "shape": [50, 4], "low": -3, "high": -2, "seed": 1})
    assert u.shape == (50, 4) and u.dtype == np.float32 and (u >= -3).all() and (u <= -2).all()
    np.testing.assert_array_equal(u, arrays.materialize({"random": "uniform", "shape": [50, 4], "low": -3, "high": -2, "seed": 1}))
    assert not np.array_equal(u, arrays.materialize({"random": "uniform", "shape": [50, 4], "low": -3, "high": -2, "seed": 2}))
    n = arrays.materialize({"random": "normal", "shape": [4000], "mean": 5, "std": 2, "seed": 0, "dtype": "float64"})
    assert abs(n.mean() - 5) < 0.2 and abs(n.std() - 2) < 0.2
    scaled = arrays.materialize({"random": "normal", "shape": [4000], "seed": 0, "scale": 0.5, "dtype": "float64"})
    np.testing.assert_allclose(scaled, arrays.materialize({"random": "normal", "shape": [4000], "seed": 0, "dtype": "float64"}) * 0.5)
    np.testing.assert_array_equal(arrays.materialize({"fill": 0.5, "shape": [2, 3]}), np.full((2, 3), 0.5))
    np.testing.assert_array_equal(arrays.materialize({"eye": 3, "scale": 2}), 2 * np.eye(3))
    np.testing.assert_array_equal(arrays.materialize({"arange": True, "shape": [2, 3], "scale": 2, "offset": 1}),
                                  [[1, 3, 5], [7, 9, 11]])
    with pytest.raises(arrays.ArraySpecError):
        arrays.materialize({"shape": [2]})


@pytest.mark.parametrize("pattern, expected", [
    ("none_masked", [[1, 1, 1, 1, 1, 1]] * 2),
    ("all_masked", [[0, 0, 0, 0, 0, 0]] * 2),
    ("leading", [[0, 0, 1, 1, 1, 1]] * 2),
    ("trailing", [[1, 1, 1, 1, 0, 0]] * 2),
    ("middle", [[1, 1, 0, 0, 1, 1]] * 2),
    ("ragged", [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]]),
])
def test_mask_patterns(pattern, expected):
    mask = arrays.materialize({"mask": pattern, "shape": [2, 6]})
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, np.array(expected, bool))


def test_dtype_rounding():
    value = 1 + 2 ** -12   # representable in float32, not in float16 or bfloat16
    assert arrays.materialize({"value": [value], "dtype": "float16"})[0] == np.float16(1.0)
    b = arrays.materialize({"value": [value, 1 + 2 ** -7, 3.0e38], "dtype": "bfloat16"})
    assert b.dtype == np.float32
    assert b[0] == 1.0 and b[1] == np.float32(1 + 2 ** -7)
    # every bfloat16 value has zero low 16 bits
    assert not (b.view(np.uint32) & 0xFFFF).any()


def test_wire_round_trip():
    for array in (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([True, False]),
                  np.array([1, 2], np.int64), np.array([[np.nan, np.inf]], np.float64), np.zeros((0, 3))):
        back, name = arrays.decode(arrays.encode(array))
        assert name == str(array.dtype) and back.dtype == array.dtype and back.shape == array.shape
        np.testing.assert_array_equal(back, array)
    back, name = arrays.decode(arrays.encode(np.array([1.5], np.float32), "bfloat16"))
    assert name == "bfloat16" and back[0] == 1.5
    tree = arrays.from_wire(arrays.to_wire({"a": [np.ones(2), (1, "x")], "b": np.float32(2)}), observed=True)
    assert isinstance(tree["a"][0], arrays.Observed) and tree["a"][0].dtype == "float64"
    assert tree["a"][1] == [1, "x"] and tree["b"] == 2.0


# --------------------------------------------------------------------------- concrete cases

def test_concrete_steps_weights_and_names(tmp_path):
    path = write(tmp_path, """\
        cases:
          - id: a/concrete
            description: d
            spec: [{page: keras3, item: units}]
            layer: {units: 3, go_backwards: true}
            arrays:
              x: {random: uniform, shape: [2, 5, 4], seed: 1}
              alias: x
              m: {mask: trailing, shape: [2, 5]}
              h: {fill: 0.0, shape: [2, 3]}
            weights: {random: normal, seed: 10, scale: 0.5}
            steps:
              - count_params:
              - call: {inputs: alias, mask: m, training: false, initial_state: [h]}
                expect: {shape: [[2, 3]]}
              - reset_states:
              - compute_mask: {inputs: x, mask: m}
        """)
    (case,) = load_cases([path])
    concrete = case.concrete()
    ops = [s["op"] for s in concrete["steps"]]
    assert ops == ["create", "build", "set_weights", "count_params", "call", "reset_states", "compute_mask"]
    assert concrete["steps"][0]["args"] == {"layer": {"units": 3, "go_backwards": True}}
    assert concrete["steps"][1]["args"] == {"input_shape": [2, 5, 4]}
    weights = concrete["steps"][2]["args"]["weights"]
    assert [w.shape for w in weights] == [(4, 3), (3, 3), (3,)]
    for i, w in enumerate(weights):  # seeds seed, seed+1, seed+2, scaled
        want = arrays.materialize({"random": "normal", "shape": list(w.shape), "seed": 10 + i, "scale": 0.5})
        np.testing.assert_array_equal(w, want)
    call = concrete["steps"][4]["args"]
    np.testing.assert_array_equal(call["inputs"], arrays.materialize({"random": "uniform", "shape": [2, 5, 4], "seed": 1}))
    assert call["mask"].dtype == bool and call["training"] is False and len(call["initial_state"]) == 1
    assert concrete["steps"][5]["args"] == {"states": None}
    assert case.expectations[4] == {"shape": [[2, 3]]}
    assert {"mask", "go_backwards", "initial_state", "op:call", "activation:tanh"} <= set(concrete["features"])
    assert "mask:not_right_padded" not in concrete["features"]


def test_explicit_weights_without_bias(tmp_path):
    path = write(tmp_path, """\
        cases:
          - id: a/explicit
            description: d
            spec: [{page: keras3, item: units}]
            layer: {units: 2, use_bias: false}
            arrays:
              x: {fill: 1.0, shape: [1, 3, 2]}
            weights:
              kernel: {eye: 2}
              recurrent_kernel: {value: [[0, 1], [1, 0]]}
            steps:
              - call: {inputs: x}
        """)
    (case,) = load_cases([path])
    setw = case.concrete()["steps"][2]
    assert setw["op"] == "set_weights"
    np.testing.assert_array_equal(setw["args"]["weights"][0], np.eye(2))
    np.testing.assert_array_equal(setw["args"]["weights"][1], [[0, 1], [1, 0]])
    assert len(setw["args"]["weights"]) == 2
    assert "no_bias" in case.concrete()["features"]


def test_create_step_first_gets_the_merged_layer(tmp_path):
    path = write(tmp_path, """\
        cases:
          - id: a/create
            description: d
            spec: [{page: keras3, item: units}]
            layer: {units: 2, activation: relu}
            steps:
              - create: {layer: {units: 0}}
                expect: {raises: {type: ValueError}}
        """)
    (case,) = load_cases([path])
    steps = case.concrete()["steps"]
    assert len(steps) == 1
    assert steps[0]["args"] == {"layer": {"units": 0, "activation": "relu"}}


def test_features():
    steps = [{"op": "call", "args": {"inputs": np.zeros((1, 3, 2), np.float16),
                                     "mask": np.array([[True, False, True]]), "training": True,
                                     "initial_state": None}},
             {"op": "reset_states", "args": {"states": [np.zeros((1, 2))]}}]
    found = features({"units": 2, "activation": None, "stateful": True, "use_bias": False, "dropout": 0.5,
                      "kernel_regularizer": "l2", "dtype": "mixed_float16"}, steps)
    assert {"activation:none", "stateful", "no_bias", "dropout", "regularizer", "dtype:mixed_float16",
            "mask", "mask:not_right_padded", "training", "input_dtype:float16", "reset_states:values",
            "op:call", "op:reset_states"} <= found
    assert "constraint" not in found and "return_state" not in found


def test_tolerance_override_as_written_in_the_docs(tmp_path):
    """docs/case-format.md writes `float32: {rtol: 1e-3, atol: 1e-3}`; that must load as numbers.

    (PyYAML's YAML 1.1 resolver reads `1e-3`, without a dot, as a string.)
    """
    path = write(tmp_path, """\
        cases:
          - id: a/tolerance
            description: d
            spec: [{page: keras3, item: units}]
            layer: {units: 2}
            tolerance: {reason: "1000 steps of a linear recurrence", float32: {rtol: 1e-3, atol: 1e-3}}
            steps: [{count_params: null}]
        """)
    cases, problems = load_file(path)
    assert problems == []
    assert cases[0].tolerance["float32"] == {"rtol": 0.001, "atol": 0.001}

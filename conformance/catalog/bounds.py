"""The bounds on what a case file may ask for, each with a default and an environment variable.

A case file is data from anywhere: it must not make the suite (or a target)
allocate without limit. Every bound is checked while the file is read, before
anything is built, and a file beyond one is refused with its file and line.

| bound | default | environment variable |
|---|---|---|
| bytes of one case file | 10 MB | CONFORMANCE_MAX_CASE_FILE_BYTES |
| YAML nesting depth | 64 | CONFORMANCE_MAX_YAML_DEPTH |
| YAML aliases (`*name`) in one file | 1,000 | CONFORMANCE_MAX_YAML_ALIASES |
| YAML nodes of one file, aliases expanded | 1,000,000 | CONFORMANCE_MAX_YAML_NODES |
| cases one `matrix:` entry expands to | 10,000 | CONFORMANCE_MAX_MATRIX_CASES |
| elements of any array a case asks for | 10,000,000 | CONFORMANCE_MAX_ARRAY_ELEMENTS |

`docs/guarantees.md` lists them with the bounds of the run and the reports.
"""

import math
import os

DEFAULTS = {
    "CONFORMANCE_MAX_CASE_FILE_BYTES": 10_000_000,
    "CONFORMANCE_MAX_YAML_DEPTH": 64,
    "CONFORMANCE_MAX_YAML_ALIASES": 1_000,
    "CONFORMANCE_MAX_YAML_NODES": 1_000_000,
    "CONFORMANCE_MAX_MATRIX_CASES": 10_000,
    "CONFORMANCE_MAX_ARRAY_ELEMENTS": 10_000_000,
}


class BoundError(ValueError):
    """A bound's environment variable holds something that is not a positive integer."""


def limit(name):
    """The bound `name` (a key of DEFAULTS): the environment's value, else the default."""
    text = os.environ.get(name, "").strip().replace("_", "")
    if not text:
        return DEFAULTS[name]
    try:
        value = int(text)
    except ValueError:
        raise BoundError(f"{name}={os.environ[name]!r}: expected a positive whole number") from None
    if value <= 0:
        raise BoundError(f"{name}={os.environ[name]!r}: expected a positive whole number")
    return value


# ----------------------------------------------------------------------------- arrays

_GENERATORS = ("random", "fill", "mask", "arange")


def array_elements(spec):
    """How many elements an array spec asks for, without building it (0 for a name or null)."""
    if not isinstance(spec, dict):
        return 0
    if "eye" in spec and isinstance(spec["eye"], int):
        return spec["eye"] ** 2
    shape = spec.get("shape")
    if any(k in spec for k in _GENERATORS + ("value",)) and isinstance(shape, list):
        return shape_elements(shape)
    return 0


def shape_elements(shape):
    """Elements of a shape ([2, null, 4]: null counts as 1); a list of shapes: the largest."""
    if shape and all(isinstance(s, list) for s in shape):
        return max(shape_elements(s) for s in shape)
    dims = [d for d in shape if isinstance(d, int) and not isinstance(d, bool)]
    return math.prod(dims) if dims else 0


def oversized_arrays(case, maximum):
    """(path, elements) for every array or shape of a (schema-valid) case dict beyond `maximum`.

    Looked at: named arrays, the arrays and input shapes of every step, case-level weights
    (drawn with the first call's input width and `units`), and `units` itself (a
    units x units recurrent kernel)."""
    found = []

    def check(path, elements):
        if elements > maximum:
            found.append((path, elements))

    for name, spec in (case.get("arrays") or {}).items():
        if isinstance(spec, dict):
            check(["arrays", name], array_elements(spec))
    layer = case.get("layer") or {}
    _check_units(layer, ["layer", "units"], check)
    for index, step in enumerate(case.get("steps") or ()):
        for op, args in step.items():
            if op == "expect" or not isinstance(args, dict):
                continue
            for key, value in args.items():
                if isinstance(value, dict):
                    if key == "layer":
                        _check_units({**layer, **value}, ["steps", index, op, key, "units"], check)
                    else:
                        check(["steps", index, op, key], array_elements(value))
                elif isinstance(value, list) and value:
                    if key == "input_shape":
                        check(["steps", index, op, key], shape_elements(value))
                    else:
                        for i, item in enumerate(value):
                            if isinstance(item, dict):
                                check(["steps", index, op, key, i], array_elements(item))
    weights = case.get("weights")
    if isinstance(weights, dict):
        for key, value in weights.items():
            if isinstance(value, dict):
                check(["weights", key], array_elements(value))
        units = layer.get("units")
        if "random" in weights and isinstance(units, int):
            width = _input_width(case)
            if isinstance(width, int):
                check(["weights"], width * units)
    return found


def _check_units(layer, path, check):
    units = layer.get("units")
    if isinstance(units, int) and not isinstance(units, bool) and units > 0:
        check(path, units * units)


def _input_width(case):
    """The last dimension of the first call's inputs, where the case file states it."""
    for step in case.get("steps") or []:
        for op in ("call", "gradients"):
            if isinstance(step.get(op), dict):
                spec, seen = step[op].get("inputs"), 0
                while isinstance(spec, str) and seen < 100:  # a name, perhaps of a name
                    spec, seen = (case.get("arrays") or {}).get(spec), seen + 1
                shape = spec.get("shape") if isinstance(spec, dict) else None
                if isinstance(shape, list) and shape and isinstance(shape[-1], int):
                    return shape[-1]
                return None
    return None

"""Matrix expansion: one case entry with `matrix:` becomes a case per combination.

    matrix: {activation: [tanh, relu], use_bias: [true, false]}
    layer: {units: 3, activation: $activation, use_bias: $use_bias}

gives four cases, with ids ending in [activation=tanh,use_bias=true] and so
on. A string that is exactly `$name` anywhere in the entry is replaced by the
variable's value (of any type); `exclude:` lists partial combinations to leave
out.
"""

import itertools
import json
import math
import re

from conformance.catalog import bounds


class MatrixError(ValueError):
    pass


def expand(entry):
    """Yield (case dict, variables) for each combination; an entry without a matrix yields itself."""
    matrix = entry.get("matrix")
    if not matrix:
        yield {k: v for k, v in entry.items() if k not in ("matrix", "exclude")}, {}
        return
    names = list(matrix)
    excludes = entry.get("exclude", [])
    for name in (n for ex in excludes for n in ex):
        if name not in matrix:
            raise MatrixError(f"exclude names {name!r}, which is not a matrix variable")
    body = {k: v for k, v in entry.items() if k not in ("matrix", "exclude")}
    combinations = math.prod(len(matrix[n]) if isinstance(matrix[n], list) else 1 for n in names)
    most = bounds.limit("CONFORMANCE_MAX_MATRIX_CASES")
    if combinations > most:
        raise MatrixError(f"{combinations:,} combinations, more than {most:,} (CONFORMANCE_MAX_MATRIX_CASES)")
    for values in itertools.product(*(matrix[n] for n in names)):
        variables = dict(zip(names, values))
        if any(all(_same(variables[k], v) for k, v in ex.items()) for ex in excludes):
            continue
        case = substitute(body, variables)
        case["id"] = f"{entry['id']}[{','.join(f'{n}={label(variables[n])}' for n in names)}]"
        yield case, variables


def substitute(tree, variables):
    if isinstance(tree, str) and tree.startswith("$") and tree[1:] in variables:
        return variables[tree[1:]]
    if isinstance(tree, str) and tree.startswith("$") and tree[1:].isidentifier():
        raise MatrixError(f"{tree} names no matrix variable (known: {', '.join(variables)})")
    if isinstance(tree, dict):
        return {k: substitute(v, variables) for k, v in tree.items()}
    if isinstance(tree, list):
        return [substitute(v, variables) for v in tree]
    return tree


def label(value):
    """A short, stable text for a variable's value in a case id."""
    return re.sub(r"[^A-Za-z0-9_.:+=-]", "_", _label(value))


def _label(value):
    if isinstance(value, list):
        return "+".join(_label(v) for v in value) or "empty"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        (k, v), = value.items()
        return f"{k}:{_label(v)}" if not isinstance(v, (dict, list)) else k
    if isinstance(value, dict) and "mask" in value:
        return str(value["mask"])
    if isinstance(value, dict) and "class_name" in value:
        return value["class_name"]
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _same(a, b):
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)

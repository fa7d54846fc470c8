"""The worker protocol as JSON Schemas (run/schemas/*.json, draft-07, protocol version 1).

One schema per message type (start, started, run, result, stop, fatal), one
for the value forms (values.json: arrays, shapes, observations, ...) and one
for the step operations (ops.json: each op's args and the value of its `ok`
observation). docs/protocol.md is written from them.

Two ways to check a message:

- `violation(message)`: the first violation with its field path
  (`steps[1].ok.__ndarray__.shape[0]: -1 is less than the minimum of 0`), by
  `jsonschema`; `conformance smoke` uses it, and `ops=` checks each `ok` value
  against its step's op as well.
- `reply_problem(message)`: a compiled check (`fastjsonschema`), cheap enough
  for every reply the runner reads from an `exec:` harness; it names the field too.

Version 1 harnesses stay valid: objects admit keys the schemas do not name,
ops the schemas do not know pass as any step, and `unsupported` feature
names are free strings.
"""

import functools
import json
from pathlib import Path

PROTOCOL_VERSION = 1
MESSAGE_TYPES = ("start", "started", "run", "result", "stop", "fatal")
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
BASE_URI = "https://simplernn-conformance.example/protocol/1/"


@functools.lru_cache(maxsize=None)
def load(name):
    """The schema document `name` (e.g. "result" or "values.json")."""
    name = name if name.endswith(".json") else name + ".json"
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


def schema_names():
    return sorted(p.stem for p in SCHEMA_DIR.glob("*.json"))


def ops():
    """{op: {"description", "args", "result"}}: every step operation of the protocol."""
    return load("ops")["ops"]


# --------------------------------------------------------------------------- jsonschema: full reports

@functools.lru_cache(maxsize=None)
def _registry():
    from referencing import Registry, Resource

    return Registry().with_resources(
        (load(name)["$id"], Resource.from_contents(load(name))) for name in schema_names())


@functools.lru_cache(maxsize=None)
def _validator(uri):
    import jsonschema

    return jsonschema.Draft7Validator({"$ref": uri}, registry=_registry())


def field_path(parts):
    """A jsonschema error's path as `steps[1].ok`: keys joined by dots, list indices in brackets."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _first(validator, value):
    import jsonschema

    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return None
    # In an anyOf (a value that may be several forms) the deepest error says most.
    while error.context:
        error = jsonschema.exceptions.best_match(error.context)
    return error


def violation(message, kind=None, ops=None):
    """None when `message` conforms, else "FIELD: what is wrong" for its first violation.

    kind: the message type to check against (default: its own `type`). ops: for a
    result, the op of each step of the case, to check every `ok` value's form too.
    """
    if not isinstance(message, dict):
        return f"(message): expected a JSON object, got {type(message).__name__}"
    kind = kind or message.get("type")
    if kind not in MESSAGE_TYPES:
        return f"type: {kind!r} is not one of {', '.join(MESSAGE_TYPES)}"
    uri = BASE_URI + f"{kind}.json"
    # The compiled check first (cheap); jsonschema only to explain a violation.
    error = None if _valid(uri, message) else _first(_validator(uri), message)
    if error is not None:
        return f"{field_path(error.absolute_path) or '(message)'}: {error.message}"
    if kind == "result" and ops is not None and isinstance(message.get("steps"), list):
        known = set(load("ops")["ops"])
        for index, (op, observation) in enumerate(zip(ops, message["steps"])):
            if op in known and isinstance(observation, dict) and "ok" in observation:
                uri = BASE_URI + f"ops.json#/ops/{op}/result"
                error = None if _valid(uri, observation["ok"]) else _first(_validator(uri), observation["ok"])
                if error is not None:
                    where = field_path(["steps", index, "ok", *error.absolute_path])
                    return f"{where}: {error.message} (the result of {op})"
    return None


# --------------------------------------------------------------------------- fastjsonschema: the runner's check

def _remote(uri):
    return load(uri.rsplit("/", 1)[1].split("#", 1)[0])


@functools.lru_cache(maxsize=None)
def _compiled(kind):
    import fastjsonschema

    return fastjsonschema.compile(load(kind), handlers={"https": _remote})


@functools.lru_cache(maxsize=None)
def _compiled_ref(uri):
    import fastjsonschema

    return fastjsonschema.compile({"$schema": "http://json-schema.org/draft-07/schema#", "$ref": uri},
                                  handlers={"https": _remote})


def _valid(uri, value):
    import fastjsonschema

    try:
        _compiled_ref(uri)(value)
        return True
    except fastjsonschema.JsonSchemaException:
        return False


def reply_problem(message):
    """None when a reply from a target conforms to its message type, else "FIELD: reason"."""
    import fastjsonschema

    kind = message.get("type") if isinstance(message, dict) else None
    if kind not in ("started", "result", "fatal"):
        return f"type: expected started, result or fatal, got {str(kind)[:40]!r}"
    try:
        _compiled(kind)(message)
    except fastjsonschema.JsonSchemaValueException as exc:
        # Only a broken reply pays for jsonschema's fuller account of what is wrong.
        where = (exc.name or "data").removeprefix("data").lstrip(".") or "(message)"
        return violation(message, kind) or f"{where}: {exc.message.removeprefix(exc.name or '').strip()}"
    return None


# --------------------------------------------------------------------------- the generated parts of docs/protocol.md

# The feature names a case carries (conformance.catalog.cases.features) and a harness may list as
# unsupported; tests/test_protocol_schemas.py checks that every name the catalog produces matches
# one of these patterns, and that every pattern occurs.
FEATURES = (
    ("op:<op>", "a step of the case has this op (the ops table)"),
    ("activation:<name>", "the activation's name (`activation:none` for null; a callable's own name too)"),
    ("activation:callable", 'the activation is given as a function, `{"callable": name}`'),
    ("return_sequences", "`return_sequences: true`"),
    ("return_state", "`return_state: true`"),
    ("go_backwards", "`go_backwards: true`"),
    ("stateful", "`stateful: true`"),
    ("unroll", "`unroll: true`"),
    ("no_bias", "`use_bias: false`"),
    ("dropout", "a non-zero `dropout`"),
    ("recurrent_dropout", "a non-zero `recurrent_dropout`"),
    ("regularizer", "some `*_regularizer` is set"),
    ("constraint", "some `*_constraint` is set"),
    ("initializer", "some of `kernel_initializer`, `recurrent_initializer`, `bias_initializer` is given"),
    ("dtype:<policy>", "the layer's dtype policy (`float32` when none is given; `float64`, `float16`, "
                       "`bfloat16`, `mixed_float16`, `mixed_bfloat16`)"),
    ("input_dtype:<dtype>", "the dtype of a call's (or gradients') inputs"),
    ("mask", "a call or gradients step passes a mask"),
    ("mask:not_right_padded", "a mask with a masked step before a kept one, or a masked first step"),
    ("initial_state", "a call or gradients step passes an initial state"),
    ("training", "a call passes `training: true`"),
    ("zero_timesteps", "inputs with 0 timesteps"),
    ("reset_states:values", "a reset_states step passes states"),
)

BEGIN, END = "<!-- generated: {} (conformance/run/schema.py; tests/test_protocol_schemas.py) -->", "<!-- end: {} -->"


def _brief(node, depth=0):
    """A schema node as a few words: `array`, `shape`, `list of arrays`, `bool or null`, ..."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        return {"ndarray": "array", "arrays": "list of arrays", "shape": "shape", "value": "any value",
                "shape_or_none": "shape or null", "array_or_none": "array or null",
                "arrays_or_none": "list of arrays or null", "layer_config": "layer config",
                "symbolic": "`{symbolic: {shape, dtype}}`", "callable": "`{callable}`",
                "serialized": "`{class_name, config}`", "no_args": "—"}.get(name, name)
    if "anyOf" in node:
        return " or ".join(_brief(n, depth) for n in node["anyOf"])
    if "allOf" in node:
        return _brief(node["allOf"][0], depth)
    kind = node.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        return "list of " + _brief(node.get("items", {}), depth + 1).replace("array", "arrays", 1) \
            if "items" in node else "list"
    if kind == "object" and "properties" in node and depth == 0:
        required = set(node.get("required", ()))
        return "{" + ", ".join(k + ("" if k in required else "?") for k in node["properties"]) + "}"
    return {"null": "null", "integer": "integer", "boolean": "bool", "number": "number"}.get(kind, kind or "any")


def _args(node):
    if node.get("$ref", "").endswith("no_args"):
        return "—"
    required = set(node.get("required", ()))
    return "; ".join(f"`{name}`{'' if name in required else ' (optional)'}: {_brief(spec, 1)}"
                     for name, spec in node.get("properties", {}).items())


def ops_table():
    rows = ["| op | args | `ok` value | what it does |", "|---|---|---|---|"]
    for op, spec in ops().items():
        result = spec["result"].get("description") or _brief(spec["result"])
        rows.append(f"| `{op}` | {_args(spec['args'])} | {result} | {spec['description']} |")
    return "\n".join(rows)


def features_table():
    return "\n".join(["| feature | the case has |", "|---|---|"]
                     + [f"| `{name}` | {meaning} |" for name, meaning in FEATURES])


def values_table():
    rows = ["| form | schema | what it is |", "|---|---|---|"]
    for name, spec in load("values")["definitions"].items():
        rows.append(f"| {name} | `values.json#/definitions/{name}` | {spec.get('description', _brief(spec))} |")
    return "\n".join(rows)


def generated_parts():
    """{part name: markdown}: the parts of docs/protocol.md that come from the schemas and the code."""
    return {"ops": ops_table(), "features": features_table(), "values": values_table()}


def render(text):
    """docs/protocol.md's text with every generated part replaced by what the code generates now."""
    for name, body in generated_parts().items():
        begin, end = BEGIN.format(name), END.format(name)
        head, found, rest = text.partition(begin)
        if not found:
            raise ValueError(f"docs/protocol.md has no {begin}")
        _, found, tail = rest.partition(end)
        if not found:
            raise ValueError(f"docs/protocol.md has no {end}")
        text = f"{head}{begin}\n{body}\n{end}{tail}"
    return text


if __name__ == "__main__":  # python -m conformance.run.schema docs/protocol.md: rewrite its generated parts
    import sys

    path = Path(sys.argv[1])
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")

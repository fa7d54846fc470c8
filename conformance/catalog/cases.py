"""Loading case files: parse safely, expand matrices, validate, and make concrete.

`load_cases(paths)` returns `Case` objects or raises `CaseFileError`, whose
problems each name the file, the line and the case id. `Case.concrete()`
turns a case into what a target receives: the layer config and a list of
steps whose arrays are NumPy arrays.
"""

import json
import os
import stat
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path

import fastjsonschema
import jsonschema

from conformance import arrays
from conformance.catalog import bounds
from conformance.catalog import expand as matrix
from conformance.catalog import quick, yamlfile
from conformance.catalog.paths import CASES_DIR as DEFAULT_CASES_DIR

PROFILES = ("keras2", "keras3")
STEP_OPS = ("create", "build", "call", "get_weights", "set_weights", "reset_states",
            "count_params", "compute_output_shape", "compute_mask", "get_config",
            "from_config", "losses", "get_property", "apply_constraints", "gradients", "save_and_load",
            "connect", "call_method")


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    case_id: str | None
    message: str

    def __str__(self):
        where = f"{self.path}:{self.line}" if self.line else self.path
        case = f" [{self.case_id}]" if self.case_id else ""
        return printable(f"{where}{case}: {self.message}")


def printable(text, most=2000):
    """One line of text for a terminal: control characters shown as escapes, cut at `most`."""
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))
    return text if len(text) <= most else text[:most] + f"... [{len(text) - most:,} more characters]"


class CaseFileError(Exception):
    def __init__(self, problems):
        self.problems = list(problems)
        first = str(self.problems[0])
        more = f" (and {len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
        super().__init__(first + more)


@dataclass
class Case:
    id: str
    description: str
    spec: list
    tags: list
    profiles: list
    layer: dict
    steps: list
    arrays: dict = field(default_factory=dict)
    weights: object = None
    tolerance: dict | None = None
    variables: dict = field(default_factory=dict)
    source: str = ""
    notes: str = ""

    @cached_property
    def _concrete(self):
        return _make_concrete(self)

    def concrete(self):
        """{"id", "config", "steps": [{"op", "args"}], "features"} with NumPy arrays."""
        return self._concrete

    @property
    def expectations(self):
        """The `expect:` block of each concrete step (None where a step has none)."""
        return [step.get("expect") for step in self._concrete["steps"]]


def _schema():
    text = resources.files("conformance.catalog").joinpath("schema/case.schema.json").read_text()
    return json.loads(text)


@cache
def _validator():
    """jsonschema's validator: the one that explains what is wrong, with the path."""
    return jsonschema.Draft202012Validator(_schema())


@cache
def _fast_check():
    """The same schema compiled to Python (fastjsonschema): a quick yes for the valid documents,
    which are nearly all of them; anything it refuses goes to `_validator` for the explanation."""
    return fastjsonschema.compile(_schema())


def schema_errors(document):
    """jsonschema's errors for a document, [] when it is valid."""
    try:
        _fast_check()(document)
        return []
    except fastjsonschema.JsonSchemaException:
        return list(_validator().iter_errors(document))


def case_files(paths=None):
    """The YAML files named by `paths` (files or folders, default cases/), sorted.

    Only regular files are read: a FIFO, a device or a socket named here is refused without
    being opened (opening a FIFO waits for a writer forever), and one inside a folder is refused
    in the same way, by its name."""
    paths = [Path(p) for p in (paths or [DEFAULT_CASES_DIR])]
    files = []
    for path in paths:
        kind = _kind(path)
        if kind == "folder":
            found = sorted(p for p in path.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
            if not found:
                raise CaseFileError([Problem(str(path), 0, None, "no case files (*.yaml) in this folder")])
            files.extend(p for p in found if _kind(p) != "folder")
        elif kind == "file":
            files.append(path)
        elif kind is None:
            raise CaseFileError([Problem(str(path), 0, None, "no such file or folder")])
        else:
            raise CaseFileError([Problem(str(path), 0, None, f"not a regular file ({kind}); not read")])
    bad = [(p, _kind(p)) for p in files if _kind(p) != "file"]
    if bad:
        raise CaseFileError([Problem(str(p), 0, None, f"not a regular file ({k}); not read") for p, k in bad])
    return files


def _kind(path):
    """"file", "folder", None (nothing there) or what else it is, from stat (nothing is opened)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be looked at: {exc.strerror}"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_text(path):
    """A case file's text: refused when it is not a regular file, too big, or not UTF-8.
    Raises yamlfile.YamlError (with the line of a bad byte) or OSError."""
    most = bounds.limit("CONFORMANCE_MAX_CASE_FILE_BYTES")
    # O_NONBLOCK: were the file swapped for a FIFO since case_files looked, open would not wait.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise yamlfile.YamlError(0, "not a regular file; not read")
        data = handle.read(most + 1)
    if len(data) > most:
        raise yamlfile.YamlError(0, f"larger than {most:,} bytes (CONFORMANCE_MAX_CASE_FILE_BYTES)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise yamlfile.YamlError(line, f"not UTF-8: byte 0x{data[exc.start]:02x} at line {line} "
                                       "(case files are UTF-8 text)") from None


def load_cases(paths=None):
    """Load, expand and validate every case; raise CaseFileError listing every problem."""
    cases, problems, seen = [], [], {}
    for path in case_files(paths):
        file_cases, file_problems = load_file(path)
        problems.extend(file_problems)
        for case in file_cases:
            if case.id in seen:
                problems.append(Problem(str(path), int(case.source.rsplit(":", 1)[-1]), case.id,
                                        f"duplicate case id (first defined at {seen[case.id]})"))
                continue
            seen[case.id] = case.source
            cases.append(case)
    if problems:
        raise CaseFileError(problems)
    return cases


def load_file(path):
    """Return (cases, problems) for one file."""
    path = Path(path)
    display = str(path)
    try:
        text = read_text(path)
    except yamlfile.YamlError as exc:
        return [], [Problem(display, exc.line, None, exc.message)]
    except OSError as exc:
        return [], [Problem(display, 0, None, f"cannot read: {exc.strerror or exc}")]
    try:
        raw = yamlfile.load(text)
    except yamlfile.YamlError as exc:
        return [], [Problem(display, exc.line, None, f"YAML error: {exc.message}")]
    if not isinstance(raw, dict):
        return [], [Problem(display, 1, None, "a case file must be a mapping with a `cases:` list")]
    problems = []
    # The file's frame (top-level keys, defaults) is checked before any case is expanded.
    frame = {k: v for k, v in raw.items() if k != "cases"}
    frame["cases"] = [{}]
    for error in schema_errors(frame):
        if list(error.absolute_path)[:1] != ["cases"]:
            path = list(error.absolute_path) + _unexpected_key(error)
            problems.append(Problem(display, yamlfile.line_of(raw, path), None, _message(error)))
    entries = raw.get("cases")
    if not isinstance(entries, list) or not entries:
        problems.append(Problem(display, getattr(raw, "line", 1), None, "`cases:` must be a non-empty list"))
        return [], problems
    if problems:
        return [], problems
    defaults = raw.get("defaults", {})
    most_elements = bounds.limit("CONFORMANCE_MAX_ARRAY_ELEMENTS")
    cases = []
    for index, entry in enumerate(entries):
        line = getattr(entry, "line", 0)
        case_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(entry, dict):
            problems.append(Problem(display, line, None, "a case must be a mapping"))
            continue
        try:
            expanded = list(matrix.expand(_with_defaults(entry, defaults)))
        except (matrix.MatrixError, KeyError, TypeError) as exc:
            problems.append(Problem(display, line, case_id, f"matrix: {exc}"))
            continue
        reported = set()  # a matrix entry reports each of its problems once
        for case_dict, variables in expanded:
            errors = schema_errors({"cases": [case_dict]})
            for error in errors:
                path = list(error.absolute_path)[2:] + _unexpected_key(error)
                problem = Problem(display, yamlfile.line_of(entry, path) or line, case_id, _message(error))
                if problem not in reported:
                    reported.add(problem)
                    problems.append(problem)
            if errors:
                continue
            # Before anything is allocated: every array and shape the case asks for is bounded.
            oversized = bounds.oversized_arrays(case_dict, most_elements)
            for where, elements in oversized:
                problem = Problem(display, yamlfile.line_of(entry, where) or line, case_id,
                                  f"{'.'.join(map(str, where))}: asks for {elements:,} elements, more than "
                                  f"{most_elements:,} (CONFORMANCE_MAX_ARRAY_ELEMENTS)")
                if problem not in reported:
                    reported.add(problem)
                    problems.append(problem)
            if oversized:
                continue
            case = _to_case(case_dict, variables, f"{display}:{line}")
            try:
                case.concrete()
            except (arrays.ArraySpecError, KeyError, ValueError, TypeError) as exc:
                problem = Problem(display, line, case_id, f"cannot build the case: {exc}")
                if problem not in reported:
                    reported.add(problem)
                    problems.append(problem)
                continue
            cases.append(case)
    return cases, problems


def _with_defaults(entry, defaults):
    merged = dict(entry)
    for key in ("profiles", "tags", "spec", "tolerance"):
        if key in defaults and key not in entry:
            merged[key] = defaults[key]
    if "tags" in defaults and "tags" in entry:
        merged["tags"] = list(dict.fromkeys(list(defaults["tags"]) + list(entry["tags"])))
    if "layer" in defaults:
        merged["layer"] = {**defaults["layer"], **entry.get("layer", {})}
    return merged


def _unexpected_key(error):
    """For an unknown key, the key itself, so that the problem points at its line."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})), key=str)
        return extra[:1]
    return []


def _message(error):
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        return f"unknown key: {error.message}" + (f" (at {path})" if path else "")
    if error.validator == "oneOf" and error.context:
        best = min(error.context, key=lambda e: len(list(e.absolute_path)))
        return f"{path}: {best.message}" if path else best.message
    return f"{path}: {error.message}" if path else error.message


def _to_case(d, variables, source):
    return Case(
        id=d["id"], description=d["description"], spec=d["spec"], tags=quick.tags_for(d["id"], list(d.get("tags", []))),
        profiles=list(d.get("profiles", PROFILES)), layer=dict(d["layer"]), steps=list(d["steps"]),
        arrays=dict(d.get("arrays", {})), weights=d.get("weights"), tolerance=d.get("tolerance"),
        variables=variables, source=source, notes=d.get("notes", ""))


# --------------------------------------------------------------------------- concrete cases

def _make_concrete(case):
    named = {name: arrays.materialize(spec) for name, spec in case.arrays.items()
             if not isinstance(spec, str)}

    def array(ref):
        if ref is None:
            return None
        if isinstance(ref, str):
            if ref not in case.arrays:
                raise KeyError(f"no array named {ref!r} in this case")
            target = case.arrays[ref]
            return named[ref] if not isinstance(target, str) else array(target)
        return arrays.materialize(ref)

    steps = []
    for raw in case.steps:
        (op,) = [k for k in raw if k != "expect"]
        args = dict(raw[op] or {})
        if op == "call":
            args = {"inputs": array(args["inputs"]), "mask": array(args.get("mask")),
                    "training": args.get("training"),
                    "initial_state": None if args.get("initial_state") is None
                    else [array(s) for s in args["initial_state"]]}
        elif op == "gradients":
            args = {"inputs": array(args["inputs"]), "mask": array(args.get("mask")),
                    "initial_state": None if args.get("initial_state") is None
                    else [array(s) for s in args["initial_state"]]}
        elif op == "set_weights":
            args = {"weights": [array(w) for w in args["weights"]]}
        elif op == "call_method":
            args = {"name": args["name"], "args": [array(a) if isinstance(a, (str, dict)) else a
                                                   for a in args.get("args", [])]}
        elif op == "reset_states":
            args = {"states": None if args.get("states") is None else [array(s) for s in args["states"]]}
        elif op == "compute_mask":
            args = {"inputs": array(args["inputs"]), "mask": array(args.get("mask"))}
        elif op == "create":
            args = {"layer": {**case.layer, **args.get("layer", {})}}
        steps.append({"op": op, "args": args, "expect": raw.get("expect")})
    if not steps or steps[0]["op"] != "create":
        steps.insert(0, {"op": "create", "args": {"layer": dict(case.layer)}, "expect": None})
    if case.weights not in (None, "initializers"):
        steps = _insert_initial_weights(case, steps, array)
    return {"id": case.id, "config": dict(case.layer), "steps": steps,
            "features": sorted(features(case.layer, steps)), "tolerance": case.tolerance}


def _insert_initial_weights(case, steps, array):
    """Case-level `weights:` become a build with the first call's input shape, then set_weights."""
    first_call = next((s for s in steps if s["op"] in ("call", "gradients")), None)
    if first_call is None:
        raise ValueError("`weights:` needs a `call` or `gradients` step to take the input shape from")
    shape = list(first_call["args"]["inputs"].shape)
    units, use_bias = case.layer["units"], case.layer.get("use_bias", True)
    spec = case.weights
    if "random" in spec:
        seed = spec.get("seed", 0)
        shapes = [(shape[-1], units), (units, units)] + ([(units,)] if use_bias else [])
        values = [arrays.materialize({"random": spec["random"], "shape": list(s), "seed": seed + i,
                                      "scale": spec.get("scale", 1.0),
                                      "dtype": spec.get("dtype", "float32")})
                  for i, s in enumerate(shapes)]
    else:
        values = [array(spec["kernel"]), array(spec["recurrent_kernel"])]
        if use_bias:
            values.append(array(spec["bias"]))
    at = next(i for i, s in enumerate(steps) if s["op"] != "create")
    return steps[:at] + [{"op": "build", "args": {"input_shape": shape}, "expect": None},
                         {"op": "set_weights", "args": {"weights": values}, "expect": None}] + steps[at:]


def features(config, steps):
    """What a case exercises, as feature names an adapter may declare unsupported."""
    found = {f"op:{s['op']}" for s in steps}
    activation = config.get("activation", "tanh")
    if activation is None:
        found.add("activation:none")
    elif isinstance(activation, dict):
        found.add("activation:callable")
        found.add(f"activation:{activation.get('callable', 'custom')}")
    else:
        found.add(f"activation:{activation}")
    for flag in ("return_sequences", "return_state", "go_backwards", "stateful", "unroll"):
        if config.get(flag):
            found.add(flag)
    if config.get("use_bias") is False:
        found.add("no_bias")
    for rate in ("dropout", "recurrent_dropout"):
        if config.get(rate):
            found.add(rate)
    for kind in ("regularizer", "constraint"):
        if any(config.get(k) for k in config if k.endswith(kind)):
            found.add(kind)
    for name in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
        if name in config:
            found.add("initializer")
    dtype = config.get("dtype")
    if isinstance(dtype, dict):
        dtype = dtype.get("config", {}).get("name")
    found.add(f"dtype:{dtype or 'float32'}")
    for step in steps:
        args = step["args"]
        if step["op"] in ("call", "gradients"):
            if args.get("mask") is not None:
                found.add("mask")
                mask = args["mask"]
                right_padded = all(not row[i + 1] or row[i] for row in mask for i in range(len(row) - 1))
                if not right_padded or not mask[:, 0].all():
                    found.add("mask:not_right_padded")
            if args.get("initial_state") is not None:
                found.add("initial_state")
            if args.get("training"):
                found.add("training")
            x = args.get("inputs")
            if x is not None:
                found.add(f"input_dtype:{x.dtype}")
                if x.ndim == 3 and x.shape[1] == 0:
                    found.add("zero_timesteps")
        if step["op"] == "reset_states" and args.get("states") is not None:
            found.add("reset_states:values")
    return found

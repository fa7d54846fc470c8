"""Golden fixtures: every case with its expected outcome, for implementers in any language.

`conformance fixtures --out DIR [-k EXPR] [--profile P] [--cases PATH]` writes

    DIR/index.json                       suite version, how the folder was made, the cases
    DIR/checksums.sha256                 SHA-256 of every other file (`sha256sum -c` reads it)
    DIR/cases/<case>/case.json           the manifest of one case
    DIR/cases/<case>/arrays/<name>.npy   each array as NumPy .npy (format 1.0, little-endian)
    DIR/cases/<case>/arrays/<name>.json  the same array as plain JSON (flat, row-major)

A manifest holds the layer config, the steps with their arguments, the
tolerance policy resolved for the case, and the expected outcome of every step
(values as array references or literals, exceptions by type name, the
implementation-defined variants). docs/fixtures.md describes the format.

The output is byte-identical across runs and machines for one suite version:
no timestamps or absolute paths, sorted keys, floats written as the shortest
text that reads back to the stored value, .npy headers written here rather
than by NumPy. Expected values are the float64 reference rounded to float32
(float64 where the layer computes in float64): a last-bit difference of the
float64 arithmetic between machines (BLAS kernels) then does not change the
stored bytes, and float32 rounding (3e-8 relative) is far inside every
tolerance.
"""

import hashlib
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np

import conformance

from conformance.judge import tolerance as tolerance_policy
from conformance.arrays import Observed
from conformance.catalog.cases import DEFAULT_CASES_DIR, load_cases
from conformance.judge.compare import CONFIG_KEYS
from conformance.judge.expected import expected_outcome
from conformance.catalog.select import select
from conformance.tools.export_cases import plain

FORMAT_VERSION = 1
ROOT = DEFAULT_CASES_DIR.parent
CHECKSUMS = "checksums.sha256"
INDEX = "index.json"
_FLOAT_STORAGE = {"float64": "float64"}  # every other float dtype is stored as float32
_INT_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8"}

COMPARISON = {
    "arrays": "same shape, same dtype name, same NaN/Inf positions, then elementwise "
              "|actual - expected| <= atol + rtol * |expected| with (rtol, atol) = tolerance.by_dtype[the "
              "expected array's dtype]",
    "numbers": "integers exactly; floats as arrays",
    "get_config": "only these keys are compared (after normalizing serialized objects to "
                  "{class_name, config} without null entries): " + ", ".join(CONFIG_KEYS),
    "get_config_keys": list(CONFIG_KEYS),
    "losses": "compared in sorted order",
    "raises": "the implementation raises an exception whose type, or one of its base types, has "
              "one of the accepted names: expect.raises.type (a name or a list of names) when the step "
              "has one, else expected.type, the reference's own class; expected.types (its bases) is "
              "informative; expect.raises.match, when present, is a regular expression the message "
              "must match",
    "checks": "each of expect.checks (with every parameter written out) holds on the returned "
              "value; `checks` at the top of the manifest gives each one's formula",
    "any_of": "the step conforms when one of the variants does: its `expect` checks hold and the "
              "values match its `expected`",
}


# The property checks of judge/checks.py, stated so that a reader in any language can evaluate
# them (docs/fixtures.md). A is the checked array: the value's `output`-th element when the value
# is a list, else the value itself, in float64; a value that is no array makes the step an error.
# zero(x) is abs(x) <= 1e-8. Statistics are over all elements; std is the population standard
# deviation (divided by N). A check passes when every condition holds.
CHECK_FORMULAS = {
    "finite": "every element of A is finite",
    "values_in": "every element a of A has some v in `values` with abs(a - v) <= atol * max(1, abs(v))",
    "zero_pattern_constant_over_time": "zero(A[b, t, u]) == zero(A[b, 0, u]) for every b, t, u "
                                       "(A is (batch, timesteps, units))",
    "fraction_zero_between": "low <= (number of elements with zero(a)) / size(A) <= high",
    "fraction_kept_between": "low <= (number of elements with not zero(a)) / size(A) <= high",
    "recurrent_dropout_powers": "A has 3 dimensions (batch, timesteps, units); with s = 1 / (1 - rate), "
                                "every column (b, u) is either kept: abs(A[b, t, u] - s**(t+1)) <= atol + "
                                "atol * s**(t+1) at every t, or dropped: abs(A[b, t, u]) <= atol at every t",
    "within_bounds": "A is empty, or min(A) >= low - atol and max(A) <= high + atol",
    "moments": "abs(mean(A) - mean) <= mean_atol and abs(std(A) - std) <= std_rtol * std",
    "variance_scaling": "with (fan_in, fan_out) = (shape[0], shape[1]) for a matrix, (shape[0], shape[0]) "
                        "for a vector; n = fan_in, fan_out or (fan_in + fan_out) / 2 by `mode`; "
                        "variance = scale / max(1, n); sd = sqrt(variance): "
                        "abs(std(A) - sd) <= std_rtol * sd, and abs(mean(A)) <= mean_standard_errors * sd / "
                        "sqrt(size(A)) + 1e-12, "
                        "and for distribution uniform max(abs(A)) <= sqrt(3 * variance) * (1 + 1e-6), for "
                        "truncated_normal max(abs(A)) <= 2 * sd / 0.87962566103423978 * (1 + 1e-6) "
                        "(no bound for normal)",
    "orthogonal": "A has 2 dimensions; G = A^T A when rows >= columns, else A A^T: "
                  "max(abs(G - gain^2 I)) <= atol * max(1, gain^2)",
    "constant": "max(abs(A - fill)) <= atol * max(1, abs(fill)) (0 for an empty A)",
    "not_all_equal": "size(A) < 2, or max(A) - min(A) > 0",
}
CHECK_TERMS = {
    "A": "the checked array: the value's `output`-th element when the value is a list, else the value; "
         "in float64; a value that is no array (or a list too short) makes the step an error",
    "zero(x)": "abs(x) <= 1e-8",
    "std": "the population standard deviation (divided by the number of elements)",
    "NaN": "a NaN makes every comparison it enters false, and max, min, mean and std of an array "
           "holding one NaN are NaN",
}
COMPARISON["check_terms"] = "; ".join(f"{term}: {meaning}" for term, meaning in CHECK_TERMS.items())


def declared_check(spec):
    """A check of a case with every parameter written out (the defaults of judge/checks.py filled in)."""
    import inspect

    from conformance.judge import checks

    function = checks.CHECKS.get(spec.get("check"))
    if function is None:
        return dict(spec)
    defaults = {name: p.default for name, p in inspect.signature(function).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **spec}


def _declare_checks(expect):
    if expect.get("checks"):
        expect["checks"] = [plain(declared_check(spec)) for spec in expect["checks"]]
    return expect


def _checks_used(steps):
    names = set()
    for step in steps:
        for expect in [step.get("expect") or {}] + [o["expect"] for o in step.get("any_of", [])]:
            names.update(spec.get("check") for spec in expect.get("checks", []))
    return {name: CHECK_FORMULAS.get(name, "undefined: no formula is known for this check")
            for name in sorted(n for n in names if n)}


class FixtureError(Exception):
    pass


# --------------------------------------------------------------------------- encoding

def npy_bytes(array):
    """An array as .npy format 1.0, written here so that the bytes never depend on NumPy's version."""
    array = np.array(array, order="C")  # (np.ascontiguousarray would turn a 0-d array into 1-d)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    descr = array.dtype.str
    shape = f"({array.shape[0]},)" if array.shape and array.ndim == 1 else "(" + ", ".join(str(d) for d in array.shape) + ")"
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * (pad % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1") + array.tobytes()


def _number(value, storage):
    """A stored value as JSON data: the shortest text that reads back to it; NaN/Inf as strings."""
    if storage == "bool":
        return bool(value)
    if storage in _INT_DTYPES:
        return int(value)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if storage == "float32":
        return float(str(np.float32(value)))  # shortest float32 text, read as a double
    if storage == "float16":
        return float(str(np.float16(value)))
    return value


def _storage(dtype_name, expected):
    """The dtype an array is stored in: expected values in float32 (float64 when computed in float64)."""
    if dtype_name in _INT_DTYPES:
        return dtype_name
    if expected:
        return _FLOAT_STORAGE.get(dtype_name, "float32")
    return dtype_name if dtype_name in ("float16", "float32", "float64") else "float32"


def dumps(data, compact=False):
    """Deterministic JSON: sorted keys, ASCII, no NaN (they are strings by then)."""
    if compact:
        return json.dumps(data, sort_keys=True, ensure_ascii=True, allow_nan=False, separators=(",", ":")) + "\n"
    return json.dumps(data, sort_keys=True, ensure_ascii=True, allow_nan=False, indent=1) + "\n"


def sanitize(text):
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_.") or "x"


def case_dirname(case_id):
    """A folder name for a case id: readable, portable, unique (a short hash of the id)."""
    readable = sanitize(case_id.replace("/", "__"))[:120]
    return f"{readable}-{hashlib.sha256(case_id.encode('utf-8')).hexdigest()[:8]}"


class _CaseWriter:
    def __init__(self, folder, files):
        self.folder = folder
        self.files = files
        self.names = set()

    def array(self, name, values, dtype_name, expected=False):
        name = sanitize(name)
        if name in self.names:
            raise FixtureError(f"two arrays named {name} in {self.folder}")
        self.names.add(name)
        storage = _storage(dtype_name, expected)
        stored = np.asarray(values).astype(storage)
        base = f"{self.folder}/arrays/{name}"
        self.files[base + ".npy"] = npy_bytes(stored)
        flat = [_number(v, storage) for v in stored.reshape(-1).tolist()]
        self.files[base + ".json"] = dumps({"dtype": dtype_name, "storage": storage, "shape": list(stored.shape),
                                            "data": flat}, compact=True).encode("ascii")
        return {"__array__": {"dtype": dtype_name, "storage": storage, "shape": list(stored.shape),
                              "npy": f"arrays/{name}.npy", "json": f"arrays/{name}.json"}}

    def tree(self, name, value, expected=False):
        """A value with its arrays written out as files and replaced by references."""
        if isinstance(value, Observed):
            return self.array(name, value.array, value.dtype, expected)
        if isinstance(value, np.ndarray):
            return self.array(name, value, str(value.dtype), expected)
        if isinstance(value, dict):
            return {str(k): self.tree(f"{name}.{k}", v, expected) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.tree(f"{name}.{i}", v, expected) for i, v in enumerate(value)]
        return plain(value)

    def outcome(self, name, observation, compared=True):
        if "ok" in observation:
            if not compared:  # random values (dropout, initializers): only their structure is kept
                return {"outcome": "value", "compare": False, "value": skeleton(observation["ok"])}
            return {"outcome": "value", "value": self.tree(name, observation["ok"], expected=True)}
        if "raised" in observation:
            raised = observation["raised"]
            return {"outcome": "raises", "type": raised["type"], "types": list(raised.get("types", [raised["type"]])),
                    "reference_message": raised.get("message", "")}
        if "skipped" in observation:
            return {"outcome": "skipped", "reason": observation["skipped"]}
        return {"outcome": "unsupported", "reason": observation.get("unsupported", "")}


def skeleton(value):
    """A value whose numbers are not compared: arrays as dtype and shape only, other numbers as null."""
    if isinstance(value, Observed):
        return {"__array__": {"dtype": value.dtype, "shape": value.shape, "not_stored": "not compared"}}
    if isinstance(value, np.ndarray):
        return {"__array__": {"dtype": str(value.dtype), "shape": list(value.shape), "not_stored": "not compared"}}
    if isinstance(value, dict):
        return {str(k): skeleton(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [skeleton(v) for v in value]
    if isinstance(value, float):
        return None
    return plain(value)


# --------------------------------------------------------------------------- manifests

def _relative_source(path):
    path = Path(path)
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.name


def timesteps_of(concrete):
    """The sequence length the tolerance policy widens by (as compare.judge computes it)."""
    return max([s["args"]["inputs"].shape[1] for s in concrete["steps"]
                if s["op"] == "call" and getattr(s["args"].get("inputs"), "ndim", 0) == 3] or [1])


def case_tolerance(case, concrete):
    steps = timesteps_of(concrete)
    override = plain(case.tolerance) if case.tolerance else None
    by_dtype = {}
    for dtype in tolerance_policy.BASE:
        rtol, atol = tolerance_policy.tolerance(dtype, steps, override)
        by_dtype[dtype] = {"rtol": rtol, "atol": atol}
    return {"timesteps": steps, "override": override, "by_dtype": by_dtype,
            "rule": "|actual - expected| <= atol + rtol * |expected|, elementwise"}


def case_manifest(case, files, folder):
    """The manifest of one case (a dict); its arrays go into `files`."""
    concrete = case.concrete()
    expected, variants = expected_outcome(concrete)
    writer = _CaseWriter(folder, files)
    steps = []
    for index, step in enumerate(concrete["steps"]):
        prefix = f"s{index}"
        entry = {"index": index, "op": step["op"],
                 "args": writer.tree(f"{prefix}.{step['op']}", step["args"])}
        expect = _declare_checks(plain(step.get("expect") or {}))
        options = expect.pop("any_of", None)
        if expect:
            entry["expect"] = expect
        entry["expected"] = writer.outcome(f"{prefix}.expected", expected[index], expect.get("compare", True))
        if options:
            entry["any_of"] = []
            for option in options:
                name = option["variant"]
                observations = variants.get(name)
                compared = option.get("compare", expect.get("compare", True))
                if observations is not None or compared != expect.get("compare", True):
                    outcome = writer.outcome(f"{prefix}.variant-{name}", (observations or expected)[index], compared)
                else:
                    outcome = entry["expected"]
                entry["any_of"].append({
                    "variant": name, "description": option.get("description", ""),
                    "reference_choices": option.get("reference") or {},
                    "expect": _declare_checks({k: v for k, v in option.items()
                                               if k not in ("variant", "description", "reference")}),
                    "expected": outcome})
        steps.append(entry)
    return {
        "format": FORMAT_VERSION,
        "suite": {"name": conformance.SUITE_NAME, "version": conformance.__version__},
        "id": case.id,
        "description": " ".join(str(case.description).split()),
        "source": _relative_source(case.source.rsplit(":", 1)[0]),
        "spec": plain(case.spec),
        "tags": list(case.tags),
        "profiles": list(case.profiles),
        "variables": plain(case.variables),
        "notes": " ".join(str(case.notes or "").split()),
        "features": list(concrete["features"]),
        "config": plain(concrete["config"]),
        "tolerance": case_tolerance(case, concrete),
        "comparison": COMPARISON,
        "checks": _checks_used(steps),
        "steps": steps,
    }


def generate(cases, selection):
    """{relative path: bytes} of a whole fixture folder for these (already selected) cases."""
    files = {}
    index_cases = []
    seen = set()
    for case in sorted(cases, key=lambda c: c.id):
        folder = f"cases/{case_dirname(case.id)}"
        if folder in seen:
            raise FixtureError(f"two cases share the folder {folder}")
        seen.add(folder)
        manifest = case_manifest(case, files, folder)
        files[f"{folder}/case.json"] = dumps(manifest).encode("ascii")
        index_cases.append({"id": case.id, "manifest": f"{folder}/case.json", "profiles": list(case.profiles),
                            "tags": list(case.tags), "features": manifest["features"]})
    index = {
        "format": FORMAT_VERSION,
        "suite": {"name": conformance.SUITE_NAME, "version": conformance.__version__},
        "generated_with": selection,
        "tolerance_policy": {"base": tolerance_policy.BASE, "reference_steps": tolerance_policy.REFERENCE_STEPS,
                             "growth": "bounds grow by max(1, timesteps / reference_steps) unless a case overrides"},
        "checksums": CHECKSUMS,
        "count": len(index_cases),
        "cases": index_cases,
    }
    files[INDEX] = dumps(index).encode("ascii")
    files[CHECKSUMS] = checksum_list(files).encode("ascii")
    return files


def checksum_list(files):
    return "".join(f"{hashlib.sha256(files[p]).hexdigest()}  {p}\n" for p in sorted(files) if p != CHECKSUMS)


def selection_info(case_paths=None, keyword=None, profile=None):
    """How a folder was made, without anything that depends on the machine."""
    paths = [_relative_source(p) for p in case_paths] if case_paths else None
    command = "conformance fixtures --out DIR"
    for path in paths or []:
        command += f" --cases {path}"
    if keyword:
        command += " -k " + ("'" + keyword.replace("'", "'\\''") + "'")
    if profile:
        command += f" --profile {profile}"
    return {"cases": paths, "keyword": keyword, "profile": profile, "command": command}


def build(case_paths=None, keyword=None, profile=None):
    """Load, select and generate: {relative path: bytes}."""
    cases = load_cases(case_paths)
    chosen, _ = select(cases, keyword=keyword, profile=profile)
    if not chosen:
        raise FixtureError("no case selected")
    return generate(chosen, selection_info(case_paths, keyword, profile))


def rebuild(folder):
    """Generate a folder again from the selection its index.json records (paths relative to the suite)."""
    index = json.loads((Path(folder) / INDEX).read_text(encoding="utf-8"))
    made = index["generated_with"]
    paths = [str(ROOT / p) for p in made["cases"]] if made.get("cases") else None
    files = build(paths, made.get("keyword"), made.get("profile"))
    return files


# --------------------------------------------------------------------------- writing and checking

def write(files, out):
    """Write a folder; an existing fixture folder there is replaced, any other non-empty folder refused."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not (out / INDEX).is_file() or not (out / CHECKSUMS).is_file():
            raise FixtureError(f"{out} is not empty and holds no fixtures: refusing to overwrite it")
        for child in out.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    for rel in sorted(files):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[rel])


def differences(files, folder):
    """What differs between generated files and a folder on disk (empty when identical)."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder} does not exist"]
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    problems = [f"missing: {p}" for p in sorted(set(files) - on_disk)]
    problems += [f"not generated (stale): {p}" for p in sorted(on_disk - set(files))]
    problems += [f"differs: {p}" for p in sorted(set(files) & on_disk) if (folder / p).read_bytes() != files[p]]
    return problems


def verify(folder):
    """Check a folder against its checksums.sha256: a list of problems (empty when intact)."""
    folder = Path(folder)
    problems, listed = [], set()
    for line in (folder / CHECKSUMS).read_text(encoding="ascii").splitlines():
        digest, rel = line.split("  ", 1)
        listed.add(rel)
        path = folder / rel
        if not path.is_file():
            problems.append(f"missing: {rel}")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"checksum differs: {rel}")
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {CHECKSUMS}
    problems += [f"not in {CHECKSUMS}: {p}" for p in sorted(on_disk - listed)]
    return problems


def total_size(files):
    return sum(len(b) for b in files.values())


# --------------------------------------------------------------------------- command line

def cmd_fixtures(args):
    import sys

    try:
        if args.regenerate:
            files = rebuild(args.out)
        else:
            files = build(args.cases, args.keyword, args.profile)
    except FixtureError as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return 2
    count = json.loads(files[INDEX])["count"]
    if args.check:
        problems = differences(files, args.out)
        for problem in problems[:50]:
            print(f"conformance: fixtures drift: {problem}", file=sys.stderr)
        if problems:
            print(f"conformance: {args.out} differs from the generated fixtures in {len(problems)} files; "
                  f"regenerate with: conformance fixtures --out {args.out} --regenerate", file=sys.stderr)
            return 1
        print(f"{args.out}: {count} cases, {len(files)} files: up to date")
        return 0
    try:
        write(files, args.out)
    except FixtureError as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: {count} cases, {len(files)} files, {total_size(files) / 1024:.0f} KiB "
          f"(suite {conformance.__version__})")
    return 0

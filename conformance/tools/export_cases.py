"""`conformance export-cases --out DIR`: the catalog as JSON, for consumers that are not Python.

Writes, deterministically (sorted keys, no timestamps, no absolute paths):

    DIR/catalog.json         the suite and catalog versions, then every case after matrix expansion
    DIR/catalog.schema.json  the JSON Schema of catalog.json
    DIR/case.schema.json     the schema of one case as the case files write it (`$defs/case`)

Each case is given twice: `case`, as the case file says it once its matrix is
expanded (array specs such as `{random: normal, seed: 3}` unevaluated; it
validates against case.schema.json's `$defs/case`), and `steps`, what a target
is sent: every array made concrete as `{"dtype", "shape", "data"}` (flat,
row-major; NaN and infinities as the strings "NaN", "Infinity", "-Infinity"),
the case-level `weights:` turned into `build` and `set_weights` steps. The
expected values are not here: `conformance fixtures` writes those.
"""

import json
import math
from importlib import resources
from pathlib import Path

import numpy as np

import conformance
from conformance.catalog import paths

FORMAT_VERSION = 1
CASE_FIELDS = ("id", "description", "spec", "tags", "profiles", "layer", "arrays", "weights", "steps",
               "tolerance", "notes")


def plain(value):
    """Case data (YAML mappings with line numbers, tuples, NumPy values) as JSON data."""
    if isinstance(value, np.ndarray):
        return {"dtype": str(value.dtype), "shape": list(value.shape),
                "data": [plain(v) for v in value.reshape(-1).tolist()]}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def case_as_written(case):
    """The expanded case as the case format writes it (what case.schema.json's `$defs/case` describes)."""
    out = {}
    for name in CASE_FIELDS:
        value = getattr(case, name)
        if value not in (None, "", {}, []) or name in ("id", "description", "spec", "layer", "steps"):
            out[name] = plain(value)
    return out


def export_case(case):
    concrete = case.concrete()
    source_file, _, line = case.source.rpartition(":")
    return {"id": case.id, "source": {"file": Path(source_file).name, "line": int(line) if line.isdigit() else None},
            "features": list(concrete["features"]), "case": case_as_written(case),
            "steps": [{"op": s["op"], "args": plain(s["args"]), "expect": plain(s.get("expect"))}
                      for s in concrete["steps"]]}


def case_schema():
    return json.loads(resources.files("conformance.catalog").joinpath("schema/case.schema.json").read_text())


def catalog_schema():
    """The schema of catalog.json; each case's `case` is checked against the case-file schema."""
    array = {"type": "object", "required": ["dtype", "shape", "data"],
             "properties": {"dtype": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
                            "data": {"type": "array"}}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "SimpleRNN conformance catalog, exported",
        "type": "object",
        "required": ["format", "suite", "catalog", "count", "cases"],
        "properties": {
            "format": {"const": FORMAT_VERSION},
            "suite": {"type": "object", "required": ["name", "version"]},
            "catalog": {"type": "object"},
            "selection": {"type": "object"},
            "count": {"type": "integer"},
            "cases": {"type": "array", "items": {
                "type": "object", "required": ["id", "source", "features", "case", "steps"],
                "properties": {
                    "id": {"type": "string"},
                    "features": {"type": "array", "items": {"type": "string"}},
                    "case": {"$ref": "case.schema.json#/$defs/case"},
                    "steps": {"type": "array", "items": {
                        "type": "object", "required": ["op", "args"],
                        "properties": {"op": {"type": "string"}, "args": {"type": "object"},
                                       "expect": {"type": ["object", "null"]}}}}}}},
        },
        "$defs": {"array": array},
    }


def build(cases, selection):
    """{file name: text} of the export."""
    catalog = paths.catalog_info() if not selection.get("cases") else {"version": None, "custom": selection["cases"]}
    document = {"format": FORMAT_VERSION,
                "suite": {"name": conformance.SUITE_NAME, "version": conformance.__version__},
                "catalog": catalog, "selection": selection, "count": len(cases),
                "cases": [export_case(c) for c in sorted(cases, key=lambda c: c.id)]}

    def dumps(data, indent=None):
        return json.dumps(data, sort_keys=True, ensure_ascii=True, allow_nan=False, indent=indent,
                          separators=(",", ":") if indent is None else None) + "\n"

    return {"catalog.json": dumps(document), "catalog.schema.json": dumps(catalog_schema(), 1),
            "case.schema.json": dumps(case_schema(), 1)}


def cmd_export_cases(args):
    from conformance.catalog.cases import load_cases
    from conformance.catalog.select import select

    chosen, _ = select(load_cases(args.cases), keyword=args.keyword, profile=args.profile)
    if not chosen:
        raise ValueError("no case selected" + (f" (-k {args.keyword!r})" if args.keyword else ""))
    selection = {"cases": [Path(c).name for c in args.cases] if args.cases else None,
                 "keyword": args.keyword, "profile": args.profile}
    files = build(chosen, selection)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    size = sum(len(t) for t in files.values())
    version = paths.catalog_version() if not args.cases else "custom case files"
    print(f"{out}: {len(chosen)} cases (catalog {version}), {size / 1e6:.1f} MB")
    return 0

"""The quick tier: the per-commit subset of the catalog that still kills every mutant.

`quick.json` (beside this file) lists its case ids. It is data, computed by a greedy set
cover over the kill matrix (which case kills which mutant) and the spec items the cases
cite: the cheapest cases that together kill every mutant of conformance/targets/mutants.py
and cite every argument, property and method of both pages. `python -m
conformance.tools.killmatrix` regenerates it; tests/test_quick.py keeps it adequate when
cases or mutants change.

The loader tags each case of the tier `quick`, so that `-k quick` (and `--quick`) select
the tier in `conformance run`, `list`, `mutants` and the pytest plugin alike. The full
catalog stays the gate for nightly runs and releases.
"""

import json
from functools import cache
from pathlib import Path

QUICK_FILE = Path(__file__).resolve().with_name("quick.json")
TAG = "quick"


@cache
def tier():
    """The ids of the quick tier's cases (empty when quick.json is absent)."""
    try:
        return frozenset(json.loads(QUICK_FILE.read_text(encoding="utf-8"))["cases"])
    except (OSError, ValueError, KeyError):
        return frozenset()


def tags_for(case_id, tags):
    """A case's tags, with `quick` added when the case is in the tier."""
    return tags + [TAG] if case_id in tier() and TAG not in tags else tags


def keyword(expression=None):
    """The -k expression that selects the tier (within `expression` when one is given)."""
    return TAG if not expression else f"{TAG} and ({expression})"

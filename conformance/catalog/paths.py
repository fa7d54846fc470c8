"""Where the suite's data lives, and which catalog it is: the one place that says so.

The catalog (`cases/`), the known deviations of the built-in targets
(`expectations/`), the two spec pages (`spec/`) and the TensorFlow.js harness
(`harnesses/tfjs/`) are folders at the top of the repository. A built wheel
carries them as package data under `conformance/data/` (see pyproject.toml's
`package-dir`); an editable install or a plain checkout reads the checkout's
live folders. Either way they are found through the package, never through the
current folder.

The catalog version is a human release (`CATALOG_RELEASE`, raised when cases
change in a release) plus a digest of the case files themselves, so that two
reports made from different case files never claim the same catalog.
"""

import hashlib
from functools import cache
from importlib import resources
from pathlib import Path

import conformance

# Raise with every release whose case files differ from the previous one.
CATALOG_RELEASE = "1.0"

# The folder that holds the `conformance` package: a checkout, or site-packages.
IMPORT_ROOT = Path(conformance.__file__).resolve().parents[1]
_PACKAGED = Path(str(resources.files("conformance"))) / "data"
# A wheel carries the data folders; without them, the package runs from a checkout.
IS_CHECKOUT = not _PACKAGED.is_dir() and (IMPORT_ROOT / "pyproject.toml").is_file()


def _folder(packaged, checkout):
    return IMPORT_ROOT / checkout if IS_CHECKOUT else _PACKAGED / packaged


CASES_DIR = _folder("cases", "cases")
EXPECTATIONS_DIR = _folder("expectations", "expectations")
SPEC_DIR = _folder("spec", "spec")
TFJS_DIR = _folder("tfjs", "harnesses/tfjs")
TFJS_HARNESS = TFJS_DIR / "harness.js"
# Where `conformance fuzz` writes what it finds: the catalog's found/ in a checkout (to be
# committed), ./found-cases otherwise (an installed package is no place to write to).
FOUND_CASES_DIR = CASES_DIR / "found" if IS_CHECKOUT else Path("found-cases")


def case_file_paths(folder=None):
    """The catalog's case files under `folder` (default the suite's), sorted."""
    folder = Path(folder or CASES_DIR)
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


@cache
def catalog_digest(folder=None):
    """sha256 of the case files (their paths relative to the folder, then their bytes), 16 hex digits."""
    folder = Path(folder or CASES_DIR)
    digest = hashlib.sha256()
    for path in case_file_paths(folder):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def catalog_version():
    """"RELEASE+DIGEST", e.g. 1.0+3fa9c2d1e0b7a4c5: what a report records and `--version` prints."""
    return f"{CATALOG_RELEASE}+{catalog_digest()}"


def catalog_info():
    """The catalog as a report's header records it."""
    return {"version": catalog_version(), "release": CATALOG_RELEASE, "digest": catalog_digest(),
            "files": len(case_file_paths())}


def version_text():
    """What `conformance --version` prints."""
    return (f"conformance {conformance.__version__} ({conformance.SUITE_NAME})\n"
            f"catalog {catalog_version()} ({len(case_file_paths())} case files in {CASES_DIR})")

"""`conformance targets`: every built-in target, whether it can run here, and what installs it.

The list comes from the registry (`conformance.targets.builtin_names` and its
`EXTRAS` table), so a target added there shows up here. For each target the
packages its extra names are looked up with importlib.metadata (the version)
and importlib.util.find_spec (importable): no framework is imported.
"""

import importlib.metadata as metadata
import importlib.util
import json
import re
import shutil
import sys
from functools import cache

from conformance.catalog import paths
from conformance.targets import EXTRAS, builtin_names, resolve

SUITE = "simplernn-conformance"
# What the default install brings for the targets that need no extra.
CORE = {"reference": ["numpy"], "keras": ["keras"]}
KERAS_BACKEND_PACKAGES = {"numpy": "numpy", "jax": "jax", "tensorflow": "tensorflow", "torch": "torch",
                          "openvino": "openvino"}
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(text):
    return _norm(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text).group(1))


def extras_table():
    """{extra: [distribution names]} of the suite: from pyproject.toml in a checkout (current even
    before a reinstall), else from the installed package's metadata."""
    table = {}
    if paths.IS_CHECKOUT and sys.version_info >= (3, 11):
        import tomllib

        project = tomllib.loads((paths.IMPORT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
        for extra, requirements in project.get("optional-dependencies", {}).items():
            table[_norm(extra)] = [_requirement_name(r) for r in requirements]
        return table
    try:
        requires = metadata.requires(SUITE) or []
    except metadata.PackageNotFoundError:
        return table
    for line in requires:
        marker = re.search(r"""extra\s*==\s*["']([^"']+)["']""", line)
        if marker:
            table.setdefault(_norm(marker.group(1)), []).append(_requirement_name(line))
    return table


@cache
def _modules_by_distribution():
    found = {}
    for module, dists in metadata.packages_distributions().items():
        for dist in dists:
            found.setdefault(_norm(dist), []).append(module)
    return found


def _modules_of(distribution):
    """The top-level modules a distribution installs (tf-keras -> tf_keras), without importing them."""
    names = _modules_by_distribution().get(distribution, [])
    return sorted(n for n in names if not n.startswith("_")) or [distribution.replace("-", "_")]


def package_state(distribution):
    """{"package", "version" (None when not installed), "importable"}."""
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        version = None
    importable = version is not None and all(importlib.util.find_spec(m) is not None
                                             for m in _modules_of(distribution)[:1])
    return {"package": distribution, "version": version, "importable": importable}


def _packages(name, extra, extras):
    if extra:
        wanted = [p for p in extras.get(_norm(extra), []) if p != SUITE]
    else:
        wanted = []
    if name == "reference":
        wanted = CORE["reference"] + wanted
    elif name.startswith("keras:"):
        backend = name.split(":")[1]
        wanted = CORE["keras"] + [KERAS_BACKEND_PACKAGES.get(backend, backend)] + wanted
    return list(dict.fromkeys(wanted))


def _install_hint(extra, packages):
    if not extra:
        return "(included)"
    command = (f'pip install -e ".[{extra}]"' if paths.IS_CHECKOUT
               else f'pip install "{SUITE}[{extra}]"')
    if "torch" in packages:
        command += f" --extra-index-url {TORCH_CPU_INDEX}  (the CPU build on Linux)"
    return command


def _tfjs_row():
    module = paths.TFJS_DIR / "node_modules" / "@tensorflow" / "tfjs" / "package.json"
    version = json.loads(module.read_text(encoding="utf-8"))["version"] if module.is_file() else None
    node = shutil.which("node")
    packages = [{"package": "node", "version": "on PATH" if node else None, "importable": bool(node)},
                {"package": "@tensorflow/tfjs", "version": version, "importable": version is not None}]
    return packages, f"(cd {paths.TFJS_DIR} && npm ci)  (Node.js 18 or newer on PATH)"


def targets():
    """One dict per built-in target: name, profile, ready, packages, install."""
    extras = extras_table()
    rows = []
    for name in builtin_names():
        spec = resolve(name)
        if spec.command and name == "tfjs":
            packages, install = _tfjs_row()
        elif name not in EXTRAS:  # the registry does not say what installs it
            packages, install = [], "see docs/targets.md"
        else:
            extra = EXTRAS[name]
            wanted = _packages(name, extra, extras)
            packages = [package_state(p) for p in wanted]
            install = _install_hint(extra, wanted)
        # No package known: an extra the registry names that this version of the suite does not define.
        ready = all(p["importable"] for p in packages) if packages else None
        rows.append({"name": name, "profile": spec.profile, "ready": ready,
                     "packages": packages, "install": install})
    return rows


def render(rows):
    def said(package):
        if package["version"] is None:
            return f"{package['package']} (not installed)"
        if not package["importable"]:
            return f"{package['package']} {package['version']} (not importable)"
        return f"{package['package']} {package['version']}"

    width = max(len(r["name"]) for r in rows) + 2
    lines = [f"{'target':<{width}}{'profile':<9}{'here':<9}packages; install", ""]
    for row in rows:
        here = {True: "ready", False: "missing", None: "unknown"}[row["ready"]]
        lines.append(f"{row['name']:<{width}}{row['profile']:<9}{here:<9}"
                     f"{', '.join(said(p) for p in row['packages']) or '-'}")
        lines.append(f"{'':<{width + 18}}install: {row['install']}")
    lines += ["", "Also: mutant:NAME (the reference with one planted bug; `conformance mutants --list`),",
              "package.module:factory, path/to/file.py:factory, exec:COMMAND (docs/targets.md, docs/protocol.md)."]
    return "\n".join(lines)


def cmd_targets(args):
    rows = targets()
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(render(rows))
    return 0

"""Every finding in docs/findings.md is a script in findings/, and each still reproduces.

A script is a few lines of the real framework (no import of the suite): it exits 0 and
prints REPRODUCES while the deviation is present, and exits 1 (FIXED ...) once the installed
version behaves as the specification says. When one stops reproducing, an upstream fix has
landed: update its finding (and the expectations and cases that cite it).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "findings"
TFJS = ROOT / "harnesses" / "tfjs"
SCRIPTS = sorted(p for p in FOLDER.iterdir() if p.suffix in (".py", ".js") and p.name[:2].isdigit())
# A finding seen on several Keras 3 backends is run on two of them (each is a separate process).
BACKENDS = {"01": ("numpy", "torch"), "08": ("torch", "numpy")}


def number(path):
    return int(path.name.split("_", 1)[0])


def runs():
    for script in SCRIPTS:
        for backend in BACKENDS.get(script.name[:2], (None,)):
            yield pytest.param(script, backend, id=script.stem + (f"-{backend}" if backend else ""))


@pytest.fixture(scope="module")
def node_path():
    """The tfjs harness's npm packages (installed from its lock file on first use), for the .js findings."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("the tfjs findings need Node.js and npm on PATH")
    import fcntl

    with open(TFJS / ".npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (TFJS / "node_modules" / "@tensorflow" / "tfjs" / "package.json").is_file():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=TFJS, check=True,
                           timeout=900)
    return str(TFJS / "node_modules")


@pytest.mark.slow
@pytest.mark.parametrize("script, backend", list(runs()))
def test_finding_still_reproduces(script, backend, request):
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "JAX_ENABLE_X64")}
    if backend:
        env["KERAS_BACKEND"] = backend
    if script.suffix == ".js":
        env["NODE_PATH"] = request.getfixturevalue("node_path")
        command = ["node", str(script)]
    else:
        command = [sys.executable, str(script)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    said = [line for line in done.stdout.splitlines() if line.startswith(("REPRODUCES", "FIXED", "DIFFERENT"))]
    assert done.returncode == 0 and said and said[-1].startswith("REPRODUCES"), (
        f"finding {number(script)} no longer reproduces ({script.name}, rc {done.returncode}): "
        f"{' '.join(said) or done.stderr[-600:]}; update docs/findings.md")


def test_every_finding_has_a_script_and_one_numbering():
    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    numbered = [int(n) for n in re.findall(r"^### (\d+)\. ", text, flags=re.M)]
    assert numbered == list(range(1, len(numbered) + 1)), "findings are numbered 1, 2, 3, ... once each"
    assert sorted(number(s) for s in SCRIPTS) == numbered, "one script per finding in findings/"
    for n in numbered:
        section = text.split(f"\n### {n}. ", 1)[1].split("\n### ", 1)[0]
        script = next(s for s in SCRIPTS if number(s) == n)
        assert f"findings/{script.name}" in section, f"finding {n} names its script"
        # Upstream: an issue link, or the statement that none was found and an issue text to file.
        assert re.search(r"github\.com/[\w-]+/[\w-]+/(issues|pull)/\d+|#\d{3,}", section) or \
            ("No upstream issue found" in section and "Title:" in section), f"finding {n}: upstream link or issue text"
    # The README's list and the expectations files use the same numbers.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for n in re.findall(r"docs/findings\.md#finding-(\d+)", readme):
        assert int(n) in numbered
    for path in (ROOT / "expectations").glob("*.yaml"):
        for n in re.findall(r"findings\.md,\s+(?:deviation|finding)\s+(\d+)", path.read_text(encoding="utf-8")):
            assert int(n) in numbered, f"{path.name} cites finding {n}"

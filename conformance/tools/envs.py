"""One isolated, cached Python environment per framework release, for `conformance history`.

A release's environment holds only the framework and what it needs, resolved as
on the day it was published (pip's `--uploaded-prior-to`), so an old release
gets the NumPy, JAX or TensorFlow its users got, not today's. The suite itself
is not installed there: the worker runs with that environment's Python and
finds the suite's source on PYTHONPATH (it needs only NumPy, which every
framework brings).

Environments live under a cache folder, one sub-folder per release, and a
finished one carries `conformance-env.json`; a second run reuses it. Pip's own
download cache is shared by all of them. Pip does not date-filter local files
(--find-links folders, file:// indexes): with such a mirror configured, newer
packages from it get in; point PIP_CONFIG_FILE elsewhere for a history run.
"""

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request
import venv
from datetime import datetime, timedelta
from pathlib import Path

from conformance.catalog.paths import IMPORT_ROOT

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "simplernn-conformance" / "history"
MARKER = "conformance-env.json"
SUITE_ROOT = str(IMPORT_ROOT)  # the worker finds the suite here (a checkout, or site-packages)
# An import may name a module whose distribution is called otherwise.
DISTRIBUTIONS = {"tensorflow": "tensorflow-cpu", "jax": "jax[cpu]", "jaxlib": "jax[cpu]", "sklearn": "scikit-learn", "yaml": "pyyaml"}


class EnvError(Exception):
    """A release cannot be installed here; the message says why in one line."""


def python_of(folder):
    folder = Path(folder)
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


_RELEASES = {}


def _releases(package):
    """{version: [files]} of a package, from PyPI's JSON API (once per package and process)."""
    if package not in _RELEASES:
        url = f"https://pypi.org/pypi/{package}/json"
        try:
            with urllib.request.urlopen(url, timeout=60) as answer:
                _RELEASES[package] = json.load(answer)["releases"]
        except (OSError, ValueError, KeyError) as exc:
            raise EnvError(f"cannot list the releases of {package} on PyPI: {exc}") from None
    return _RELEASES[package]


def published(package):
    """The release numbers of a package that have files (not yanked) on PyPI."""
    return [v for v, files in _releases(package).items() if files and not all(f.get("yanked") for f in files)]


def upload_time(package, version):
    """When `package==version` reached PyPI, as a UTC datetime."""
    files = _releases(package).get(version)
    if not files:
        raise EnvError(f"{package} {version} is not on PyPI")
    return min(datetime.fromisoformat(f["upload_time_iso_8601"].replace("Z", "+00:00")) for f in files)


def ensure_env(folder, requirements, probe, dated=(), log=print, prior_to=None):
    """The Python of a ready environment in `folder` holding `requirements`.

    `probe` is a Python snippet that imports the framework as the target will;
    a module it misses (ModuleNotFoundError) is installed and the probe tried
    again, so a release gets exactly what its import needs. `dated` names
    (package, version) pairs whose latest upload date caps every dependency
    (plus a week, for the fixes of the first days). Raises EnvError.
    """
    folder = Path(folder)
    marker = folder / MARKER
    if marker.is_file():
        recorded = json.loads(marker.read_text())
        if recorded.get("requested") == list(requirements):
            return python_of(folder)
    released = max(upload_time(p, v) for p, v in dated) if dated else None
    if prior_to is None and released is not None:
        prior_to = released + timedelta(days=7)
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    venv.EnvBuilder(clear=True, with_pip=False).create(folder)
    python = python_of(folder)
    installed = list(requirements)
    _pip(python, installed, prior_to, log)
    for _ in range(6):
        missing = _probe(python, probe)
        if missing is None:
            break
        if missing in ("conformance", "reference_impl", "numpy", ""):
            raise EnvError(f"the worker cannot import {missing or 'a module'} there")
        name = DISTRIBUTIONS.get(missing, missing)
        if name in installed:
            raise EnvError(f"the import still misses {missing} after installing {name}")
        installed.append(name)
        _pip(python, [*installed], prior_to, log)
    else:
        raise EnvError("the import keeps missing modules")
    frozen = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "freeze", "--all"],
                            capture_output=True, text=True).stdout.split()
    marker.write_text(json.dumps({
        "requested": list(requirements), "installed": installed,
        "released": released.isoformat() if released else None,
        "uploaded_prior_to": prior_to.isoformat() if prior_to else None,
        "packages": frozen, "install_s": round(time.perf_counter() - started, 1)}, indent=1) + "\n")
    return python


def env_info(folder):
    marker = Path(folder) / MARKER
    return json.loads(marker.read_text()) if marker.is_file() else None


def _pip(python, requirements, prior_to, log):
    command = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
               "--disable-pip-version-check", *requirements]
    if prior_to is not None:
        command += ["--uploaded-prior-to", prior_to.strftime("%Y-%m-%dT%H:%M:%SZ")]
    log(f"  pip install {' '.join(requirements)}" + (f" (as of {prior_to:%Y-%m-%d})" if prior_to else ""))
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        lines = [l for l in (done.stderr or done.stdout).splitlines() if l.strip()]
        reason = next((l for l in lines if "ERROR" in l), lines[-1] if lines else "pip failed")
        raise EnvError(f"pip cannot install {' '.join(requirements)}: {reason.strip()}")


def _probe(python, snippet):
    """None when the snippet runs; the missing module's top-level name when it lacks one."""
    code = ("import sys\ntry:\n" + "".join(f"    {line}\n" for line in snippet.splitlines()) +
            "except ModuleNotFoundError as exc:\n    print('MISSING', (exc.name or '').split('.')[0]); sys.exit(3)\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore", "PYTHONPATH": SUITE_ROOT}
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env)
    if done.returncode == 3:
        return done.stdout.split("MISSING", 1)[1].strip()
    if done.returncode:
        tail = [l for l in done.stderr.splitlines() if l.strip()]
        raise EnvError(f"the framework does not import: {tail[-1] if tail else 'exit ' + str(done.returncode)}")
    return None


def layered_env(root, local, base_python, probe, log=print):
    """The Python of an environment holding a local build (a wheel file or a source checkout)
    installed without dependencies over the environment of `base_python`, whose packages it sees
    (a .pth file adds them after its own). A wheel's environment is cached by the wheel's content;
    a source checkout is installed afresh each time, since it may have changed."""
    local, base_python = Path(local), Path(base_python)
    if local.is_file():
        digest = hashlib.sha256(local.read_bytes() + str(base_python).encode()).hexdigest()[:12]
        folder = Path(root) / f"{local.stem}-{digest}"
        if (folder / MARKER).is_file():
            return python_of(folder)
    else:
        folder = Path(root) / f"{local.name}-source-{hashlib.sha256(str(local).encode()).hexdigest()[:8]}"
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    venv.EnvBuilder(clear=True, with_pip=False).create(folder)
    python = python_of(folder)
    paths = subprocess.run([str(base_python), "-c", "import site, sys; print('\\n'.join(site.getsitepackages()))"],
                           capture_output=True, text=True)
    if paths.returncode:
        raise EnvError(f"{base_python} does not run: {paths.stderr.strip()[-200:]}")
    own = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                         capture_output=True, text=True).stdout.strip()
    Path(own, "conformance-base.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in paths.stdout.split("\n") if p.strip()))
    command = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-compile",
               "--disable-pip-version-check", str(local)]
    log(f"  pip install --no-deps {local} (over {base_python})")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        lines = [l for l in (done.stderr or done.stdout).splitlines() if l.strip()]
        raise EnvError(f"pip cannot install {local}: {lines[-1].strip() if lines else 'pip failed'}")
    missing = _probe(python, probe)
    if missing is not None:
        raise EnvError(f"{local} needs {missing}, which the environment it is installed over lacks")
    base_info = env_info(base_python.parents[1]) or {}
    frozen = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "freeze", "--all"],
                            capture_output=True, text=True).stdout.split()
    (folder / MARKER).write_text(json.dumps({
        "requested": [str(local)], "installed": [str(local)], "over": str(base_python),
        "uploaded_prior_to": base_info.get("uploaded_prior_to"), "packages": frozen,
        "install_s": round(time.perf_counter() - started, 1)}, indent=1) + "\n")
    return python

"""The published CI workflow (examples/ci/conformance.yml), played as a third party's CI would play it.

A small project of its own (an implementation with one known deviation, listed in its
expectations file) lives in a folder outside the checkout; the suite is the built wheel,
installed in a fresh virtualenv. The steps are read from the workflow file itself, so the
file and this test cannot drift: every `run:` step runs in order under bash, and the few
actions it uses (checkout, setup-python, upload and download of artifacts) are played here.
An unchanged implementation passes the gate; a planted regression fails it, and the diff
against the committed baseline names the case.
"""

import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from conformance.catalog import paths
from conformance.report.expectations import sanitize_target

from conftest import DATA, REPO, load_report

WORKFLOW = REPO / "examples" / "ci" / "conformance.yml"
TARGET = "my_package.layers:SimpleRNN"  # the workflow's example entry
KNOWN = "gate/forward[activation=relu,*"  # the example implementation's known deviation
REGRESSED = "gate/forward[activation=tanh,return_sequences=false,go_backwards=true]"

LAYERS = '''\
"""An example port of SimpleRNN: the suite's reference computing in float32, with relu written as a leaky relu."""
import numpy as np
from reference_impl import SimpleRNN as Reference


class Port(Reference):
    def __init__(self, **config):
        super().__init__(**config)
        if self._activation_name == "relu":
            self.activation = lambda x: np.where(x > 0, x, 0.01 * x)  # the known deviation
        {regression}

    def __call__(self, *args, **kwargs):
        result = super().__call__(*args, **kwargs)
        if isinstance(result, list):
            return [np.asarray(r, dtype=np.float32) for r in result]
        return np.asarray(result, dtype=np.float32)

    def get_weights(self):
        return [np.asarray(w, dtype=np.float32) for w in super().get_weights()]


def SimpleRNN(**config):
    return Port(**config)
'''


def write_project(folder, regression=False):
    """The third party's repository: an installable package, its expectations file and its cases."""
    (folder / "my_package").mkdir(parents=True, exist_ok=True)
    (folder / "my_package" / "__init__.py").write_text("")
    line = "self.go_backwards = False  # the regression: go_backwards forgotten" if regression else "pass"
    (folder / "my_package" / "layers.py").write_text(LAYERS.format(regression=line))
    (folder / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "my-rnn"
        version = "0.1.0"

        [tool.setuptools]
        packages = ["my_package"]
        """))
    (folder / "expectations").mkdir(exist_ok=True)
    (folder / "expectations" / f"{sanitize_target(TARGET)}.yaml").write_text(yaml.safe_dump({"expectations": [
        {"pattern": KNOWN, "category": "upstream-bug", "reason": "relu is leaky in this port", "link": ""}]}))
    (folder / "my_cases").mkdir(exist_ok=True)
    shutil.copy(DATA / "gate_cases.yaml", folder / "my_cases")


def expand(text, context):
    """${{ matrix.x }}, ${{ env.X }}, ${{ steps.ID.outcome }}: what the test can evaluate, or an error."""
    def value(match):
        expression = match.group(1).strip()
        if expression not in context:
            raise AssertionError(f"the test cannot evaluate ${{{{ {expression} }}}}; teach it")
        return str(context[expression])
    return re.sub(r"\$\{\{(.*?)\}\}", value, str(text))


def should_run(step, outcomes):
    """A step's `if:` as GitHub evaluates it; without one, only when every earlier step succeeded."""
    condition = step.get("if")
    if condition is None:
        return all(o == "success" for o in outcomes.values())
    python = condition.replace("always()", "True").replace("&&", " and ").replace("||", " or ")
    python = re.sub(r"steps\.([\w-]+)\.outcome", lambda m: repr(outcomes.get(m[1], "skipped")), python)
    if not re.fullmatch(r"(True|and|or|not|'[\w ]*'|!=|==|[()\s])*", python):
        raise AssertionError(f"the test cannot evaluate `if: {condition}`; teach it")
    return eval(python, {"__builtins__": {}}, {})


class Runner:
    """One machine of the workflow: the workspace, the virtualenv with the suite, the artifact store."""

    def __init__(self, workflow, workspace, installed, artifacts, env):
        self.workflow, self.workspace, self.artifacts = workflow, workspace, artifacts
        self.env = {**installed["env"], **{k: str(v) for k, v in workflow["env"].items()}, **env}
        self.summary = workspace / "step-summary.md"
        self.env["GITHUB_STEP_SUMMARY"] = str(self.summary)

    def play(self, job_name, entry=None, only=None):
        """Run a job's steps in order; {"steps": {name: outcome}, "output": {name: text}, "ok": bool}."""
        job = self.workflow["jobs"][job_name]
        context = {f"matrix.{k}": v for k, v in (entry or {}).items()}
        context.update({f"env.{k}": v for k, v in self.env.items()})
        outcomes, output = {}, {}
        for index, step in enumerate(job["steps"]):
            key = step.get("id") or step.get("name") or step.get("uses") or str(index)
            if only and key not in only:
                continue
            if not should_run(step, outcomes):
                outcomes[key] = "skipped"
                continue
            if "run" in step:
                env = {**self.env, **{k: expand(v, context) for k, v in (step.get("env") or {}).items()}}
                result = subprocess.run(["bash", "-e", "-c", expand(step["run"], context)], cwd=self.workspace,
                                        env=env, capture_output=True, text=True, timeout=900)
                output[key] = result.stdout + result.stderr
                outcomes[key] = "success" if result.returncode == 0 else "failure"
            else:
                outcomes[key] = self.action(step, context)
        return {"steps": outcomes, "output": output, "ok": all(o != "failure" for o in outcomes.values())}

    def action(self, step, context):
        uses = step["uses"].split("@")[0]
        given = {k: expand(v, context) for k, v in (step.get("with") or {}).items()}
        if uses in ("actions/checkout", "actions/setup-python"):
            return "success"  # the workspace is the checkout; the virtualenv's python is on PATH
        if uses == "actions/upload-artifact":
            files = [self.workspace / p.strip() for p in given["path"].splitlines() if p.strip()]
            if given.get("if-no-files-found") == "error" and not all(f.exists() for f in files):
                return "failure"
            folder = self.artifacts / given["name"]
            folder.mkdir(parents=True, exist_ok=True)
            for file in files:  # files land flat, as upload-artifact strips their common folder
                if file.is_dir():
                    shutil.copytree(file, folder, dirs_exist_ok=True)
                elif file.is_file():
                    shutil.copy(file, folder)
            return "success"
        if uses == "actions/download-artifact":
            pattern = re.compile(given["pattern"].replace("*", ".*"))
            for artifact in sorted(self.artifacts.iterdir()):
                if pattern.fullmatch(artifact.name):
                    shutil.copytree(artifact, self.workspace / given["path"] / artifact.name, dirs_exist_ok=True)
            return "success"
        raise AssertionError(f"the test does not know the action {uses}; teach it")


@pytest.fixture
def project(tmp_path, installed_suite):
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    entries = {e["name"]: e for e in workflow["jobs"]["conformance"]["strategy"]["matrix"]["include"]}
    assert entries["my-implementation"]["target"] == TARGET and entries["reference"]["target"] == "reference"
    workspace = tmp_path / "my-project"
    write_project(workspace)
    env = {"CONFORMANCE_SUITE": installed_suite["wheel"], "CONFORMANCE_CATALOG": paths.catalog_version(),
           "CONFORMANCE_ARGS": "--cases my_cases/"}  # the project's own cases keep the runs short
    runner = Runner(workflow, workspace, installed_suite, tmp_path / "artifacts", env)
    return runner, entries, workspace


@pytest.mark.slow
def test_the_workflow_gates_a_project_as_published(project, installed_suite):
    runner, entries, workspace = project
    # The baseline the project committed: a report of its last release, made with the installed suite.
    install = runner.play("conformance", entries["my-implementation"], only={"install"})
    assert install["ok"], install["output"]
    baseline = workspace / "conformance-baseline" / "my-implementation"
    made = subprocess.run([str(Path(installed_suite["bin"]) / "conformance"), "run", "-t", TARGET, "-q",
                           "--cases", "my_cases/", "--expectations", "expectations/", "-o", str(baseline)],
                          cwd=workspace, env=runner.env, capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stdout + made.stderr

    # 1. Unchanged: both matrix entries pass, the known deviation is xfail, the diff finds nothing.
    for name in ("my-implementation", "reference"):
        job = runner.play("conformance", entries[name])
        assert job["ok"], job
        assert all(outcome == "success" for outcome in job["steps"].values()), job["steps"]
        if name == "my-implementation":
            job_output = job["output"]
    report = load_report(workspace / "reports" / "my-implementation")
    assert report["summary"]["xfail"] == 4 and report["summary"]["fail"] == 0
    assert report["catalog"]["version"] == paths.catalog_version()
    assert "0 regressions" in job_output["Compare with the baseline report"]
    assert "no baseline for reference" in job["output"]["Compare with the baseline report"]
    assert "xfail" in runner.summary.read_text()

    # The last job: the artifacts merged into one report, and the matrix pages.
    final = runner.play("report")
    assert final["ok"], final
    merged = load_report(workspace / "merged")
    assert sorted(t["name"] for t in merged["targets"]) == sorted([TARGET, "reference"])
    assert (workspace / "merged" / "matrix" / "matrix.md").is_file()

    # 2. A planted regression: the run fails the job, and the diff against the baseline names the case.
    write_project(workspace, regression=True)
    job = runner.play("conformance", entries["my-implementation"])
    assert not job["ok"]
    assert job["steps"]["run"] == "failure" and job["steps"]["Compare with the baseline report"] == "failure"
    diff = job["output"]["Compare with the baseline report"]
    assert "REGRESSIONS" in diff and REGRESSED in diff
    assert REGRESSED in (workspace / "reports" / "my-implementation" / "diff.md").read_text()
    assert job["steps"]["Upload the report"] == "success"  # the reports still reach the last job


@pytest.mark.slow
def test_a_pinned_catalog_that_differs_stops_the_job(project):
    runner, entries, workspace = project
    runner.env["CONFORMANCE_CATALOG"] = "0.9+0000000000000000"
    job = runner.play("conformance", entries["reference"], only={"run"})
    assert job["steps"]["run"] == "failure"
    assert "the installed suite's catalog is not 0.9+0000000000000000" in job["output"]["run"]
    assert not (workspace / "reports" / "reference").exists()

"""The GitHub Actions workflow shipped for users' repositories.

The workflow is loaded as YAML and checked by structure: which jobs exist and what they need,
the shape of every step against the GitHub workflow schema, and which step runs which command,
in which order. The shell of the steps that decide what is reproduced and reported runs here
against stand-in `dvc` and `docker` commands that record how they were called.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from cirrus.deploy.export import BUILD_DIR
from tests.conftest import REPO

WORKFLOW = REPO / ".github/workflows/ci.yml"
# The schema check-jsonschema vendors, the one `--builtin-schema vendor.github-workflows` uses.
SCHEMA = resources.files("check_jsonschema") / "builtin_schemas/vendor/github-workflows.json"
TEST_JOB = "test-and-reproduce"
IMAGE_JOB = "image-and-cloud-workflows"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class _WorkflowLoader(yaml.SafeLoader):
    """YAML as GitHub reads it: only true/false are booleans, so the `on:` key stays a string."""


_WorkflowLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_WorkflowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_workflow() -> dict[str, Any]:
    return yaml.load(WORKFLOW.read_text(), Loader=_WorkflowLoader)


def steps_of(job: str) -> list[dict[str, Any]]:
    return load_workflow()["jobs"][job]["steps"]


def step_running(steps: list[dict[str, Any]], command: str) -> tuple[int, dict[str, Any]]:
    """The one step whose `run` script has a line starting with `command`, and its position."""
    found = [
        (index, step)
        for index, step in enumerate(steps)
        if any(line.strip().startswith(command) for line in step.get("run", "").splitlines())
    ]
    assert len(found) == 1, f"expected one step running {command!r}, found {len(found)}"
    return found[0]


def step_using(steps: list[dict[str, Any]], action: str) -> tuple[int, dict[str, Any]]:
    """The one step that uses `action` (any version), and its position."""
    found = [
        (index, step)
        for index, step in enumerate(steps)
        if step.get("uses", "").split("@")[0] == action
    ]
    assert len(found) == 1, f"expected one step using {action}, found {len(found)}"
    return found[0]


def commands(step: dict[str, Any]) -> list[str]:
    return [line.strip() for line in step["run"].splitlines() if line.strip()]


def needs(job: dict[str, Any]) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else list(value)


def run_step(
    step: dict[str, Any],
    workdir: Path,
    env: dict[str, str],
    expressions: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a step's script as GitHub does (`bash -e`), with `dvc`/`docker` recording their calls.

    Each call of a stand-in command appends its arguments, one per line, and an empty line to
    `calls.log` in `workdir`, and prints `output of <command line>`. `${{ ... }}` expressions
    are replaced from `expressions`.
    """
    script = step["run"]
    unknown = {e for e in EXPRESSION.findall(script) if e not in (expressions or {})}
    assert not unknown, f"expressions with no value in the test: {sorted(unknown)}"
    script = EXPRESSION.sub(lambda match: (expressions or {})[match.group(1)], script)

    bin_dir = workdir / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("dvc", "docker"):
        stub = bin_dir / name
        stub.write_text(
            "#!/bin/sh\n"
            f'printf "%s\\n" {name} "$@" "" >> "{workdir}/calls.log"\n'
            f'echo "output of {name} $*"\n'
        )
        stub.chmod(0o755)
    activate = workdir / ".venv/bin/activate"
    activate.parent.mkdir(parents=True, exist_ok=True)
    activate.write_text("")
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=workdir,
        env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def calls(workdir: Path) -> list[list[str]]:
    log = workdir / "calls.log"
    if not log.exists():
        return []
    return [call.split("\n") for call in log.read_text().split("\n\n") if call]


def test_workflow_validates_against_the_github_workflow_schema(tmp_path: Path) -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")

    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("job", "index"),
    [
        (job, index)
        for job, spec in load_workflow()["jobs"].items()
        for index in range(len(spec["steps"]))
    ],
)
def test_every_step_has_the_shape_of_a_workflow_step(job: str, index: int) -> None:
    # Arrange
    schema = json.loads(SCHEMA.read_text())
    step_schema = {"$ref": "#/definitions/step", "definitions": schema["definitions"]}
    step = steps_of(job)[index]

    # Act
    errors = [e.message for e in jsonschema.Draft7Validator(step_schema).iter_errors(step)]

    # Assert: one of `uses`/`run`, known keys only, and actions pinned to a version
    assert errors == [], f"{job} step {index}: {errors}"
    assert ("uses" in step) != ("run" in step)
    if "uses" in step:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


def test_workflow_runs_on_pushes_to_main_and_pull_requests_without_telemetry() -> None:
    # Act
    workflow = load_workflow()

    # Assert
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert "pull_request" in workflow["on"]
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["env"]["DVC_NO_ANALYTICS"] == "1"
    assert workflow["env"]["KEDRO_DISABLE_TELEMETRY"] == "true"
    assert workflow["env"]["DVC_REMOTE"] == "${{ vars.DVC_REMOTE }}"


def test_the_image_job_needs_the_test_job_and_nothing_else_waits() -> None:
    # Act
    jobs = load_workflow()["jobs"]

    # Assert
    assert set(jobs) == {TEST_JOB, IMAGE_JOB}
    assert needs(jobs[TEST_JOB]) == []
    assert needs(jobs[IMAGE_JOB]) == [TEST_JOB]
    for job in jobs.values():
        assert job["runs-on"] == "ubuntu-latest"
        assert isinstance(job["timeout-minutes"], int)


def test_test_job_checks_out_full_history_and_sets_up_python_and_node_before_the_tests() -> None:
    # Arrange
    steps = steps_of(TEST_JOB)

    # Act
    checkout, checkout_step = step_using(steps, "actions/checkout")
    python, python_step = step_using(steps, "actions/setup-python")
    node, node_step = step_using(steps, "actions/setup-node")
    tests, _ = step_running(steps, "bash scripts/test.sh")

    # Assert: dvc metrics/params diff compare with the base branch, which a shallow clone lacks
    assert checkout == 0
    assert checkout_step["with"]["fetch-depth"] == 0
    assert python_step["with"]["python-version"] == "3.11"
    assert node_step["with"]["node-version"]
    assert checkout < python < tests
    assert node < tests


def test_tests_run_before_the_pipelines_are_reproduced_and_the_diffs_reported() -> None:
    # Arrange
    steps = steps_of(TEST_JOB)

    # Act
    tests, tests_step = step_running(steps, "bash scripts/test.sh")
    repro, _ = step_running(steps, "dvc repro --pull --allow-missing")
    diffs, _ = step_running(steps, "dvc metrics diff")

    # Assert
    assert commands(tests_step) == ["bash scripts/test.sh"]
    assert tests < repro < diffs


def test_repro_pulls_from_the_remote_named_by_dvc_remote(tmp_path: Path) -> None:
    # Arrange
    _, step = step_running(steps_of(TEST_JOB), "dvc repro")
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    credentials = '{"type": "service_account"}'

    # Act
    result = run_step(
        step,
        tmp_path,
        {
            "DVC_REMOTE": "storage",
            "GOOGLE_APPLICATION_CREDENTIALS_JSON": credentials,
            "RUNNER_TEMP": str(runner_temp),
        },
    )

    # Assert: the remote becomes the default, then missing outputs are pulled rather than rerun
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path) == [
        ["dvc", "remote", "default", "storage"],
        ["dvc", "repro", "--pull", "--allow-missing"],
    ]
    assert (runner_temp / "gcp.json").read_text() == credentials


def test_repro_without_a_remote_reproduces_everything(tmp_path: Path) -> None:
    # Arrange
    _, step = step_running(steps_of(TEST_JOB), "dvc repro")

    # Act
    result = run_step(
        step,
        tmp_path,
        {"DVC_REMOTE": "", "GOOGLE_APPLICATION_CREDENTIALS_JSON": "", "RUNNER_TEMP": "/nowhere"},
    )

    # Assert
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path) == [["dvc", "repro"]]


def test_repro_step_takes_the_storage_credentials_and_pii_salt_from_secrets() -> None:
    # Act
    _, step = step_running(steps_of(TEST_JOB), "dvc repro")

    # Assert
    assert step["env"] == {
        name: f"${{{{ secrets.{name} }}}}"
        for name in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS_JSON",
            "AZURE_STORAGE_CONNECTION_STRING",
            "CIRRUS_PII_SALT",
        )
    }


def test_metrics_and_params_diffs_against_the_base_branch_go_to_the_job_summary(
    tmp_path: Path,
) -> None:
    # Arrange
    _, step = step_running(steps_of(TEST_JOB), "dvc metrics diff")
    summary = tmp_path / "summary.md"

    # Act
    result = run_step(
        step,
        tmp_path,
        {"GITHUB_STEP_SUMMARY": str(summary)},
        expressions={"github.base_ref": "main"},
    )

    # Assert: only on pull requests (a push has no base branch), markdown into the summary
    assert step["if"] == "github.event_name == 'pull_request'"
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path) == [
        ["dvc", "metrics", "diff", "origin/main", "--md"],
        ["dvc", "params", "diff", "origin/main", "--md"],
    ]
    assert summary.read_text().splitlines() == [
        "## Metrics vs origin/main",
        "output of dvc metrics diff origin/main --md",
        "## Params vs origin/main",
        "output of dvc params diff origin/main --md",
    ]
    assert result.stdout == ""


def test_image_job_builds_the_image_before_exporting_every_target() -> None:
    # Arrange
    steps = steps_of(IMAGE_JOB)

    # Act
    checkout, _ = step_using(steps, "actions/checkout")
    build, _ = step_running(steps, "docker build")
    python, python_step = step_using(steps, "actions/setup-python")
    export, export_step = step_running(steps, "kedro cirrus export all")
    upload, _ = step_using(steps, "actions/upload-artifact")

    # Assert
    assert checkout == 0
    assert checkout < build < export
    assert python < export
    assert python_step["with"]["python-version"] == "3.11"
    assert commands(export_step) == ["source scripts/setup.sh", "kedro cirrus export all"]
    assert "CIRRUS_STORAGE_ROOT" in export_step["env"]
    assert export < upload


def test_docker_build_tags_the_image_with_the_commit(tmp_path: Path) -> None:
    # Arrange
    _, step = step_running(steps_of(IMAGE_JOB), "docker build")

    # Act
    default = run_step(step, tmp_path / "default", {"IMAGE": "", "GITHUB_SHA": "abc123"})
    named = run_step(step, tmp_path / "named", {"IMAGE": "ghcr.io/o/r", "GITHUB_SHA": "abc123"})

    # Assert
    assert step["env"] == {"IMAGE": "${{ vars.IMAGE }}"}
    assert default.returncode == 0 and named.returncode == 0, default.stderr + named.stderr
    assert calls(tmp_path / "default") == [["docker", "build", "-t", "cirrus:abc123", "."]]
    assert calls(tmp_path / "named") == [["docker", "build", "-t", "ghcr.io/o/r:abc123", "."]]


def test_the_artifact_is_the_build_folder_the_export_writes() -> None:
    # Arrange
    steps = steps_of(IMAGE_JOB)

    # Act
    _, export_step = step_running(steps, "kedro cirrus export all")
    _, upload_step = step_using(steps, "actions/upload-artifact")
    export_args = shlex.split(commands(export_step)[-1])

    # Assert: without --out the export writes to BUILD_DIR, which is what gets uploaded
    assert not any(arg.startswith("--out") for arg in export_args)
    assert Path(upload_step["with"]["path"]) == Path(BUILD_DIR)
    assert upload_step["with"]["name"] == "cloud-workflows"

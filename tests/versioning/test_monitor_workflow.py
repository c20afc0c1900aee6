"""The scheduled monitoring workflow shipped for users' repositories.

Checked against the GitHub workflow schema, by structure, and by running its monitoring step's
shell with a stand-in `kedro` that exits as `kedro cirrus monitor` would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cirrus.cli import RETRAIN_EXIT_CODE
from tests.conftest import REPO
from tests.versioning.test_ci_workflow import _WorkflowLoader, commands

WORKFLOW = REPO / ".github/workflows/monitor.yml"
JOB = "monitor-and-retrain"


def steps() -> list[dict]:
    return yaml.load(WORKFLOW.read_text(), Loader=_WorkflowLoader)["jobs"][JOB]["steps"]


def step_named(name: str) -> dict:
    return next(step for step in steps() if step.get("name") == name)


def run_monitor_step(workdir: Path, monitor_exit: int) -> tuple[int, str]:
    """The monitoring step's script with a stand-in kedro; its exit code and GITHUB_OUTPUT."""
    bin_dir = workdir / "bin"
    bin_dir.mkdir()
    (bin_dir / "kedro").write_text(
        f'#!/bin/sh\necho "kedro $*" >> calls.log\nexit {monitor_exit}\n'
    )
    (bin_dir / "kedro").chmod(0o755)
    (workdir / "scripts").mkdir()
    (workdir / "scripts/setup.sh").write_text("")  # the install, not under test here
    output = workdir / "github_output"
    output.write_text("")
    result = subprocess.run(
        ["bash", "-e", "-c", step_named("Monitor the served traffic")["run"]],
        cwd=workdir,
        env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (workdir / "calls.log").read_text() == "kedro cirrus monitor --env cloud\n"
    return result.returncode, output.read_text()


def test_the_workflow_validates_against_the_github_workflow_schema() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")

    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_it_runs_on_a_schedule_and_on_demand() -> None:
    triggers = yaml.load(WORKFLOW.read_text(), Loader=_WorkflowLoader)["on"]

    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers


@pytest.mark.parametrize(
    ("monitor_exit", "step_exit", "retrain"),
    [(0, 0, False), (RETRAIN_EXIT_CODE, 0, True), (1, 1, False)],
)
def test_only_the_retrain_code_turns_retraining_on_and_an_error_fails_the_job(
    tmp_path: Path, monitor_exit: int, step_exit: int, retrain: bool
) -> None:
    code, output = run_monitor_step(tmp_path, monitor_exit)

    assert code == step_exit
    assert ("retrain=true" in output) is retrain


def test_retraining_and_promotion_run_only_when_monitoring_asks() -> None:
    retrain = step_named("Retrain on the latest data")
    promote = step_named("Commit the challenger and promote it if it beats the champion")

    for step in (retrain, promote):
        assert step["if"] == "steps.monitor.outputs.retrain == 'true'"
    assert "dvc repro" in commands(retrain)
    assert "if kedro cirrus promote; then" in commands(promote)
    names = [step.get("name") for step in steps()]
    assert names.index(retrain["name"]) < names.index(promote["name"])

"""The GitHub Actions workflow shipped for users' repositories."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO

WORKFLOW = REPO / ".github/workflows/ci.yml"


def test_workflow_validates_against_the_github_workflow_schema(tmp_path: Path) -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")

    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_tests_reproduces_and_reports_diffs_against_the_base_branch() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["test-and-reproduce"]["steps"]
    scripts = "\n".join(step.get("run", "") for step in steps)

    assert workflow["env"]["DVC_NO_ANALYTICS"] == "1"
    assert workflow["env"]["KEDRO_DISABLE_TELEMETRY"] == "true"
    assert "bash scripts/test.sh" in scripts
    assert "dvc repro --pull --allow-missing" in scripts
    assert 'dvc metrics diff "$base" --md' in scripts
    assert 'dvc params diff "$base" --md' in scripts
    assert "$GITHUB_STEP_SUMMARY" in scripts
    assert "fetch-depth" in str(steps[0])


def test_workflow_builds_the_image_and_exports_every_target_after_the_tests() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["image-and-cloud-workflows"]
    scripts = "\n".join(step.get("run", "") for step in job["steps"])

    assert job["needs"] == "test-and-reproduce"
    assert "docker build" in scripts and scripts.rstrip().endswith("kedro cirrus export all")
    assert any(step.get("with", {}).get("path") == "build/" for step in job["steps"])

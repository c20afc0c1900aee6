"""The user's infra workflow (.github/workflows/infra.yml): valid by GitHub's workflow schema, fmt,
checkov and an OIDC `terraform plan` per cloud on pull requests, the image pushed on main, and
pip-audit of the lock files and a scan of the image, each with a reviewed allow-list."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "infra.yml"
ALLOWLIST = REPO / "infra" / "pip-audit-allowlist.txt"
GRYPE_CONFIG = REPO / "infra" / "grype.yaml"
LOCKS = ("requirements.lock", "requirements-image.lock", "infra/checkov.lock")


def workflow() -> dict[str, Any]:
    """The workflow as YAML reads it (`on` stays a string key)."""
    return yaml.load(WORKFLOW.read_text(), Loader=yaml.BaseLoader)


def runs(job: dict[str, Any]) -> str:
    """Every `run` script of a job, joined."""
    return "\n".join(step.get("run", "") for step in job["steps"])


def uses(job: dict[str, Any]) -> list[str]:
    """Every action a job uses."""
    return [step["uses"] for step in job["steps"] if "uses" in step]


def test_workflow_validates_against_the_github_workflow_schema() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actions_are_pinned_to_a_major_version() -> None:
    for name, job in workflow()["jobs"].items():
        for action in uses(job):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)?@v\d+", action), f"{name}: {action}"


def test_pull_requests_run_fmt_checkov_and_a_plan_per_cloud_through_oidc() -> None:
    jobs = workflow()["jobs"]
    checks = runs(jobs["checks"])
    assert "terraform fmt -check -recursive" in checks
    assert "bash infra/setup-checkov.sh" in checks and "--skip-download" in checks
    plan = jobs["plan"]
    assert plan["if"] == "github.event_name == 'pull_request'"
    assert plan["permissions"]["id-token"] == "write"
    assert (
        "aws" in plan["strategy"]["matrix"]["cloud"]
        and "azure" in plan["strategy"]["matrix"]["cloud"]
    )
    assert "kedro cirrus export terraform" in runs(plan)
    assert "terraform plan" in runs(plan) and "terraform validate" in runs(plan)
    logins = {a.split("@")[0] for a in uses(plan)}
    assert {
        "aws-actions/configure-aws-credentials",
        "google-github-actions/auth",
        "azure/login",
    } <= logins
    # OIDC only: no cloud key is read from the repository's secrets
    assert "secrets." not in WORKFLOW.read_text()


def test_main_builds_and_pushes_the_image_tagged_by_commit() -> None:
    image = workflow()["jobs"]["image"]
    assert "github.ref == 'refs/heads/main'" in image["if"]
    assert image["permissions"]["id-token"] == "write"
    steps = image["steps"]
    (build,) = [s for s in steps if s.get("uses", "").startswith("docker/build-push-action")]
    assert build["with"]["load"] == "true" and build["with"]["push"] == "false"
    assert build["with"]["tags"] == "${{ vars.IMAGE }}:${{ github.sha }}"
    names = [s.get("name", s.get("uses", "")) for s in steps]
    scan = next(i for i, name in enumerate(names) if name.startswith("Scan the image"))
    push = next(i for i, name in enumerate(names) if name.startswith("Push"))
    # The scan gates the push: a vulnerable image never reaches the registry.
    assert names.index(build["uses"]) < scan < push
    assert "--fail-on high" in steps[scan]["run"] and "infra/grype.yaml" in steps[scan]["run"]
    assert 'docker push "${IMAGE}:${GITHUB_SHA}"' in steps[push]["run"]


def test_every_image_scan_exception_has_a_reason() -> None:
    rules = yaml.safe_load(GRYPE_CONFIG.read_text())["ignore"]
    assert isinstance(rules, list)
    assert all(rule.get("vulnerability") and len(rule.get("reason", "")) >= 20 for rule in rules)


def test_pip_audit_reads_every_lock_file_and_the_allow_list() -> None:
    audit = runs(workflow()["jobs"]["audit"])
    assert "pip-audit --requirement" in audit and "--strict" in audit
    assert all(lock in audit for lock in LOCKS) and all((REPO / lock).exists() for lock in LOCKS)
    assert "infra/pip-audit-allowlist.txt" in audit and "--ignore-vuln" in audit


def test_every_allowed_vulnerability_has_a_reason() -> None:
    entries = [
        line.split(maxsplit=1)
        for line in ALLOWLIST.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert all(len(entry) == 2 and len(entry[1]) >= 20 for entry in entries), entries

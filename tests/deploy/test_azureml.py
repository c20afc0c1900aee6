"""The Azure ML export: pipeline and schedule YAML the azure-ai-ml loader accepts, step for step."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import marshmallow
import pytest
import yaml
from azure.ai.ml import load_job
from azure.ai.ml.entities import PipelineJob

# the loader behind `az ml schedule create --file`; azure-ai-ml 1.35 does not re-export it
from azure.ai.ml.entities._load_functions import load_schedule
from azure.core.credentials import AccessToken

from cirrus.deploy.plan import IMAGE_PROJECT_DIR, DeploymentPlan, PlanError
from cirrus.deploy.run_id import RUN_ID_ENV, RUN_ID_FALLBACK_ENVS
from cirrus.deploy.targets.azureml import (
    KEY_VAULT_SCOPE,
    export,
    key_vault_secret,
)
from tests.deploy.conftest import STORAGE_ROOT


def exported(plan: DeploymentPlan, build_dir: Path) -> list[Path]:
    """The files the export writes."""
    build_dir.mkdir(parents=True, exist_ok=True)
    return export(plan, build_dir)


def with_training(plan: DeploymentPlan, **changes: Any) -> DeploymentPlan:
    """The plan with the training step's resources changed."""
    resources = plan.step("training").resources.model_copy(update=changes)
    steps = tuple(
        dataclasses.replace(s, resources=resources) if s.name == "training" else s
        for s in plan.steps
    )
    return dataclasses.replace(plan, steps=steps)


def with_azureml(plan: DeploymentPlan, **changes: Any) -> DeploymentPlan:
    """The plan with other Azure ML target settings."""
    azureml = plan.targets.azureml.model_copy(update=changes)
    return dataclasses.replace(plan, targets=plan.targets.model_copy(update={"azureml": azureml}))


@pytest.fixture
def pipeline(plan: DeploymentPlan, build_dir: Path) -> PipelineJob:
    """The exported pipeline job as azure-ai-ml loads it (offline: no workspace)."""
    paths = exported(plan, build_dir)
    assert [p.name for p in paths] == ["pipeline.yaml", "schedule.yaml"]
    job = load_job(paths[0])
    assert isinstance(job, PipelineJob)
    return job


def test_one_command_job_per_step_with_the_steps_command_and_image(
    plan: DeploymentPlan, pipeline: PipelineJob
) -> None:
    assert list(pipeline.jobs) == [step.identifier for step in plan.steps]
    for step in plan.steps:
        job = pipeline.jobs[step.identifier]
        assert job.type == "command"
        assert job.display_name == step.name
        assert job.component.environment.image == plan.image
        first, *_, last = job.command.split(" && ")
        assert shlex.split(first) == ["cd", IMAGE_PROJECT_DIR]
        assert shlex.split(last) == step.command
        assert job.limits.timeout == step.resources.timeout_minutes * 60
        assert job.resources.instance_count == 1


def test_every_job_gets_the_plan_env_and_reads_secrets_from_key_vault(
    plan: DeploymentPlan, pipeline: PipelineJob
) -> None:
    vault = plan.targets.azureml.key_vault_url
    assert vault is not None
    for step in plan.steps:
        job = pipeline.jobs[step.identifier]
        assert job.environment_variables == dict(plan.env)
        assert job.environment_variables["CIRRUS_STORAGE_ROOT"] == STORAGE_ROOT
        assert "CIRRUS_PII_SALT" not in job.environment_variables
        reader = f"python -m cirrus.deploy.targets.azureml {vault} cirrus-pii-salt"
        assert f'CIRRUS_PII_SALT="$({reader})" && export CIRRUS_PII_SALT' in job.command


def test_run_id_comes_from_azure_ml_and_jobs_carry_the_cirrus_tags(
    plan: DeploymentPlan, pipeline: PipelineJob, build_dir: Path
) -> None:
    # No expression reaches environment_variables: each step reads the pipeline job's name from
    # the variable Azure ML sets, which the project reads when CIRRUS_RUN_ID is unset.
    assert "AZUREML_ROOT_RUN_ID" in RUN_ID_FALLBACK_ENVS
    assert (
        "Run id: each step reads AZUREML_ROOT_RUN_ID" in (build_dir / "pipeline.yaml").read_text()
    )
    assert pipeline.tags == {"cirrus-pipeline": plan.name}
    for step in plan.steps:
        job = pipeline.jobs[step.identifier]
        assert RUN_ID_ENV not in job.environment_variables
        assert "${{" not in str(job.environment_variables)
        assert job.tags == {"cirrus-pipeline": plan.name, "cirrus-step": step.name}


def test_spot_steps_run_on_the_low_priority_cluster(
    plan: DeploymentPlan, pipeline: PipelineJob
) -> None:
    target = plan.targets.azureml
    assert plan.step("training").resources.spot and not plan.step("features").resources.spot

    assert pipeline.jobs["training"].compute == target.spot_compute == "low-priority-cluster"
    assert pipeline.jobs["features"].compute == target.compute == "cpu-cluster"
    assert pipeline.settings.default_compute == target.compute
    assert pipeline.settings.force_rerun is True


def test_job_order_is_bound_through_done_outputs_as_the_plan_depends(
    plan: DeploymentPlan, pipeline: PipelineJob
) -> None:
    upstream_of: dict[str, set[str]] = {}
    for name, job in pipeline.jobs.items():
        upstream_of[name] = set()
        for node_input in job.inputs.values():
            bound = re.fullmatch(r"\$\{\{parent\.jobs\.(\w+)\.outputs\.done\}\}", node_input.path)
            assert bound, node_input.path
            assert node_input.mode == "direct"
            assert pipeline.jobs[bound[1]].outputs["done"].type == "uri_folder"
            upstream_of[name].add(bound[1])

    assert upstream_of == {
        step.identifier: {plan.step(d).identifier for d in step.depends_on} for step in plan.steps
    }
    assert upstream_of["drift"] == {"features", "training", "evaluation"}


def test_schedule_creates_the_pipeline_job_on_the_plans_cron(
    plan: DeploymentPlan, pipeline: PipelineJob, build_dir: Path
) -> None:
    schedule = load_schedule(build_dir / "schedule.yaml")

    assert schedule.name == plan.name
    assert schedule.trigger.expression == plan.schedule
    assert schedule.trigger.time_zone == "UTC"
    assert isinstance(schedule.create_job, PipelineJob)
    assert list(schedule.create_job.jobs) == list(pipeline.jobs)


def test_unscheduled_plan_writes_no_schedule(plan: DeploymentPlan, build_dir: Path) -> None:
    paths = exported(dataclasses.replace(plan, schedule=None), build_dir)

    assert [p.name for p in paths] == ["pipeline.yaml"]
    assert not (build_dir / "schedule.yaml").exists()
    assert isinstance(load_job(paths[0]), PipelineJob)


def test_gpu_steps_need_and_use_the_gpu_cluster(plan: DeploymentPlan, build_dir: Path) -> None:
    gpu_plan = with_training(plan, gpu=1)

    with pytest.raises(PlanError, match=r"training.*gpu_compute"):
        exported(gpu_plan, build_dir)
    [path, _] = exported(with_azureml(gpu_plan, gpu_compute="gpu-cluster"), build_dir)
    assert load_job(path).jobs["training"].compute == "gpu-cluster"


def test_secrets_without_a_key_vault_are_refused(plan: DeploymentPlan, build_dir: Path) -> None:
    with pytest.raises(PlanError, match=r"CIRRUS_PII_SALT.*key_vault_url"):
        exported(with_azureml(plan, key_vault_url=None), build_dir)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["limits", "timeout"], "an hour", "jobs.training.limits.timeout"),
        (["environment_variables"], ["CIRRUS_STORAGE_ROOT=s3://x"], "environment_variables"),
        (["resources", "instance_count"], "one", "jobs.training.resources.instance_count"),
        # tags as a list, not a mapping: the loader rejects the job
        (["tags"], ["cirrus-step=training"], "jobs.training"),
        # what a retry count would look like: Azure ML's command job schema has no such key
        (["retries"], 3, "jobs.training"),
    ],
)
def test_load_job_rejects_a_broken_pipeline(
    plan: DeploymentPlan, build_dir: Path, path: list[str], value: Any, message: str
) -> None:
    [pipeline_path, _] = exported(plan, build_dir)
    document = yaml.safe_load(pipeline_path.read_text())
    node = document["jobs"]["training"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    broken = build_dir / "broken.yaml"
    broken.write_text(yaml.safe_dump(document))

    with pytest.raises(marshmallow.ValidationError, match=message):
        load_job(broken)


class StaticCredential:
    """A credential handing out a fixed token, recording the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str) -> AccessToken:
        """The fixed token."""
        self.scopes.extend(scopes)
        return AccessToken("test-token", 4_102_444_800)


@pytest.fixture
def key_vault() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A local server answering Key Vault's get-secret call, and the requests it saw."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        """Answers every GET with one secret bundle, as Key Vault does."""

        def do_GET(self) -> None:
            """Record the request and return the secret."""
            seen.append({"path": self.path, "auth": self.headers.get("Authorization", "")})
            body = json.dumps({"value": "salt-from-vault", "id": "x"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            """Keep the test output quiet."""

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/", seen
    finally:
        server.shutdown()
        server.server_close()


def test_key_vault_secret_reads_the_current_version_with_a_bearer_token(
    key_vault: tuple[str, list[dict[str, str]]],
) -> None:
    url, seen = key_vault
    credential = StaticCredential()

    value = key_vault_secret(url, "cirrus-pii-salt", credential)

    assert value == "salt-from-vault"
    assert credential.scopes == [KEY_VAULT_SCOPE]
    assert seen == [
        {"path": "/secrets/cirrus-pii-salt?api-version=7.4", "auth": "Bearer test-token"}
    ]

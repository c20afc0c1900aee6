"""The Argo export: a workflow Argo's schema accepts, mirroring the plan step for step."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml
from hera.workflows import models

from cirrus.deploy.plan import DeploymentPlan
from cirrus.deploy.run_id import LABEL_VALUE, LABEL_VALUE_MAX, RUN_ID_ENV
from cirrus.deploy.targets.argo import ArgoWorkflowError, export, validate_manifest
from tests.deploy.conftest import STORAGE_ROOT

WORKFLOW_UID = "{{workflow.uid}}"


def exported(plan: DeploymentPlan, build_dir: Path) -> dict[str, Any]:
    """The manifest the export writes, read back from its YAML file."""
    build_dir.mkdir(parents=True, exist_ok=True)
    [path] = export(plan, build_dir)
    assert path.name == "workflow.yaml"
    return yaml.safe_load(path.read_text())


def spec_of(manifest: dict[str, Any]) -> dict[str, Any]:
    """The workflow spec, inside a CronWorkflow or not."""
    spec = manifest["spec"]
    return spec["workflowSpec"] if manifest["kind"] == "CronWorkflow" else spec


def templates_of(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Templates by name."""
    return {template["name"]: template for template in spec_of(manifest)["templates"]}


def dag_tasks(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The entrypoint DAG's tasks by name."""
    entry = templates_of(manifest)[spec_of(manifest)["entrypoint"]]
    return {task["name"]: task for task in entry["dag"]["tasks"]}


@pytest.fixture
def manifest(plan: DeploymentPlan, build_dir: Path) -> dict[str, Any]:
    """The exported workflow of the committed project."""
    return exported(plan, build_dir)


def test_scheduled_plan_is_a_cron_workflow_argo_schema_accepts(
    plan: DeploymentPlan, manifest: dict[str, Any]
) -> None:
    assert plan.schedule is not None

    cron = models.CronWorkflow.model_validate(manifest)

    assert cron.kind == "CronWorkflow"
    assert cron.spec.schedules == [plan.schedule]
    assert cron.spec.timezone == "UTC"
    assert cron.metadata.namespace == plan.targets.kubernetes.namespace == "ml-pipelines"
    assert cron.spec.workflow_spec.service_account_name == plan.service_account
    validate_manifest(manifest)


def test_unscheduled_plan_is_a_workflow_with_a_fresh_name_per_submission(
    plan: DeploymentPlan, build_dir: Path
) -> None:
    manifest = exported(dataclasses.replace(plan, schedule=None), build_dir)

    workflow = models.Workflow.model_validate(manifest)

    assert workflow.kind == "Workflow"
    assert workflow.metadata.generate_name == f"{plan.name}-"
    assert workflow.metadata.name is None
    assert [t.name for t in workflow.spec.templates][1:] == plan.step_names


def test_dag_edges_and_commands_are_the_plans(
    plan: DeploymentPlan, manifest: dict[str, Any]
) -> None:
    tasks = dag_tasks(manifest)
    templates = templates_of(manifest)

    assert list(tasks) == plan.step_names
    assert {name: set(task.get("dependencies", [])) for name, task in tasks.items()} == {
        step.name: set(step.depends_on) for step in plan.steps
    }
    assert any(step.depends_on for step in plan.steps)  # the edges compared are not all empty
    for step in plan.steps:
        container = templates[tasks[step.name]["template"]]["container"]
        assert container["command"] == step.command
        assert container["image"] == plan.image


def test_every_step_gets_the_plan_env_and_the_secret_by_reference(
    plan: DeploymentPlan, manifest: dict[str, Any]
) -> None:
    for step in plan.steps:
        env = {e["name"]: e for e in templates_of(manifest)[step.name]["container"]["env"]}

        assert env["CIRRUS_STORAGE_ROOT"]["value"] == STORAGE_ROOT
        assert {name: env[name]["value"] for name in plan.env} == dict(plan.env)
        assert env["CIRRUS_PII_SALT"] == {
            "name": "CIRRUS_PII_SALT",
            "valueFrom": {"secretKeyRef": {"name": "cirrus-pii-salt", "key": "value"}},
        }


def test_every_step_carries_the_workflow_uid_as_run_id_env_and_pod_label(
    plan: DeploymentPlan, manifest: dict[str, Any]
) -> None:
    for step in plan.steps:
        template = templates_of(manifest)[step.name]
        env = {e["name"]: e.get("value") for e in template["container"]["env"]}

        assert env[RUN_ID_ENV] == WORKFLOW_UID
        assert template["metadata"]["labels"] == {
            "cirrus-pipeline": plan.name,
            "cirrus-step": step.name,
            "cirrus-run-id": WORKFLOW_UID,
        }
    assert spec_of(manifest)["workflowMetadata"] == {"labels": {"cirrus-pipeline": plan.name}}
    validate_manifest(manifest)


def test_pod_labels_are_valid_kubernetes_labels_once_argo_substitutes_the_uid(
    plan: DeploymentPlan, build_dir: Path
) -> None:
    # Argo replaces {{workflow.uid}} in the whole template, pod metadata included, when it
    # creates a pod: the labels Kubernetes then sees must be valid.
    for scheduled in (plan, dataclasses.replace(plan, schedule=None)):
        text = json.dumps(exported(scheduled, build_dir)).replace(WORKFLOW_UID, str(uuid.uuid4()))
        for template in spec_of(json.loads(text))["templates"][1:]:
            for key, value in template["metadata"]["labels"].items():
                assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", key), key
                assert len(value) <= LABEL_VALUE_MAX and LABEL_VALUE.fullmatch(value), value


def test_spot_training_and_on_demand_features_follow_deploy_yml(
    plan: DeploymentPlan, manifest: dict[str, Any]
) -> None:
    training, features = plan.step("training").resources, plan.step("features").resources
    assert training.spot and not features.spot  # what conf/base/deploy.yml declares
    templates = templates_of(manifest)
    target = plan.targets.kubernetes

    spot = templates["training"]
    assert spot["container"]["resources"] == {
        "requests": {"cpu": "4", "memory": "16Gi"},
        "limits": {"memory": "16Gi"},
    }
    assert spot["retryStrategy"] == {"limit": training.retries, "retryPolicy": "Always"}
    assert training.retries == 3
    assert spot["activeDeadlineSeconds"] == training.timeout_minutes * 60
    assert spot["nodeSelector"] == target.spot_node_selector
    assert spot["tolerations"] == [t.model_dump(exclude_none=True) for t in target.spot_tolerations]
    assert spot["nodeSelector"] == {"karpenter.sh/capacity-type": "spot"}

    on_demand = templates["features"]
    assert on_demand["container"]["resources"]["requests"] == {"cpu": "1", "memory": "4Gi"}
    assert on_demand["retryStrategy"]["limit"] == features.retries == 2
    assert "nodeSelector" not in on_demand
    assert "tolerations" not in on_demand


def test_gpu_steps_request_nvidia_gpus_on_nodes_of_their_type(
    plan: DeploymentPlan, build_dir: Path
) -> None:
    gpu = plan.step("training").resources.model_copy(update={"gpu": 2, "gpu_type": "Tesla-T4"})
    steps = tuple(
        dataclasses.replace(s, resources=gpu) if s.name == "training" else s for s in plan.steps
    )

    template = templates_of(exported(dataclasses.replace(plan, steps=steps), build_dir))["training"]

    assert template["container"]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert template["nodeSelector"] == {
        **plan.targets.kubernetes.spot_node_selector,
        "nvidia.com/gpu.product": "Tesla-T4",
    }


def test_argo_schema_rejects_a_wrongly_typed_workflow(manifest: dict[str, Any]) -> None:
    broken = copy.deepcopy(manifest)
    dag_tasks(broken)["training"]["dependencies"] = "features"  # a string, not a list

    with pytest.raises(pydantic.ValidationError, match="dependencies"):
        models.CronWorkflow.model_validate(broken)
    with pytest.raises(ArgoWorkflowError, match="dependencies"):
        validate_manifest(broken)


def test_validation_rejects_tasks_pointing_nowhere(manifest: dict[str, Any]) -> None:
    unknown_template = copy.deepcopy(manifest)
    dag_tasks(unknown_template)["training"]["template"] = "trainig"
    unknown_upstream = copy.deepcopy(manifest)
    dag_tasks(unknown_upstream)["drift"]["dependencies"].append("monitoring")

    with pytest.raises(ArgoWorkflowError, match="task 'training' runs unknown template"):
        validate_manifest(unknown_template)
    with pytest.raises(ArgoWorkflowError, match="task 'drift' depends on unknown 'monitoring'"):
        validate_manifest(unknown_upstream)


def test_validation_rejects_keys_argo_would_silently_drop(manifest: dict[str, Any]) -> None:
    misspelt = copy.deepcopy(manifest)
    templates_of(misspelt)["training"]["retryStrategey"] = {"limit": 3}

    with pytest.raises(ArgoWorkflowError, match="outside Argo's schema"):
        validate_manifest(misspelt)

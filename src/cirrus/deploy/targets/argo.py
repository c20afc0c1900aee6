"""Argo Workflows: the plan as one Workflow, or a CronWorkflow when it has a schedule (hera).

Every step is a container template running the project image with the step's `kedro run`; one
DAG template orders the steps by their dependencies. Steps exchange data through the storage
root only, so the workflow passes no artifacts or parameters between them.

Run id: every container gets CIRRUS_RUN_ID = `{{workflow.uid}}` and every pod the labels
cirrus-run-id (the same uid), cirrus-pipeline and cirrus-step. Argo substitutes its global
variables in the whole template, pod metadata included, when it creates the pod; a uid is 36
characters of hex and '-', a valid label value. The Workflow, and each one a CronWorkflow
creates, carries cirrus-pipeline.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from hera.workflows import (
    DAG,
    Container,
    CronWorkflow,
    Env,
    RetryStrategy,
    SecretEnv,
    Task,
    Workflow,
    models,
)
from pydantic import ValidationError

from cirrus.deploy import dask_cluster
from cirrus.deploy.deploy_yml import SCHEDULE_TIME_ZONE, StepResources
from cirrus.deploy.kubernetes import SECRET_KEY, container_resources, node_selector, tolerations
from cirrus.deploy.plan import DeploymentPlan, PlanError, Step
from cirrus.deploy.run_id import RUN_ID_LABEL, RUN_ID_SOURCES, run_id_env, static_labels

WORKFLOW_FILE = "workflow.yaml"
# "Always" retries pod errors too: a reclaimed spot node kills the pod with an Argo *error*,
# which the default policy (OnFailure: non-zero exits only) would not retry.
RETRY_POLICY = "Always"
# A scheduled run must not start while the previous one still writes the same storage paths.
CONCURRENCY_POLICY = "Forbid"


class ArgoWorkflowError(PlanError):
    """The exported workflow would be rejected by Argo."""


def step_resources(resources: StepResources) -> models.ResourceRequirements:
    """The container's requests and limits, shaped as for every Kubernetes target."""
    shaped = container_resources(resources)
    return models.ResourceRequirements(
        requests={name: models.Quantity(value) for name, value in shaped["requests"].items()},
        limits={name: models.Quantity(value) for name, value in shaped["limits"].items()},
    )


def step_env(plan: DeploymentPlan) -> list[Env | SecretEnv]:
    """Variables, run id and Dask scheduler (if on) as values; secrets as references to Secrets."""
    variables = {**plan.env, **run_id_env("argo"), **dask_cluster.step_env(plan)}
    values: list[Env | SecretEnv] = [Env(name=k, value=v) for k, v in variables.items()]
    secrets = [
        SecretEnv(name=var, secret_name=secret, secret_key=SECRET_KEY)
        for var, secret in plan.secret_env.items()
    ]
    return values + secrets


def pod_labels(plan: DeploymentPlan, step: Step) -> dict[str, str]:
    """Labels of a step's pod: workflow, step and the execution's uid, for cost allocation."""
    return {**static_labels(plan.name, step.name), RUN_ID_LABEL: RUN_ID_SOURCES["argo"].placeholder}


def step_template(plan: DeploymentPlan, step: Step) -> Container:
    """The container template of one step: image, command, env, resources, retries, timeout."""
    target = plan.targets.kubernetes
    spot_tolerations = tolerations(step.resources, target)
    return Container(
        name=step.name,
        image=plan.image,
        command=dask_cluster.step_command(plan, step),
        env=step_env(plan),
        labels=pod_labels(plan, step),
        resources=step_resources(step.resources),
        retry_strategy=RetryStrategy(limit=step.resources.retries, retry_policy=RETRY_POLICY),
        # per attempt: a retried step gets the full time again
        active_deadline_seconds=step.resources.timeout_minutes * 60,
        node_selector=node_selector(step.resources, target) or None,
        tolerations=[models.Toleration(**t) for t in spot_tolerations] or None,
    )


def dag_template(plan: DeploymentPlan) -> DAG:
    """One task per step, waiting for the steps it depends on; named after the workflow."""
    tasks = [
        Task(name=step.name, template=step.name, dependencies=list(step.depends_on) or None)
        for step in plan.steps
    ]
    return DAG(name=plan.name, tasks=tasks)


def build_workflow(plan: DeploymentPlan) -> Workflow:
    """A CronWorkflow when the plan has a schedule, otherwise a Workflow to submit on demand."""
    spec: dict[str, Any] = {
        "namespace": plan.targets.kubernetes.namespace,
        "entrypoint": plan.name,
        "service_account_name": plan.service_account,
        "workflow_metadata": models.WorkflowMetadata(labels=static_labels(plan.name)),
        "templates": [dag_template(plan), *(step_template(plan, s) for s in plan.steps)],
    }
    if plan.schedule is None:
        # every submission gets a fresh name, so the same file can be submitted again
        return Workflow(generate_name=f"{plan.name}-", **spec)
    return CronWorkflow(
        name=plan.name,
        schedules=[plan.schedule],
        timezone=SCHEDULE_TIME_ZONE,
        concurrency_policy=CONCURRENCY_POLICY,
        **spec,
    )


def workflow_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    """The workflow spec of a Workflow or a CronWorkflow manifest."""
    spec = manifest.get("spec") or {}
    return spec.get("workflowSpec", spec) if manifest.get("kind") == "CronWorkflow" else spec


def reference_problems(manifest: dict[str, Any]) -> list[str]:
    """Names that point nowhere: what `argo lint` reports and the schema cannot see."""
    templates = workflow_spec(manifest).get("templates") or []
    names = [template.get("name") for template in templates]
    problems = [f"template '{n}' is defined {c} times" for n, c in Counter(names).items() if c > 1]
    entrypoint = workflow_spec(manifest).get("entrypoint")
    if entrypoint not in names:
        problems.append(f"entrypoint '{entrypoint}' is not a template")
    for template in templates:
        tasks = (template.get("dag") or {}).get("tasks") or []
        task_names = {task.get("name") for task in tasks}
        for task in tasks:
            if task.get("template") not in names:
                problems.append(f"task '{task.get('name')}' runs unknown template")
            for upstream in task.get("dependencies") or []:
                if upstream not in task_names:
                    problems.append(f"task '{task.get('name')}' depends on unknown '{upstream}'")
    return problems


def validate_manifest(manifest: dict[str, Any]) -> None:
    """Check the manifest against Argo's schema (hera's models) and its internal references."""
    model = models.CronWorkflow if manifest.get("kind") == "CronWorkflow" else models.Workflow
    try:
        parsed = model.model_validate(manifest)
    except ValidationError as error:
        raise ArgoWorkflowError(f"Argo would reject the workflow: {error}") from error
    # the models ignore unknown keys; Argo would too, silently dropping a misspelt setting
    if parsed.model_dump(by_alias=True, exclude_none=True, mode="json") != manifest:
        raise ArgoWorkflowError("The workflow has keys outside Argo's schema")
    problems = reference_problems(manifest)
    if problems:
        raise ArgoWorkflowError(f"The workflow is inconsistent: {'; '.join(problems)}")


def header(plan: DeploymentPlan, kind: str) -> str:
    """Comment lines saying how the file was made and how to submit it."""
    submit = "argo cron create" if kind == "CronWorkflow" else "argo submit"
    secrets = ", ".join(f"{name} (key '{SECRET_KEY}')" for name in plan.secret_env.values())
    lines = [
        "Generated by `kedro cirrus export argo` from conf/base/deploy.yml; do not edit.",
        f"Submit: {submit} -n {plan.targets.kubernetes.namespace} {WORKFLOW_FILE}",
    ]
    if secrets:
        lines.append(f"Needs the Kubernetes Secrets: {secrets}.")
    lines += dask_cluster.workflow_note(plan)
    return "".join(f"# {line}\n" for line in lines)


def export(plan: DeploymentPlan, out_dir: Path) -> list[Path]:
    """Write workflow.yaml after checking it the way Argo would, and the steps' DaskCluster."""
    workflow = build_workflow(plan)
    manifest = workflow.to_dict()
    validate_manifest(manifest)
    path = out_dir / WORKFLOW_FILE
    path.write_text(header(plan, manifest["kind"]) + workflow.to_yaml())
    return [path, *dask_cluster.export(plan, out_dir)]

"""Vertex AI Pipelines: the plan compiled by kfp into one KFP v2 pipeline spec.

Each step is a task of one small Python component on the project image. The component runs the
step's `kedro run --env cloud ...` in the project directory of the image (its WORKDIR, or
CIRRUS_PROJECT_DIR when set); steps exchange data only through the storage root, so tasks pass
nothing to each other and `.after(...)` gives the run order. A Python component rather than a
container component because the same spec then also runs under kfp's local SubprocessRunner, which
executes only lightweight Python components. The component's code is embedded in the spec and
imports only kfp (in the image through requirements.lock) and, for secrets, google-auth.

Secrets: Vertex AI has no secret-to-environment binding for pipeline tasks, so the component
reads each `secret_env` secret from Secret Manager with the run's service account (which needs
roles/secretmanager.secretAccessor) and passes it to `kedro run` only; a variable already set in
the container wins.

Spot: kfp has no Spot setting for a pipeline task and Vertex AI runs pipeline tasks on standard
VMs. Spot capacity exists only for Vertex AI custom jobs (CustomJobSpec scheduling strategy SPOT),
which a step gets by wrapping its component in google-cloud-pipeline-components'
CustomTrainingJobOp with strategy="SPOT". Steps declared `spot` are named in the pipeline
description and in submit.json, and run on standard VMs as exported.

Timeouts: kfp has no per-task timeout either, so the component stops `kedro run` after the step's
timeout_minutes.

Run id: each task gets the pipeline job's id through kfp's PIPELINE_JOB_ID_PLACEHOLDER, passed as
a component argument (Vertex AI resolves placeholders in arguments), and the component sets
CIRRUS_RUN_ID from it for `kedro run`. Vertex AI labels are the pipeline job's, fixed at submit:
submit.json carries cirrus-pipeline (kfp sets no labels per task, so there is no cirrus-step),
and Vertex AI adds `vertex-ai-pipelines-run-billing-id` to every run and to the jobs it starts:
the label the billing export groups a run's cost by.

Schedule: Vertex AI schedules are created when submitting, not stored in the spec; the cron goes
to the pipeline description and to submit.json. Submitting with google-cloud-aiplatform:

    import json
    from google.cloud import aiplatform

    settings = json.load(open("submit.json"))
    job = aiplatform.PipelineJob(
        display_name=settings["display_name"],
        template_path="pipeline.yaml",
        pipeline_root=settings["pipeline_root"],
        project=settings["project"],
        location=settings["location"],
        labels=settings["labels"],
    )
    job.submit(service_account=settings["service_account"])  # or, for the schedule:
    job.create_schedule(
        display_name=settings["display_name"],
        cron=settings["schedule"]["cron"],
        service_account=settings["service_account"],
    )
"""

# No `from __future__ import annotations`: kfp reads the component's annotations as types.
import json
from pathlib import Path
from typing import Any

from kfp import compiler, dsl

from cirrus.deploy.deploy_yml import DEPLOY_FILE, SCHEDULE_TIME_ZONE, StepResources
from cirrus.deploy.kubernetes import cpu_quantity
from cirrus.deploy.plan import IMAGE_PROJECT_DIR, DeploymentPlan, PlanError, Step
from cirrus.deploy.run_id import RUN_ID_SOURCES, static_labels

PIPELINE_FILE = "pipeline.yaml"
SUBMIT_FILE = "submit.json"
PROJECT_DIR_ENV = "CIRRUS_PROJECT_DIR"


def _secret_value(resource: str) -> str:
    """The payload of a Secret Manager secret version, read with the default credentials."""
    import base64

    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    scopes = ["https://www.googleapis.com/auth/cloud-platform"]
    session = AuthorizedSession(google.auth.default(scopes=scopes)[0])
    url = f"https://secretmanager.googleapis.com/v1/{resource}:access"
    response = session.get(url, timeout=60)
    response.raise_for_status()
    return base64.b64decode(response.json()["payload"]["data"]).decode()


def run_step(
    command: list, secret_env: dict, timeout_minutes: int, project_dir: str, run_id: str
) -> None:
    """Run one step's command in the project directory, its output streamed to the task log."""
    # This source is embedded in the spec: it may use only its arguments, imports made here and
    # the functions listed in additional_funcs (so PROJECT_DIR_ENV and RUN_ID_ENV are spelled out).
    import os
    import subprocess

    env = dict(os.environ)
    for name, resource in secret_env.items():
        if not env.get(name):
            env[name] = _secret_value(resource)
    # A backend that leaves the placeholder unresolved would give every run the same id, merging
    # their records: then the step keeps its own id instead.
    if run_id and not run_id.startswith("{{"):
        env["CIRRUS_RUN_ID"] = run_id
    print(f"Run id: {env.get('CIRRUS_RUN_ID') or 'none (unresolved placeholder)'}", flush=True)
    workdir = env.get("CIRRUS_PROJECT_DIR") or project_dir
    print(f"$ {' '.join(command)}  (in {workdir})", flush=True)
    subprocess.run(command, cwd=workdir, env=env, check=True, timeout=timeout_minutes * 60)


def _component(image: str) -> Any:
    """The step runner as a Python component on the project image."""
    # install_kfp_package=False: the image already has kfp, and a run should not reach PyPI.
    return dsl.component(
        run_step,
        base_image=image,
        install_kfp_package=False,
        additional_funcs=[_secret_value],
    )


def memory_quantity(memory_gb: float) -> str:
    """A memory size as kfp accepts it: an integer with a decimal unit (kfp counts in GB)."""
    if float(memory_gb).is_integer():
        return f"{int(memory_gb)}G"
    return f"{round(memory_gb * 1000)}M"


def secret_resource(secret: str, project: str | None) -> str:
    """The Secret Manager version to read: a full resource name as given, else its latest."""
    if secret.startswith("projects/"):
        return secret if "/versions/" in secret else f"{secret}/versions/latest"
    if not project:
        raise PlanError(
            f"Secret '{secret}' needs a Google Cloud project: set "
            f"{DEPLOY_FILE}: deploy.targets.vertex.project or use a full resource name "
            "(projects/<project>/secrets/<name>)"
        )
    return f"projects/{project}/secrets/{secret}/versions/latest"


def _check_gpu(step: Step) -> None:
    """Vertex AI needs the accelerator type of a GPU step."""
    if step.resources.gpu and not step.resources.gpu_type:
        raise PlanError(
            f"Step '{step.name}' asks for {step.resources.gpu} GPU(s) without a type: set "
            f"{DEPLOY_FILE}: deploy.steps.{step.name}.gpu_type to a Vertex AI accelerator "
            "(e.g. NVIDIA_TESLA_T4, NVIDIA_L4)"
        )


def _apply_resources(task: dsl.PipelineTask, resources: StepResources) -> None:
    """Machine size, GPUs and retries of one task."""
    task.set_cpu_limit(cpu_quantity(resources.cpu))
    task.set_memory_limit(memory_quantity(resources.memory_gb))
    if resources.gpu:
        task.set_accelerator_type(resources.gpu_type)
        task.set_accelerator_limit(resources.gpu)
    task.set_retry(resources.retries)


def description(plan: DeploymentPlan) -> str:
    """The pipeline description: what it runs, its schedule and what the export could not set."""
    lines = [f"Cirrus steps of {plan.name}: {', '.join(plan.step_names)}."]
    if plan.schedule:
        lines.append(
            f"Schedule (set at submit, PipelineJob.create_schedule): {plan.schedule} "
            f"({SCHEDULE_TIME_ZONE})."
        )
    if plan.spot_steps:
        lines.append(
            f"Declared spot, run on standard VMs: {', '.join(plan.spot_steps)} "
            "(Spot needs a custom job: CustomTrainingJobOp strategy SPOT)."
        )
    return " ".join(lines)


def build_pipeline(plan: DeploymentPlan) -> Any:
    """The KFP pipeline: one task per step, run in dependency order."""
    component = _component(plan.image)
    project = plan.targets.vertex.project
    secrets = {name: secret_resource(s, project) for name, s in plan.secret_env.items()}
    for step in plan.steps:
        _check_gpu(step)

    @dsl.pipeline(name=plan.name, description=description(plan))
    def pipeline() -> None:
        """Every step of the plan."""
        tasks: dict[str, dsl.PipelineTask] = {}
        for step in plan.steps:
            task = component(
                command=step.command,
                secret_env=secrets,
                timeout_minutes=step.resources.timeout_minutes,
                project_dir=IMAGE_PROJECT_DIR,
                run_id=RUN_ID_SOURCES["vertex"].placeholder,
            )
            task.set_display_name(step.name)
            # Vertex AI would otherwise reuse a cached result: the inputs never change between runs.
            task.set_caching_options(enable_caching=False)
            _apply_resources(task, step.resources)
            for name, value in plan.env.items():
                task.set_env_variable(name, value)
            task.after(*(tasks[upstream] for upstream in step.depends_on))
            tasks[step.name] = task

    return pipeline


def submit_settings(plan: DeploymentPlan) -> dict[str, Any]:
    """What PipelineJob and create_schedule take at submit time, from deploy.yml."""
    cron = f"TZ={SCHEDULE_TIME_ZONE} {plan.schedule}" if plan.schedule else None
    return {
        "display_name": plan.name,
        "template_path": PIPELINE_FILE,
        "project": plan.targets.vertex.project,
        "location": plan.region,
        "pipeline_root": plan.targets.vertex.pipeline_root,
        "service_account": plan.service_account,
        # PipelineJob labels: fixed per pipeline; Vertex AI adds the run's billing id itself
        "labels": static_labels(plan.name),
        "schedule": {"cron": cron} if cron else None,
        "spot_steps_on_standard_vms": plan.spot_steps,
    }


def export(plan: DeploymentPlan, out_dir: Path) -> list[Path]:
    """Compile pipeline.yaml and write the submit-time settings beside it."""
    pipeline_file = out_dir / PIPELINE_FILE
    compiler.Compiler().compile(build_pipeline(plan), package_path=str(pipeline_file))
    submit_file = out_dir / SUBMIT_FILE
    submit_file.write_text(json.dumps(submit_settings(plan), indent=2) + "\n")
    return [pipeline_file, submit_file]

"""Azure ML: the plan as a pipeline job YAML of command jobs, plus a schedule YAML when it has one.

Every step is an inline command job on the project image. Azure ML orders the jobs of a pipeline
only by data bindings (it has no explicit "run after"), so a step that others wait for declares a
small `done` output and each waiting step binds it as an input in `direct` mode: the binding
orders the jobs and nothing is mounted or read. The steps exchange their real data through the
storage root.

Secrets: Azure ML cannot set environment variables from Key Vault, so a step reads each
`secret_env` secret from `targets.azureml.key_vault_url` with the compute cluster's managed
identity (`python -m cirrus.deploy.targets.azureml <vault> <secret>`, run inside the image) before
it starts `kedro run`.

Run id: Azure ML expressions cannot set an environment variable (the server-side `${{name}}` is
the step's own job name, and only in output paths), so the export sets no CIRRUS_RUN_ID: every
step reads AZUREML_ROOT_RUN_ID, which Azure ML sets to the pipeline job's name in each step's
container. Tags are static: cirrus-pipeline on the pipeline job and on each step, cirrus-step on
each step.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from cirrus.deploy.deploy_yml import DEPLOY_FILE, SCHEDULE_TIME_ZONE, AzureMLTarget
from cirrus.deploy.plan import IMAGE_PROJECT_DIR, DeploymentPlan, PlanError, Step
from cirrus.deploy.run_id import RUN_ID_SOURCES, run_id_env, static_labels

PIPELINE_FILE = "pipeline.yaml"
SCHEDULE_FILE = "schedule.yaml"
PIPELINE_SCHEMA = "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json"
SCHEDULE_SCHEMA = "https://azuremlschemas.azureedge.net/latest/schedule.schema.json"
# The output a waited-for job declares, bound by the jobs that wait for it (ordering only).
DONE_OUTPUT = "done"
KEY_VAULT_SCOPE = "https://vault.azure.net/.default"
KEY_VAULT_API_VERSION = "7.4"
# Set by Azure ML on compute clusters with a user-assigned identity; unset means system-assigned.
IDENTITY_CLIENT_ID_ENV = "DEFAULT_IDENTITY_CLIENT_ID"


def compute_for(step: Step, target: AzureMLTarget) -> str:
    """The cluster of a step: GPU steps on the GPU cluster, spot steps on the low-priority one."""
    if step.resources.gpu:
        if target.gpu_compute is None:
            raise PlanError(
                f"Step '{step.name}' asks for {step.resources.gpu} GPU(s); name a cluster of GPU "
                f"VMs under deploy.targets.azureml.gpu_compute in {DEPLOY_FILE}"
            )
        return target.gpu_compute
    if step.resources.spot and target.spot_compute:
        return target.spot_compute
    return target.compute


def secret_commands(plan: DeploymentPlan) -> list[str]:
    """Shell commands that read each secret into its variable; a failed read stops the step."""
    if not plan.secret_env:
        return []
    vault = plan.targets.azureml.key_vault_url
    if vault is None:
        raise PlanError(
            f"Azure ML cannot inject {', '.join(plan.secret_env)} from a secret store by itself; "
            f"set deploy.targets.azureml.key_vault_url in {DEPLOY_FILE} to the Key Vault "
            "holding them"
        )
    reader = ["python", "-m", __name__, vault]
    # `VAR="$(...)"` fails when the read fails, unlike `export VAR="$(...)"`
    return [
        f'{var}="$({shlex.join([*reader, secret])})" && export {var}'
        for var, secret in plan.secret_env.items()
    ]


def step_command(plan: DeploymentPlan, step: Step) -> str:
    """One shell line: enter the project, read the secrets, run the step's `kedro run`."""
    # Azure ML runs the command in a job folder of its own, not in the image's WORKDIR
    # (IMAGE_PROJECT_DIR), and `kedro run` only finds the project from inside it.
    parts = [f"cd {shlex.quote(IMAGE_PROJECT_DIR)}", *secret_commands(plan)]
    return " && ".join([*parts, shlex.join(step.command)])


def waits_for(plan: DeploymentPlan) -> set[str]:
    """Steps some other step depends on: those declare the `done` output."""
    return {upstream for step in plan.steps for upstream in step.depends_on}


def after_input(upstream: Step) -> dict[str, str]:
    """An input bound to an upstream job's `done` output: ordering only, nothing mounted."""
    binding = f"${{{{parent.jobs.{upstream.identifier}.outputs.{DONE_OUTPUT}}}}}"
    return {"type": "uri_folder", "path": binding, "mode": "direct"}


def command_job(plan: DeploymentPlan, step: Step) -> dict[str, Any]:
    """The command job of one step."""
    job: dict[str, Any] = {
        "type": "command",
        "display_name": step.name,
        "command": step_command(plan, step),
        "environment": {"image": plan.image},
        # run_id_env adds nothing here (no placeholder): the step reads AZUREML_ROOT_RUN_ID
        "environment_variables": {**plan.env, **run_id_env("azureml")},
        "compute": f"azureml:{compute_for(step, plan.targets.azureml)}",
        "resources": {"instance_count": 1},
        "limits": {"timeout": step.resources.timeout_minutes * 60},
        "tags": static_labels(plan.name, step.name),
    }
    if step.depends_on:
        job["inputs"] = {
            f"after_{plan.step(name).identifier}": after_input(plan.step(name))
            for name in step.depends_on
        }
    if step.name in waits_for(plan):
        job["outputs"] = {DONE_OUTPUT: {"type": "uri_folder"}}
    return job


def pipeline_job(plan: DeploymentPlan) -> dict[str, Any]:
    """The pipeline job: one command job per step, keyed by the step's identifier."""
    return {
        "$schema": PIPELINE_SCHEMA,
        "type": "pipeline",
        "display_name": plan.name,
        "experiment_name": plan.name,
        "tags": static_labels(plan.name),
        "settings": {
            "default_compute": f"azureml:{plan.targets.azureml.compute}",
            "continue_on_step_failure": False,
            # the jobs read and write storage Azure ML cannot see, so reusing a previous
            # run's result for unchanged inputs would skip real work
            "force_rerun": True,
        },
        # Azure ML node names are Python identifiers: no '-'
        "jobs": {step.identifier: command_job(plan, step) for step in plan.steps},
    }


def schedule(plan: DeploymentPlan) -> dict[str, Any]:
    """A cron schedule that creates the pipeline job."""
    return {
        "$schema": SCHEDULE_SCHEMA,
        "name": plan.name,
        "display_name": plan.name,
        "trigger": {
            "type": "cron",
            "expression": plan.schedule,
            "time_zone": SCHEDULE_TIME_ZONE,
        },
        "create_job": f"./{PIPELINE_FILE}",
    }


def pipeline_header(plan: DeploymentPlan) -> str:
    """Comment lines: origin, how to submit, and what deploy.yml settings do not map."""
    retries = sorted({step.resources.retries for step in plan.steps})
    lines = [
        "Generated by `kedro cirrus export azureml` from conf/base/deploy.yml; do not edit.",
        f"Submit: az ml job create --file {PIPELINE_FILE}",
        "Retries: Azure ML has no retry setting for command jobs (only parallel jobs have",
        f"retry_settings), so deploy.yml's retries ({', '.join(map(str, retries))}) do not apply;",
        "resubmit the pipeline job to retry.",
        "CPU, memory and GPU come from each cluster's VM size, not from deploy.yml's numbers.",
        f"Run id: each step reads {RUN_ID_SOURCES['azureml'].fallback_env} (the pipeline job's "
        "name), set by Azure ML.",
    ]
    if plan.service_account:
        lines += [
            f"Identity: assign the managed identity '{plan.service_account}' to the clusters;",
            "the steps reach storage and Key Vault with it.",
        ]
    return "".join(f"# {line}\n" for line in lines)


def render(header: str, document: dict[str, Any]) -> str:
    """YAML text in a stable key order, after the header comments."""
    # wide enough that a command stays on one line, as it runs
    return header + yaml.safe_dump(document, sort_keys=False, width=1000)


def export(plan: DeploymentPlan, out_dir: Path) -> list[Path]:
    """Write pipeline.yaml and, when the plan has a schedule, schedule.yaml."""
    pipeline_path = out_dir / PIPELINE_FILE
    pipeline_path.write_text(render(pipeline_header(plan), pipeline_job(plan)))
    if plan.schedule is None:
        return [pipeline_path]
    schedule_path = out_dir / SCHEDULE_FILE
    schedule_header = f"# Create: az ml schedule create --file {SCHEDULE_FILE}\n"
    schedule_path.write_text(render(schedule_header, schedule(plan)))
    return [pipeline_path, schedule_path]


def key_vault_secret(vault_url: str, name: str, credential: Any = None) -> str:
    """The current value of a Key Vault secret, read with the compute's managed identity."""
    if credential is None:
        from azure.identity import ManagedIdentityCredential

        credential = ManagedIdentityCredential(client_id=os.environ.get(IDENTITY_CLIENT_ID_ENV))
    token = credential.get_token(KEY_VAULT_SCOPE).token
    url = f"{vault_url.rstrip('/')}/secrets/{urllib.parse.quote(name)}"
    request = urllib.request.Request(
        f"{url}?api-version={KEY_VAULT_API_VERSION}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["value"]


def main(argv: list[str]) -> int:
    """`python -m cirrus.deploy.targets.azureml VAULT_URL SECRET`: print the secret's value."""
    if len(argv) != 2:
        print("usage: python -m cirrus.deploy.targets.azureml VAULT_URL SECRET", file=sys.stderr)
        return 2
    sys.stdout.write(key_vault_secret(*argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Airflow 3 (MWAA, Cloud Composer): the plan rendered as one self-contained DAG file.

The DAG file imports only Airflow, its providers and the Kubernetes client: Airflow workers do not
have cirrus, so every setting is written into the file as a literal. One task per step, waiting
for the steps it depends on; steps exchange data only through the storage root, so tasks pass no
XComs. `max_active_runs=1` because two runs at once would write the same datasets.

Operators (deploy.targets.airflow.operator):
- `kubernetes`: a KubernetesPodOperator per step, running the project image with the step's
  command, the plan's env vars, `secret_env` from Kubernetes Secrets (the Secret named in
  deploy.yml, holding the value under the key `value`), requests and limits from the step's
  resources, and the spot node selector and tolerations on spot steps.
- `bash`: a BashOperator per step, running the step's command in `project_dir` on workers that
  have the project installed. `secret_env` comes from Airflow Variables named as in deploy.yml,
  which MWAA and Cloud Composer read from their secret store through the secrets backend; add
  those names to `[core] sensitive_var_conn_names` so Airflow masks them in logs and in the UI.

Run id: both operators template `env` (KubernetesPodOperator `env_vars`, BashOperator `env`), so
every step gets CIRRUS_RUN_ID = `{{ run_id }}`, the DAG run's id. The pods of the `kubernetes`
operator also carry the labels cirrus-pipeline, cirrus-step and cirrus-run-id (`labels` is a
templated field too). A run id such as `scheduled__2025-01-06T04:00:00+00:00` is no valid label
value, so the label holds it as the provider's make_safe_label_value makes it, the same value the
operator writes into its own `run_id` pod label.

Deploy by copying the file into the DAGs folder (the S3 `dags/` prefix of MWAA, the bucket
`dags/` folder of Cloud Composer).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

from cirrus.deploy.deploy_yml import SCHEDULE_TIME_ZONE
from cirrus.deploy.kubernetes import SECRET_KEY, container_resources, node_selector, tolerations
from cirrus.deploy.plan import DeploymentPlan, Step
from cirrus.deploy.run_id import RUN_ID_LABEL, run_id_env, static_labels

# A fixed past date: with catchup off, the scheduler only runs the latest interval. Airflow reads
# the cron in the time zone of the start date, so that is the schedule's.
START_DATE = f"datetime.datetime(2025, 1, 1, tzinfo=zoneinfo.ZoneInfo({SCHEDULE_TIME_ZONE!r}))"
INDENT = "    "

# The DAG's Jinja filter that turns a run id into a Kubernetes label value, and the run id of
# RUN_ID_SOURCES["airflow"] (`{{ run_id }}`) passed through it.
LABEL_FILTER = "k8s_label"
RUN_ID_LABEL_VALUE = f"{{{{ run_id | {LABEL_FILTER} }}}}"

IMPORTS = {
    "kubernetes": (
        "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator",
        "from airflow.providers.cncf.kubernetes.pod_generator import make_safe_label_value",
        "from airflow.providers.cncf.kubernetes.secret import Secret",
        "from airflow.sdk import DAG",
        "from kubernetes.client import models as k8s",
    ),
    "bash": (
        "from airflow.providers.standard.operators.bash import BashOperator",
        "from airflow.sdk import DAG",
    ),
}


def dag_file_name(plan: DeploymentPlan) -> str:
    """The DAG file's name: the workflow name as a Python module name."""
    return f"{plan.identifier}.py"


def call(function: str, arguments: Mapping[str, str], depth: int) -> str:
    """Python source of a call with one keyword argument a line, indented `depth` levels."""
    inner = INDENT * (depth + 1)
    lines = [f"{inner}{name}={value}," for name, value in arguments.items()]
    return "\n".join([f"{function}(", *lines, f"{INDENT * depth})"])


def pod_labels(step: Step, plan: DeploymentPlan) -> dict[str, str]:
    """Labels of a step's pod: workflow and step, and the DAG run's id as a label value."""
    return {**static_labels(plan.name, step.name), RUN_ID_LABEL: RUN_ID_LABEL_VALUE}


def kubernetes_arguments(step: Step, plan: DeploymentPlan) -> dict[str, str]:
    """KubernetesPodOperator keyword arguments of one step, as Python source."""
    target = plan.targets.kubernetes
    resources = step.resources
    requirements = container_resources(resources)
    arguments = {
        "name": repr(step.name),
        "image": "IMAGE",
        "cmds": repr(step.command),
        "env_vars": "ENV",
        "labels": repr(pod_labels(step, plan)),
        "secrets": "SECRETS",
        "container_resources": (
            f"k8s.V1ResourceRequirements(requests={requirements['requests']!r}, "
            f"limits={requirements['limits']!r})"
        ),
        "namespace": "NAMESPACE",
        "service_account_name": "SERVICE_ACCOUNT",
    }
    selector = node_selector(resources, target)
    if selector:
        arguments["node_selector"] = repr(selector)
    spot_tolerations = tolerations(resources, target)
    if spot_tolerations:
        listed = ", ".join(
            f"k8s.V1Toleration({', '.join(f'{k}={v!r}' for k, v in t.items())})"
            for t in spot_tolerations
        )
        arguments["tolerations"] = f"[{listed}]"
    return arguments


def bash_arguments(step: Step) -> dict[str, str]:
    """BashOperator keyword arguments of one step, as Python source."""
    return {
        "bash_command": repr(shlex.join(step.command)),
        "cwd": "PROJECT_DIR",
        "env": "ENV",
        "append_env": "True",
        # Any non-zero exit fails the task; BashOperator would otherwise skip it on exit 99.
        "skip_on_exit_code": "None",
    }


def task_source(step: Step, plan: DeploymentPlan) -> str:
    """The statement that creates one step's task inside the DAG block."""
    operator = plan.targets.airflow.operator
    common = {
        "task_id": repr(step.name),
        "retries": repr(step.resources.retries),
        "execution_timeout": f"datetime.timedelta(minutes={step.resources.timeout_minutes})",
    }
    if operator == "kubernetes":
        specific, function = kubernetes_arguments(step, plan), "KubernetesPodOperator"
    else:
        specific, function = bash_arguments(step), "BashOperator"
    return f"{INDENT}{step.identifier} = {call(function, {**common, **specific}, depth=1)}"


def dependency_source(step: Step, plan: DeploymentPlan) -> str | None:
    """`upstream >> step` for a step that waits on others, else None."""
    if not step.depends_on:
        return None
    upstream = [plan.step(name).identifier for name in step.depends_on]
    left = upstream[0] if len(upstream) == 1 else f"[{', '.join(upstream)}]"
    return f"{INDENT}{left} >> {step.identifier}"


def step_env(plan: DeploymentPlan) -> dict[str, str]:
    """The plan's env vars and the run id, as a Jinja expression the operators render."""
    return {**plan.env, **run_id_env("airflow")}


def bash_env(plan: DeploymentPlan) -> dict[str, str]:
    """The steps' env vars plus each secret as a Jinja lookup of the Airflow Variable."""
    secrets = {
        variable: f"{{{{ var.value.get({name!r}) }}}}" for variable, name in plan.secret_env.items()
    }
    return {**step_env(plan), **secrets}


def settings_source(plan: DeploymentPlan) -> list[str]:
    """Module-level constants shared by the tasks."""
    target = plan.targets.airflow
    if target.operator == "bash":
        return [f"PROJECT_DIR = {target.project_dir!r}", f"ENV = {bash_env(plan)!r}"]
    secrets = ", ".join(
        f"Secret('env', {variable!r}, {name!r}, {SECRET_KEY!r})"
        for variable, name in plan.secret_env.items()
    )
    return [
        f"IMAGE = {plan.image!r}",
        f"NAMESPACE = {plan.targets.kubernetes.namespace!r}",
        f"SERVICE_ACCOUNT = {plan.service_account!r}",
        f"ENV = {step_env(plan)!r}",
        f"SECRETS = [{secrets}]",
    ]


def dag_source(plan: DeploymentPlan) -> str:
    """The whole DAG file."""
    target = plan.targets.airflow
    dag_arguments = {
        "dag_id": repr(plan.name),
        "schedule": repr(plan.schedule),
        "start_date": START_DATE,
        "catchup": "False",
        "max_active_runs": "1",
        "tags": repr(["cirrus"]),
    }
    if target.operator == "kubernetes":
        dag_arguments["user_defined_filters"] = f"{{{LABEL_FILTER!r}: make_safe_label_value}}"
    dependencies = [line for step in plan.steps if (line := dependency_source(step, plan))]
    parts = [
        f'"""Airflow DAG {plan.name}: generated by `kedro cirrus export airflow`; do not edit."""',
        "",
        "import datetime",
        "import zoneinfo",
        "",
        *IMPORTS[target.operator],
        "",
        *settings_source(plan),
        "",
        f"with {call('DAG', dag_arguments, depth=0)}:",
        *(task_source(step, plan) for step in plan.steps),
        *dependencies,
    ]
    return "\n".join(parts) + "\n"


def export(plan: DeploymentPlan, out_dir: Path) -> list[Path]:
    """Write the DAG file into out_dir."""
    path = out_dir / dag_file_name(plan)
    path.write_text(dag_source(plan))
    return [path]

"""The Airflow export, checked by Airflow 3 itself in its own virtual environment (.venv-airflow).

The `bash` DAG really runs: `airflow dags test` executes every step's `kedro run --env cloud` on a
project copy with a local storage root. The `kubernetes` DAG is loaded by Airflow's DagBag, and
each task builds the pod it would start; the test compares those pods with the plan.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kedro.framework.project import configure_project

from cirrus.deploy.cloud_project import load_plan
from cirrus.deploy.deploy_yml import KubernetesTarget, StepResources
from cirrus.deploy.export import export
from cirrus.deploy.plan import DeploymentPlan
from cirrus.deploy.run_id import RUN_ID_ENV, RUN_ID_SOURCES
from cirrus.storage import STORAGE_ROOT_ENV
from tests.conftest import REPO, make_project, write_raw

AIRFLOW_VENV = REPO / ".venv-airflow"
SETUP_SCRIPT = REPO / "scripts" / "setup-airflow.sh"
SALT = "airflow-test-salt"
GPU_STEP = "evaluation"

# A scheduled DAG run's id, as Airflow forms it: not a valid Kubernetes label value as it is.
RUN_ID = "scheduled__2025-01-06T04:00:00+00:00"
# Kubernetes label values: at most 63 characters, alphanumeric at both ends.
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")

# Runs inside .venv-airflow: loads the DAG folder with Airflow's DagBag and writes, for every DAG,
# its schedule and, for every task, its upstream tasks, retries, timeout and the pod it would start
# in a DAG run of id RUN_ID (its templates rendered as the task would render them), plus RUN_ID as
# the provider makes it a label value.
DESCRIBE_DAGS = """
import importlib.util, json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.cncf.kubernetes.pod_generator import make_safe_label_value
from kubernetes.client import ApiClient

dag_folder, out_file, run_id = sys.argv[1], sys.argv[2], sys.argv[3]
bag = DagBag(dag_folder=dag_folder)
api = ApiClient()

def describe(task, dag):
    info = {
        "operator": type(task).__name__,
        "upstream": sorted(task.upstream_task_ids),
        "retries": task.retries,
        "timeout_minutes": task.execution_timeout.total_seconds() / 60,
    }
    if hasattr(task, "build_pod_request_obj"):
        task.render_template_fields({"run_id": run_id}, jinja_env=dag.get_template_env())
        pod = task.build_pod_request_obj(dry_run=True)
        info["pod"] = api.sanitize_for_serialization(pod)
    return info

description = {
    "cirrus_importable": importlib.util.find_spec("cirrus") is not None,
    "import_errors": {path: str(error) for path, error in bag.import_errors.items()},
    "run_id_label": make_safe_label_value(run_id),
    "dags": {
        dag_id: {
            "timetable": type(dag.timetable).__name__,
            "cron": getattr(dag.timetable, "expression", None),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "tasks": {task.task_id: describe(task, dag) for task in dag.tasks},
        }
        for dag_id, dag in bag.dags.items()
    },
}
with open(out_file, "w") as out:
    json.dump(description, out)
"""


@pytest.fixture(scope="module")
def airflow_bin() -> Path:
    """The bin folder of .venv-airflow, installed from requirements-airflow.lock when needed."""
    result = subprocess.run(
        ["bash", str(SETUP_SCRIPT)], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return AIRFLOW_VENV / "bin"


def airflow_env(home: Path, dags: Path, **extra: str) -> dict[str, str]:
    """Environment of an Airflow command: a private home and SQLite DB, only our DAG folder."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # A failing step is retried at once instead of after the five-minute default.
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "0",
        **extra,
    }
    # The salt must reach the steps through the DAG, not through the test's own environment.
    env.pop("CIRRUS_PII_SALT", None)
    # Nor the project's source: Kedro puts src/ on PYTHONPATH in any process that loaded the
    # project before (an earlier test in this worker), and the DAGs must import without cirrus.
    env.pop("PYTHONPATH", None)
    return env


def run(command: list[str], env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    """Run a command, capturing its output."""
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def with_airflow(plan: DeploymentPlan, **settings: Any) -> DeploymentPlan:
    """The plan with other Airflow target settings."""
    airflow = plan.targets.airflow.model_copy(update=settings)
    return dataclasses.replace(plan, targets=plan.targets.model_copy(update={"airflow": airflow}))


def project_plan(project: Path, storage_root: str) -> DeploymentPlan:
    """The plan of a project copy on the given storage root."""
    configure_project("cirrus")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(STORAGE_ROOT_ENV, storage_root)
        return load_plan(project)


def task_states(airflow_home: Path, dag_id: str) -> dict[str, str]:
    """The state of every task instance of the DAG, read from Airflow's SQLite database."""
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        rows = db.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ?", (dag_id,))
        return dict(rows.fetchall())


def dag_run_ids(airflow_home: Path, dag_id: str) -> list[str]:
    """The ids of the DAG's runs, from Airflow's SQLite database."""
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        rows = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ?", (dag_id,))
        return [run_id for (run_id,) in rows.fetchall()]


def rendered_env(airflow_home: Path, dag_id: str, task_id: str) -> dict[str, str]:
    """The env a task ran with after templating, as Airflow stored it."""
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        row = db.execute(
            "SELECT rendered_fields FROM rendered_task_instance_fields "
            "WHERE dag_id = ? AND task_id = ?",
            (dag_id, task_id),
        ).fetchone()
    return json.loads(row[0])["env"]


def test_bash_dag_runs_every_step_under_airflow_dags_test(
    airflow_bin: Path, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "project")
    write_raw(project)
    data = project / "data"
    plan = with_airflow(
        project_plan(project, f"file://{data}"), operator="bash", project_dir=str(project)
    )
    dags, home = tmp_path / "dags", tmp_path / "airflow-home"
    assert export("airflow", plan, dags) == [dags / "cirrus_credit_default.py"]
    main_bin = Path(sys.executable).parent  # where `kedro` is
    env = airflow_env(
        home,
        dags,
        PATH=f"{main_bin}{os.pathsep}{os.environ['PATH']}",
        # The secret store behind Airflow Variables; names with '-' are valid here.
        **{f"AIRFLOW_VAR_{plan.secret_env['CIRRUS_PII_SALT'].upper()}": SALT},
        AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES="salt",
    )

    migrated = run([str(airflow_bin / "airflow"), "db", "migrate"], env, timeout=300)
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    result = run([str(airflow_bin / "airflow"), "dags", "test", plan.name], env, timeout=900)

    log = result.stdout[-5000:] + result.stderr[-5000:]
    assert result.returncode == 0, log
    assert task_states(home, plan.name) == dict.fromkeys(plan.step_names, "success"), log
    env_of_first = rendered_env(home, plan.name, plan.steps[0].name)
    assert env_of_first["CIRRUS_STORAGE_ROOT"] == f"file://{data}"
    assert env_of_first["CIRRUS_PII_SALT"] == "***"  # read from the Variable, masked
    # Every step ran with the DAG run's own id.
    [run_id] = dag_run_ids(home, plan.name)
    for step in plan.steps:
        assert rendered_env(home, plan.name, step.name)[RUN_ID_ENV] == run_id
    assert (data / "06_models/model.txt").read_text().startswith("tree")
    metrics = json.loads((data / "08_reporting/evaluation_metrics.json").read_text())
    assert metrics["n_test_rows"] > 0 and 0 <= metrics["model"]["roc_auc"] <= 1
    drift = json.loads((data / "08_reporting/drift_summary.json").read_text())
    assert isinstance(drift["dataset_drift"], bool) and drift["columns"]


def cores(quantity: str) -> float:
    """A Kubernetes CPU quantity ('4', '500m') in cores."""
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def gibibytes(quantity: str) -> float:
    """A Kubernetes memory quantity ('16Gi', '1536Mi') in GiB."""
    if quantity.endswith("Gi"):
        return float(quantity[:-2])
    assert quantity.endswith("Mi"), quantity
    return int(quantity[:-2]) / 1024


def with_gpu_step(plan: DeploymentPlan) -> DeploymentPlan:
    """The plan with one small GPU step, so fractional sizes and GPUs are rendered too."""
    gpu = StepResources(cpu=0.5, memory_gb=1.5, gpu=1, gpu_type="nvidia-l4", retries=0)
    steps = tuple(
        dataclasses.replace(step, resources=gpu) if step.name == GPU_STEP else step
        for step in plan.steps
    )
    return dataclasses.replace(plan, steps=steps)


@pytest.fixture(scope="module")
def kubernetes_dags(
    airflow_bin: Path, plan: DeploymentPlan, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, DeploymentPlan], dict[str, Any]]:
    """Two `kubernetes` DAGs (scheduled, and on demand) and Airflow's description of them."""
    tmp = tmp_path_factory.mktemp("airflow-kubernetes")
    scheduled = with_airflow(with_gpu_step(plan), operator="kubernetes")
    on_demand = dataclasses.replace(scheduled, name="cirrus-on-demand", schedule=None)
    plans = {scheduled.name: scheduled, on_demand.name: on_demand}
    dags = tmp / "dags"
    for each in plans.values():
        export("airflow", each, dags)
    out = tmp / "description.json"
    command = [str(airflow_bin / "python"), "-c", DESCRIBE_DAGS, str(dags), str(out), RUN_ID]
    result = run(command, airflow_env(tmp / "airflow-home", dags), timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return plans, json.loads(out.read_text())


def test_run_id_label_is_a_valid_kubernetes_label_value(kubernetes_dags) -> None:
    _, description = kubernetes_dags
    label = description["run_id_label"]

    assert RUN_ID_SOURCES["airflow"].placeholder == "{{ run_id }}"
    assert not LABEL_VALUE.fullmatch(RUN_ID)  # hence the filter
    assert LABEL_VALUE.fullmatch(label) and len(label) <= 63
    assert label.startswith("scheduled__2025-01-06T04")
    for dag in description["dags"].values():
        for task in dag["tasks"].values():
            for value in task["pod"]["metadata"]["labels"].values():
                assert LABEL_VALUE.fullmatch(value) and len(value) <= 63, value


def test_kubernetes_dags_import_in_airflow_without_cirrus(kubernetes_dags) -> None:
    plans, description = kubernetes_dags
    assert description["import_errors"] == {}
    assert not description["cirrus_importable"]
    assert set(description["dags"]) == set(plans)
    for dag_id, dag in description["dags"].items():
        schedule = plans[dag_id].schedule
        assert dag["cron"] == schedule
        assert dag["timetable"] == ("CronTriggerTimetable" if schedule else "NullTimetable")
        assert dag["catchup"] is False and dag["max_active_runs"] == 1


def test_kubernetes_tasks_match_the_plan(kubernetes_dags) -> None:
    plans, description = kubernetes_dags
    plan = plans["cirrus-credit-default"]
    target: KubernetesTarget = plan.targets.kubernetes
    tasks = description["dags"][plan.name]["tasks"]
    assert set(tasks) == set(plan.step_names)
    for step in plan.steps:
        task, resources = tasks[step.name], step.resources
        assert task["operator"] == "KubernetesPodOperator"
        assert task["upstream"] == sorted(step.depends_on)
        assert task["retries"] == resources.retries
        assert task["timeout_minutes"] == resources.timeout_minutes
        pod = task["pod"]
        assert pod["metadata"]["namespace"] == target.namespace
        assert pod["spec"]["serviceAccountName"] == plan.service_account
        (container,) = pod["spec"]["containers"]
        assert container["image"] == plan.image
        assert container["command"] == step.command and not container.get("args")
        env = {var["name"]: var for var in container["env"]}
        assert {name: env[name]["value"] for name in plan.env} == dict(plan.env)
        for variable, secret in plan.secret_env.items():
            assert env[variable]["valueFrom"]["secretKeyRef"]["name"] == secret
        requests, limits = container["resources"]["requests"], container["resources"]["limits"]
        assert cores(requests["cpu"]) == resources.cpu
        assert gibibytes(requests["memory"]) == gibibytes(limits["memory"]) == resources.memory_gb
        assert int(limits.get("nvidia.com/gpu", 0)) == resources.gpu
        selector = pod["spec"].get("nodeSelector") or {}
        expected_selector = dict(target.spot_node_selector) if resources.spot else {}
        if resources.gpu_type:
            expected_selector[target.gpu_type_label] = resources.gpu_type
        assert selector == expected_selector
        spot_tolerations = [t.model_dump(exclude_none=True) for t in target.spot_tolerations]
        expected_tolerations = spot_tolerations if resources.spot else []
        assert (pod["spec"].get("tolerations") or []) == expected_tolerations
        assert env[RUN_ID_ENV] == {"name": RUN_ID_ENV, "value": RUN_ID}
        # beside the operator's own labels (airflow_version; dag_id, run_id... once it runs)
        cirrus_labels = {k: v for k, v in pod["metadata"]["labels"].items() if "cirrus" in k}
        assert cirrus_labels == {
            "cirrus-pipeline": plan.name,
            "cirrus-step": step.name,
            "cirrus-run-id": description["run_id_label"],
        }
    # The committed deploy.yml really exercises spot and the test step a GPU.
    assert any(step.resources.spot for step in plan.steps)
    assert tasks[GPU_STEP]["pod"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]

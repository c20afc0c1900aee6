"""Vertex AI export: the compiled KFP v2 spec, and that spec executed by kfp's local runner."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import fsspec
import kfp.local
import lightgbm as lgb
import pytest
import yaml
from google.protobuf import json_format
from kedro.framework.project import configure_project
from kfp import components, dsl
from kfp.pipeline_spec import pipeline_spec_pb2

from cirrus.deploy.cloud_project import load_plan
from cirrus.deploy.export import export
from cirrus.deploy.plan import IMAGE_PROJECT_DIR, DeploymentPlan, PlanError, Step
from cirrus.deploy.run_id import RUN_ID_ENV
from cirrus.deploy.targets.vertex import (
    PIPELINE_FILE,
    PROJECT_DIR_ENV,
    SUBMIT_FILE,
    run_step,
)
from cirrus.storage import STORAGE_ROOT_ENV
from tests.conftest import make_project, upload_raw, write_raw
from tests.emulators.servers import create_s3_bucket, s3_server, s3_test_credentials

BUCKET = "cirrus-vertex-test"
SALT_SECRET = "projects/my-gcp-project/secrets/cirrus-pii-salt/versions/latest"


def compile_plan(plan: DeploymentPlan, out_dir: Path) -> dict[str, Any]:
    """Export the plan and read the compiled pipeline spec back."""
    written = export("vertex", plan, out_dir)
    assert sorted(path.name for path in written) == sorted([PIPELINE_FILE, SUBMIT_FILE])
    return yaml.safe_load((out_dir / PIPELINE_FILE).read_text())


def tasks_by_step(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The DAG's tasks keyed by their display name (the step name)."""
    return {task["taskInfo"]["name"]: task for task in spec["root"]["dag"]["tasks"].values()}


def step_of_task(spec: dict[str, Any]) -> dict[str, str]:
    """Task key in the spec -> step name."""
    return {key: task["taskInfo"]["name"] for key, task in spec["root"]["dag"]["tasks"].items()}


def container_of(spec: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    """The container a task's component runs in."""
    label = spec["components"][task["componentRef"]["name"]]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]["container"]


def constant(task: dict[str, Any], name: str) -> Any:
    """A constant input a task passes to its component."""
    return task["inputs"]["parameters"][name]["runtimeValue"]["constant"]


def with_resources(plan: DeploymentPlan, step_name: str, **changes: Any) -> DeploymentPlan:
    """The plan with some resources of one step changed."""

    def changed(step: Step) -> Step:
        """The step, changed when it is the one named."""
        if step.name != step_name:
            return step
        return dataclasses.replace(step, resources=step.resources.model_copy(update=changes))

    return dataclasses.replace(plan, steps=tuple(changed(step) for step in plan.steps))


@pytest.fixture(scope="module")
def exported(plan: DeploymentPlan, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed project's plan exported once (compiling takes seconds: kfp inspects stacks)."""
    out_dir = tmp_path_factory.mktemp("vertex")
    compile_plan(plan, out_dir)
    return out_dir


@pytest.fixture
def spec(exported: Path) -> dict[str, Any]:
    """The compiled pipeline spec of the committed project."""
    return yaml.safe_load((exported / PIPELINE_FILE).read_text())


def test_spec_parses_as_a_kfp_pipeline(
    plan: DeploymentPlan, exported: Path, spec: dict[str, Any]
) -> None:
    # Strict proto parsing rejects any field the pipeline schema does not define.
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    pipeline = components.load_component_from_file(str(exported / PIPELINE_FILE))
    assert pipeline.name == plan.name
    assert spec["pipelineInfo"]["name"] == plan.name


def test_one_task_per_step_in_dependency_order(plan: DeploymentPlan, spec: dict[str, Any]) -> None:
    tasks = tasks_by_step(spec)
    names = step_of_task(spec)

    assert sorted(tasks) == sorted(plan.step_names)
    for step in plan.steps:
        task = tasks[step.name]
        upstream = {names[key] for key in task.get("dependentTasks", [])}
        assert upstream == set(step.depends_on), step.name
        assert constant(task, "command") == step.command
        assert constant(task, "project_dir") == IMAGE_PROJECT_DIR
        assert constant(task, "timeout_minutes") == step.resources.timeout_minutes
        # A cached task would be skipped on the next scheduled run: its inputs never change.
        assert not task["cachingOptions"].get("enableCache", False), step.name
    assert any(step.depends_on for step in plan.steps)


def test_resources_retries_image_and_env_as_declared(
    plan: DeploymentPlan, spec: dict[str, Any]
) -> None:
    tasks = tasks_by_step(spec)

    for step in plan.steps:
        task = tasks[step.name]
        container = container_of(spec, task)
        assert container["image"] == plan.image
        assert container["resources"]["cpuLimit"] == step.resources.cpu
        assert container["resources"]["memoryLimit"] == step.resources.memory_gb
        assert "accelerator" not in container["resources"]
        assert task["retryPolicy"]["maxRetryCount"] == step.resources.retries
        env = {item["name"]: item["value"] for item in container["env"]}
        assert env == dict(plan.env)
        assert env[STORAGE_ROOT_ENV] == plan.storage_root
        assert constant(task, "secret_env") == {"CIRRUS_PII_SALT": SALT_SECRET}
    # The overrides of conf/base/deploy.yml reach the spec.
    training = container_of(spec, tasks["training"])
    assert training["resources"]["resourceCpuLimit"] == "4"
    assert training["resources"]["resourceMemoryLimit"] == "16G"
    assert tasks["training"]["retryPolicy"]["maxRetryCount"] == 3


def test_every_task_gets_the_pipeline_job_id_as_run_id_argument(
    plan: DeploymentPlan, spec: dict[str, Any]
) -> None:
    tasks = tasks_by_step(spec)

    for step in plan.steps:
        assert constant(tasks[step.name], "run_id") == dsl.PIPELINE_JOB_ID_PLACEHOLDER
        # Vertex AI resolves placeholders in arguments; the env holds only literal values.
        assert RUN_ID_ENV not in {
            item["name"] for item in container_of(spec, tasks[step.name])["env"]
        }
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())


@pytest.mark.parametrize(
    ("run_id", "seen"),
    [("8717761889699889152", "8717761889699889152"), (dsl.PIPELINE_JOB_ID_PLACEHOLDER, "unset")],
)
def test_component_sets_the_run_id_only_once_resolved(
    run_id: str,
    seen: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # An unresolved placeholder would give every run the same id and merge their records.
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    show = f"import os; print('seen', os.environ.get({RUN_ID_ENV!r}, 'unset'))"

    run_step([sys.executable, "-c", show], {}, 1, str(tmp_path), run_id)

    assert f"seen {seen}" in capfd.readouterr().out


def test_submit_settings_label_the_pipeline_job(plan: DeploymentPlan, exported: Path) -> None:
    labels = json.loads((exported / SUBMIT_FILE).read_text())["labels"]

    assert labels == {"cirrus-pipeline": plan.name}
    # Google Cloud labels: lowercase keys starting with a letter, values of the same alphabet.
    for key, value in labels.items():
        assert re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", key), key
        assert re.fullmatch(r"[a-z0-9_-]{0,63}", value), value


def test_gpu_steps_get_the_declared_accelerator(plan: DeploymentPlan, build_dir: Path) -> None:
    gpu_plan = with_resources(plan, "training", gpu=2, gpu_type="NVIDIA_L4", memory_gb=7.5)
    spec = compile_plan(gpu_plan, build_dir)

    resources = container_of(spec, tasks_by_step(spec)["training"])["resources"]
    assert resources["accelerator"]["resourceType"] == "NVIDIA_L4"
    assert resources["accelerator"]["resourceCount"] == "2"
    assert resources["resourceMemoryLimit"] == "7500M"


def test_gpu_without_a_type_names_the_setting(plan: DeploymentPlan, build_dir: Path) -> None:
    with pytest.raises(PlanError, match=r"deploy\.steps\.training\.gpu_type"):
        export("vertex", with_resources(plan, "training", gpu=1), build_dir)


def test_secret_without_project_names_the_setting(plan: DeploymentPlan, build_dir: Path) -> None:
    targets = plan.targets.model_copy(
        update={"vertex": plan.targets.vertex.model_copy(update={"project": None})}
    )
    with pytest.raises(PlanError, match=r"deploy\.targets\.vertex\.project"):
        export("vertex", dataclasses.replace(plan, targets=targets), build_dir)


def test_schedule_and_spot_steps_are_recorded_for_submit(
    plan: DeploymentPlan, exported: Path, spec: dict[str, Any], build_dir: Path
) -> None:
    settings = json.loads((exported / SUBMIT_FILE).read_text())

    assert settings["schedule"] == {"cron": f"TZ=UTC {plan.schedule}"}
    assert settings["template_path"] == PIPELINE_FILE
    assert settings["project"] == plan.targets.vertex.project
    assert settings["pipeline_root"] == plan.targets.vertex.pipeline_root
    assert settings["location"] == plan.region
    assert settings["service_account"] == plan.service_account
    spot = [step.name for step in plan.steps if step.resources.spot]
    assert spot and settings["spot_steps_on_standard_vms"] == spot
    assert plan.schedule in spec["pipelineInfo"]["description"]
    unscheduled = dataclasses.replace(plan, schedule=None)
    compile_plan(unscheduled, build_dir)
    assert json.loads((build_dir / SUBMIT_FILE).read_text())["schedule"] is None


def container_env(spec: dict[str, Any]) -> dict[str, str]:
    """The environment the spec gives every task's container (the same for all)."""
    envs = [
        {item["name"]: item["value"] for item in executor["container"]["env"]}
        for executor in spec["deploymentSpec"]["executors"].values()
    ]
    assert all(env == envs[0] for env in envs)
    return envs[0]


def run_ids(output: str) -> list[str]:
    """The run ids the tasks reported in their logs, one per task."""
    # the runner may prefix the lines of a task's log
    return re.findall(r"Run id: (\S+)", output)


def run_order(output: str, plan: DeploymentPlan) -> list[str]:
    """Steps in the order their commands started, from the tasks' logs."""
    starts = {step.name: output.find(f"$ {' '.join(step.command)}  (in ") for step in plan.steps}
    assert all(index >= 0 for index in starts.values()), starts
    return sorted(starts, key=starts.__getitem__)


@pytest.mark.slow
def test_exported_pipeline_runs_end_to_end_under_kfp_local_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "project")
    write_raw(project)
    root = f"s3://{BUCKET}/runs/cirrus"
    with s3_server(tmp_path) as server:
        credentials = s3_test_credentials(server.endpoint)
        create_s3_bucket(server.endpoint, BUCKET)
        secrets = yaml.safe_dump({"storage": credentials})
        (project / "conf" / "cloud" / "credentials.yml").write_text(secrets)
        fs = fsspec.filesystem("s3", **credentials)
        upload_raw(project, fs, root)

        configure_project("cirrus")
        monkeypatch.setenv(STORAGE_ROOT_ENV, root)
        plan = load_plan(project)
        spec = compile_plan(plan, tmp_path / "build")
        # The local runner ignores the containers' env; apply the spec's own, as Vertex AI would.
        for name, value in container_env(spec).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv(PROJECT_DIR_ENV, str(project))
        monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        pipeline = components.load_component_from_file(str(tmp_path / "build" / PIPELINE_FILE))
        kfp.local.init(
            runner=kfp.local.SubprocessRunner(use_venv=False),
            pipeline_root=str(tmp_path / "kfp-root"),
        )

        pipeline()

        output = capsys.readouterr().out
        order = run_order(output, plan)
        fs.invalidate_cache()
        model = fs.cat_file(f"{root}/06_models/model.txt").decode()
        metrics = json.loads(fs.cat_file(f"{root}/08_reporting/evaluation_metrics.json"))
        drift = json.loads(fs.cat_file(f"{root}/08_reporting/drift_summary.json"))

    assert container_env(spec)[STORAGE_ROOT_ENV] == root
    # The runner resolved the job id placeholder once for the run: every step got the same id.
    reported = run_ids(output)
    assert len(reported) == len(plan.steps) and len(set(reported)) == 1, reported
    assert reported[0].isdigit()
    for step in plan.steps:
        assert all(order.index(up) < order.index(step.name) for up in step.depends_on), order
    assert lgb.Booster(model_str=model).num_trees() > 0
    assert metrics["model"]["roc_auc"] > 0.6
    assert "annual_income" in drift["drifted_features"]  # the shift the small demo data carries
    # Every step read and wrote the bucket only: nothing landed in the copy's data folder.
    assert [p for p in (project / "data").rglob("*") if p.is_file()] == []

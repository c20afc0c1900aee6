"""The deployment plan: steps, run order, resources and every refusal, on small pipelines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline

from cirrus.deploy.deploy_yml import DeployConfigError, parse_deploy
from cirrus.deploy.plan import STEP_ENTRYPOINT, DeploymentPlan, PlanError, build_plan, step_name
from cirrus.storage import STORAGE_ROOT_ENV, StorageRootError, resolve_storage_root
from tests.conftest import REPO, kedro, make_project

ROOT = "s3://bucket/prefix"


def identity(*values: Any) -> Any:
    """A node body; the plan never runs it."""
    return values[0]


def catalog_for(*names: str, root: str = ROOT) -> DataCatalog:
    """Parquet datasets under the root for the given names."""
    return DataCatalog.from_config(
        {name: {"type": "pandas.ParquetDataset", "filepath": f"{root}/{name}.pq"} for name in names}
    )


PIPELINES = {
    "prepare": Pipeline(
        [
            Node(identity, "raw", "clean", name="clean_raw"),
            Node(identity, "clean", "table", name="make_table", namespace="tables"),
        ]
    ),
    "learn": Pipeline([Node(identity, ["table", "params:learn"], "model", name="fit")]),
    "report": Pipeline([Node(identity, ["model", "table"], "report", name="describe")]),
}
ALL_DATA = ("raw", "clean", "table", "model", "report")


def config(**changes: Any) -> Any:
    """A valid deploy block with some keys changed."""
    raw = {"name": "demo", "image": "registry/demo:1", "pipelines": ["prepare", "learn", "report"]}
    return parse_deploy({**raw, **changes}, "deploy.yml")


def test_one_step_per_pipeline_waits_for_the_steps_it_reads_from() -> None:
    plan = build_plan(config(), PIPELINES, catalog_for(*ALL_DATA), ROOT)

    assert plan.step_names == ["prepare", "learn", "report"]
    assert plan.step("learn").depends_on == ("prepare",)
    assert plan.step("report").depends_on == ("prepare", "learn")
    assert plan.step("learn").command == [*STEP_ENTRYPOINT, "--pipelines", "learn"]
    assert plan.step("learn").inputs == ("table",)
    assert plan.env["CIRRUS_STORAGE_ROOT"] == ROOT


def test_run_order_follows_data_not_declaration_order() -> None:
    plan = build_plan(
        config(pipelines=["report", "learn", "prepare"]), PIPELINES, catalog_for(*ALL_DATA), ROOT
    )
    assert plan.step_names == ["prepare", "learn", "report"]


def test_node_and_namespace_groupings_give_their_own_selectors() -> None:
    by_node = build_plan(config(grouping="node"), PIPELINES, catalog_for(*ALL_DATA), ROOT)
    by_namespace = build_plan(config(grouping="namespace"), PIPELINES, catalog_for(*ALL_DATA), ROOT)

    # A namespaced node's full name carries its namespace.
    assert by_node.step_names == ["clean-raw", "tables-make-table", "fit", "describe"]
    assert by_node.step("tables-make-table").command[-2:] == ["--nodes", "tables.make_table"]
    assert by_node.step("tables-make-table").depends_on == ("clean-raw",)
    assert by_namespace.step_names == ["prepare", "tables", "learn", "report"]
    assert by_namespace.step("tables").command[-2:] == ["--namespaces", "tables"]


def test_step_resources_are_defaults_plus_overrides() -> None:
    plan = build_plan(
        config(defaults={"cpu": 2, "retries": 1}, steps={"learn": {"memory_gb": 32, "spot": True}}),
        PIPELINES,
        catalog_for(*ALL_DATA),
        ROOT,
    )
    learn, report = plan.step("learn").resources, plan.step("report").resources
    assert (learn.cpu, learn.memory_gb, learn.spot, learn.retries) == (2, 32, True, 1)
    assert (report.cpu, report.memory_gb, report.spot) == (2, 4, False)


def test_dataset_held_in_memory_across_steps_is_refused_by_name() -> None:
    in_memory = catalog_for("raw", "clean", "model", "report")  # no entry for `table`

    with pytest.raises(PlanError, match=r"Dataset 'table' .*held in memory"):
        build_plan(config(), PIPELINES, in_memory, ROOT)


def test_local_file_outside_the_storage_root_is_refused_by_name() -> None:
    catalog = DataCatalog.from_config(
        {
            **{n: {"type": "pandas.ParquetDataset", "filepath": f"{ROOT}/{n}"} for n in ALL_DATA},
            "model": {"type": "pandas.ParquetDataset", "filepath": "data/06_models/model.pq"},
        }
    )
    with pytest.raises(PlanError, match=r"Dataset 'model' .*local file"):
        build_plan(config(), PIPELINES, catalog, ROOT)


def test_unknown_pipeline_in_deploy_names_it_and_the_choices() -> None:
    with pytest.raises(
        PlanError, match=r"deploy.pipelines names 'trainig'.*learn, prepare, report"
    ):
        build_plan(
            config(pipelines=["prepare", "trainig"]), PIPELINES, catalog_for(*ALL_DATA), ROOT
        )


def test_step_override_for_a_step_not_in_the_plan_is_refused() -> None:
    with pytest.raises(PlanError, match=r"deploy.steps.lern is not a step.*prepare, learn, report"):
        build_plan(config(steps={"lern": {"cpu": 2}}), PIPELINES, catalog_for(*ALL_DATA), ROOT)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"imgae": "x"}, "unknown key 'deploy.imgae'"),
        ({"defaults": {"memory": 4}}, "unknown key 'deploy.defaults.memory'"),
        ({"grouping": "pipelines"}, "'deploy.grouping'"),
        ({"schedule": "daily"}, "five-field cron"),
        (
            {"targets": {"kubernetes": {"namespaces": "x"}}},
            "unknown key 'deploy.targets.kubernetes.namespaces'",
        ),
        (
            {"targets": {"kubernetes": {"spot_tolerations": [{"key": "spot", "seconds": 60}]}}},
            "unknown key 'deploy.targets.kubernetes.spot_tolerations.0.seconds'",
        ),
        ({"defaults": {"cpu": 0}}, "'deploy.defaults.cpu'"),
    ],
)
def test_deploy_typos_name_the_key_and_the_file(changes: dict, message: str) -> None:
    with pytest.raises(DeployConfigError, match=r"deploy\.yml") as error:
        config(**changes)
    assert message in str(error.value)


def test_step_names_are_safe_for_every_target() -> None:
    assert step_name("Train_LightGBM.model") == "train-lightgbm-model"
    assert step_name("2nd_pass") == "step-2nd-pass"


def test_storage_root_comes_from_the_environment_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STORAGE_ROOT_ENV, "gs://from-env/x/")
    assert resolve_storage_root("s3://from-setting") == "gs://from-env/x"
    monkeypatch.delenv(STORAGE_ROOT_ENV)
    assert resolve_storage_root("s3://from-setting") == "s3://from-setting"
    with pytest.raises(StorageRootError, match="CIRRUS_STORAGE_ROOT"):
        resolve_storage_root(None)
    with pytest.raises(StorageRootError, match="must be a URL"):
        resolve_storage_root("ftp://host/x")


def test_committed_plan_runs_the_lifecycle_in_order(plan: DeploymentPlan) -> None:
    assert plan.step_names == ["ingestion", "features", "training", "evaluation", "drift"]
    assert plan.step("drift").depends_on == ("features", "training", "evaluation")
    assert plan.step("training").resources.spot is True


def export_cli(project: Path, *args: str, env: dict | None = None) -> str:
    """Run `kedro cirrus export` in a project copy; the combined output of a failed run."""
    result = kedro(project, "cirrus", "export", *args, env=env)
    assert result.returncode != 0, result.stdout
    return result.stdout + result.stderr


def test_export_cli_refuses_bad_requests_clearly(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    root = {STORAGE_ROOT_ENV: "s3://bucket/x"}

    assert "'kubeflow' is not one of" in export_cli(project, "kubeflow", env=root)
    missing_root = export_cli(project, "argo", env={STORAGE_ROOT_ENV: None})
    assert "No storage root" in missing_root and "conf/cloud/globals.yml" in missing_root
    typo = {"deploy": {**yaml.safe_load((REPO / "conf/base/deploy.yml").read_text())["deploy"]}}
    typo["deploy"]["retires"] = 3
    (project / "conf" / "cloud" / "deploy.yml").write_text(yaml.safe_dump(typo))
    assert "unknown key 'deploy.retires'" in export_cli(project, "argo", env=root)
    assert not (project / "build").exists()


@pytest.mark.slow
def test_export_cli_refuses_a_dataset_that_would_stay_in_memory(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    memory = {"test_predictions": {"type": "MemoryDataset"}}
    (project / "conf" / "cloud" / "catalog.yml").write_text(yaml.safe_dump(memory))

    output = export_cli(project, "vertex", env={STORAGE_ROOT_ENV: "gs://bucket/x"})

    assert "Dataset 'test_predictions'" in output and "held in memory" in output
    assert "Traceback" not in output
    assert not (project / "build").exists()


@pytest.mark.slow
def test_export_cli_writes_every_target_with_the_same_storage_root(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    out = tmp_path / "exports"  # an absolute --out outside the project

    result = kedro(
        project, "cirrus", "export", "all", "--out", str(out), env={STORAGE_ROOT_ENV: "gs://b/x"}
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    main_files = [
        "argo/workflow.yaml",
        "vertex/pipeline.yaml",
        "airflow/cirrus_credit_default.py",
        "sagemaker/pipeline.json",
        "azureml/pipeline.yaml",
    ]
    for name in main_files:
        assert "gs://b/x" in (out / name).read_text(), f"{name} lacks the storage root"

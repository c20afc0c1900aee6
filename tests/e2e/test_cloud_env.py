"""`kedro run --env cloud` end to end on emulated object storage (moto S3, Azurite) on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fsspec
import lightgbm as lgb
import pandas as pd
import pytest
import yaml
from azure.storage.blob import BlobServiceClient

from cirrus.cli import RETRAIN_EXIT_CODE
from cirrus.storage import STORAGE_ROOT_ENV
from tests.conftest import NOT_OUTPUTS, RAW_FILES, kedro, make_project, upload_raw, write_raw
from tests.emulators.servers import (
    azure_server,
    azurite_connection_string,
    create_s3_bucket,
    gcs_server,
    s3_server,
    s3_test_credentials,
)

BUCKET = "cirrus-cloud-test"
# Every output of the default run, relative to the storage root (the catalog's layout).
EXPECTED_OUTPUTS = {
    "02_intermediate/validated_reference.parquet",
    "02_intermediate/validated_current.parquet",
    "03_primary/reference.parquet",
    "03_primary/current.parquet",
    "03_primary/train_rows.parquet",
    "03_primary/test_rows.parquet",
    "04_feature/feature_spec.json",
    "04_feature/unseen_categories.json",
    "05_model_input/train.parquet",
    "05_model_input/test.parquet",
    "05_model_input/current.parquet",
    "06_models/model.txt",
    "06_models/training_metrics.json",
    "06_models/feature_importance.csv",
    "07_model_output/test_predictions.parquet",
    "07_model_output/current_predictions.parquet",
    "08_reporting/evaluation_metrics.json",
    "08_reporting/quality_gate.json",
    "08_reporting/drift_report.html",
    "08_reporting/drift_summary.json",
    "08_reporting/roc_points.csv",
    "08_reporting/pr_points.csv",
    "08_reporting/plots/roc_curve.json",
}


@dataclass(frozen=True)
class CloudRun:
    """A finished cloud run: the project copy, its store and root, and the CLI result."""

    project: Path
    fs: fsspec.AbstractFileSystem
    root: str
    result: subprocess.CompletedProcess


def cloud_project(tmp_path: Path) -> Path:
    """A project copy whose raw CSVs are generated locally, then only uploaded (data/ emptied)."""
    project = make_project(tmp_path / "project")
    write_raw(project)
    return project


def cloud_run(
    project: Path, root: str | None, *args: str, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess:
    """`kedro run --env cloud ARGS` on a storage root (None: no root at all)."""
    return kedro(
        project, "run", "--env", "cloud", *args, env={**(env or {}), STORAGE_ROOT_ENV: root}
    )


def written_objects(fs: fsspec.AbstractFileSystem, root: str) -> set[str]:
    """Every output object under the root, relative to it (see conftest NOT_OUTPUTS)."""
    fs.invalidate_cache()
    prefix = fs._strip_protocol(root) + "/"
    relative = {path.removeprefix(prefix) for path in fs.find(root)}
    return {path for path in relative if not set(NOT_OUTPUTS) & set(path.split("/"))}


def local_data_files(project: Path) -> list[Path]:
    """Files a cloud run must not have written locally."""
    return [p for p in (project / "data").rglob("*") if p.is_file()]


def assert_round_trip(project: Path, fs: fsspec.AbstractFileSystem, root: str) -> None:
    """All outputs are on the store, none local, and the model read back predicts."""
    objects = written_objects(fs, root)
    missing = EXPECTED_OUTPUTS - objects
    assert not missing, f"not written to {root}: {sorted(missing)}"
    staged = [p for p in fs.find(root) if "/.cirrus/" in p and "/.cirrus/lock" not in p]
    assert not staged, f"staging or journals left behind: {staged}"
    assert local_data_files(project) == []
    booster = lgb.Booster(model_str=fs.cat_file(f"{root}/06_models/model.txt").decode())
    with fs.open(f"{root}/05_model_input/test.parquet", "rb") as handle:
        test = pd.read_parquet(handle)
    scores = booster.predict(test[booster.feature_name()])
    assert len(scores) == len(test) and ((scores >= 0) & (scores <= 1)).all()
    metrics = json.loads(fs.cat_file(f"{root}/08_reporting/evaluation_metrics.json"))
    assert metrics["model"]["roc_auc"] > 0.6


@pytest.fixture(scope="module")
def s3_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudRun]:
    """One `kedro run --env cloud` on moto S3, credentials from conf/cloud/credentials.yml."""
    tmp_path = tmp_path_factory.mktemp("s3")
    with s3_server(tmp_path) as server:
        credentials = s3_test_credentials(server.endpoint)
        fs = fsspec.filesystem("s3", **credentials)
        create_s3_bucket(server.endpoint, BUCKET)
        project = cloud_project(tmp_path)
        secrets = yaml.safe_dump({"storage": credentials})
        (project / "conf" / "cloud" / "credentials.yml").write_text(secrets)
        root = f"s3://{BUCKET}/runs/cirrus"
        upload_raw(project, fs, root)
        result = cloud_run(project, root)
        yield CloudRun(project, fs, root, result)


def test_cloud_run_round_trips_through_s3_with_credentials_from_conf(s3_run: CloudRun) -> None:
    result = s3_run.result
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert_round_trip(s3_run.project, s3_run.fs, s3_run.root)


def test_cloud_run_round_trips_through_azure_blob_with_credentials_from_environment(
    tmp_path: Path,
) -> None:
    project = cloud_project(tmp_path)
    with azure_server(tmp_path) as server:
        connection = azurite_connection_string(server.endpoint)
        BlobServiceClient.from_connection_string(connection).create_container("models")
        root = "abfs://models/cirrus"
        fs = fsspec.filesystem("abfs", connection_string=connection)
        upload_raw(project, fs, root)

        result = cloud_run(project, root, env={"AZURE_STORAGE_CONNECTION_STRING": connection})

        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert_round_trip(project, fs, root)


def test_cloud_ingestion_writes_to_gcs_with_the_emulator_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without this every gcsfs call first waits about 60 s on a gRPC attempt.
    monkeypatch.setenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    project = cloud_project(tmp_path)
    with gcs_server(tmp_path, "features") as server:
        # gcsfs reads STORAGE_EMULATOR_HOST, as google-cloud-storage does.
        root = "gs://features/cirrus"
        fs = fsspec.filesystem("gs", endpoint_url=server.endpoint, token="anon")
        upload_raw(project, fs, root)

        env = {"STORAGE_EMULATOR_HOST": server.endpoint}
        result = cloud_run(project, root, "--pipelines", "ingestion", env=env)

        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        with fs.open(f"{root}/03_primary/reference.parquet", "rb") as handle:
            reference = pd.read_parquet(handle)
        assert len(reference) > 0 and "applicant_name" not in reference.columns
        assert {"03_primary/reference.parquet", "03_primary/current.parquet"} <= written_objects(
            fs, root
        )
        assert local_data_files(project) == []


def test_scoring_and_monitoring_keep_the_prediction_log_on_s3(s3_run: CloudRun) -> None:
    fs, root, project = s3_run.fs, s3_run.root, s3_run.project
    assert s3_run.result.returncode == 0
    env = {STORAGE_ROOT_ENV: root}

    scored = cloud_run(project, root, "--pipelines", "inference")
    monitored = kedro(project, "cirrus", "monitor", "--env", "cloud", env=env)

    assert scored.returncode == 0, scored.stdout[-3000:] + scored.stderr[-3000:]
    assert monitored.returncode in (0, RETRAIN_EXIT_CODE), monitored.stderr[-3000:]
    fs.invalidate_cache()
    parts = fs.glob(f"{root}/07_model_output/prediction_log/date=*/part-*.parquet")
    assert len(parts) == 1
    with fs.open(parts[0], "rb") as handle:
        logged = pd.read_parquet(handle)
    with fs.open(f"{root}/01_raw/credit_applications_new.csv", "rb") as handle:
        assert len(logged) == len(pd.read_csv(handle))
    summary = json.loads(fs.cat_file(f"{root}/08_reporting/monitoring/summary.json"))
    assert summary["window"]["rows"] == len(logged)
    assert (monitored.returncode == RETRAIN_EXIT_CODE) is summary["retrain_recommended"]
    assert local_data_files(project) == []
    staged = [p for p in fs.find(root) if "/.cirrus/" in p and "/.cirrus/lock" not in p]
    assert not staged


def test_failed_cloud_run_restores_previous_objects(s3_run: CloudRun) -> None:
    fs, root = s3_run.fs, s3_run.root
    assert s3_run.result.returncode == 0
    before = {path: fs.cat_file(f"{root}/{path}") for path in written_objects(fs, root)}
    # Another threshold changes the saved metrics; the unreachable gate then fails the run.
    gate = {
        "evaluation": {
            "threshold": 0.3,
            "quality_gate": {"binary": {"roc_auc": {"min": 0.999}}},
        }
    }
    override = s3_run.project / "conf" / "cloud" / "parameters_evaluation.yml"
    override.write_text(yaml.safe_dump(gate))

    failed = cloud_run(s3_run.project, root, "--pipelines", "evaluation")

    override.unlink()
    assert failed.returncode != 0
    assert "roc_auc" in failed.stdout + failed.stderr
    after = {path: fs.cat_file(f"{root}/{path}") for path in written_objects(fs, root)}
    assert after == before


def test_cloud_run_without_storage_root_names_the_setting(tmp_path: Path) -> None:
    project = cloud_project(tmp_path)
    result = cloud_run(project, None)

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert STORAGE_ROOT_ENV in output and "conf/cloud/globals.yml" in output
    assert sorted(p.name for p in local_data_files(project)) == sorted(RAW_FILES)


def test_cloud_run_refuses_a_dataset_left_on_local_disk(tmp_path: Path) -> None:
    project = cloud_project(tmp_path)
    local_model = {"model": {"type": "text.TextDataset", "filepath": "data/06_models/model.txt"}}
    (project / "conf" / "cloud" / "catalog.yml").write_text(yaml.safe_dump(local_model))

    result = cloud_run(project, "s3://unreachable-bucket/x")

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Dataset 'model' is a local file" in output and "s3://unreachable-bucket/x" in output
    assert sorted(p.name for p in local_data_files(project)) == sorted(RAW_FILES)

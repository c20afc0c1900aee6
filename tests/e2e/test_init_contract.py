"""End to end: `kedro cirrus init-contract` on generated tables of real shapes, then `kedro run`
in a temporary copy of the project with no other edit."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cirrus.metrics import PRIMARY_METRIC
from tests import shapes
from tests.conftest import kedro, make_project

DEMO_COLUMNS = ("annual_income", "loan_amount", "existing_debt", "application_time")
CONF_FILES = (
    "conf/base/parameters_contract.yml",
    "conf/base/parameters_ingestion.yml",
    "conf/base/parameters_features.yml",
    "conf/base/catalog.yml",
)
SHAPES: dict[str, tuple[Callable[[], pd.DataFrame], str, str, str]] = {
    # name: (builder, file, target, expected task)
    "no_time_column": (shapes.churn_without_time, "churn.csv", "churned", "binary"),
    "three_classes_150_rows": (shapes.three_classes, "wine.csv", "cultivar", "multiclass"),
    "wide_sparse_6pct": (shapes.wide_sparse, "wide.parquet", "flag", "binary"),
    "yes_no_labels": (shapes.yes_no_labels, "bank.csv", "subscribed", "binary"),
    "hourly_regression": (shapes.hourly_regression, "demand.csv", "demand", "regression"),
}


def _write(frame: pd.DataFrame, path: Path) -> None:
    """A generated table as CSV or Parquet, by the file's name."""
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _conf_digests(project: Path) -> dict[str, str]:
    """SHA-256 of the files init-contract may write."""
    return {name: hashlib.sha256((project / name).read_bytes()).hexdigest() for name in CONF_FILES}


def _report(project: Path, name: str) -> dict:
    """A JSON report of data/08_reporting."""
    return json.loads((project / "data" / "08_reporting" / name).read_text())


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_init_contract_then_kedro_run_works_with_no_other_edit(tmp_path: Path, shape: str):
    # Arrange: a fresh project copy (the demo's conf) and the generated file under 01_raw
    build, file_name, target, task = SHAPES[shape]
    project = make_project(tmp_path / shape)
    raw = build()
    _write(raw, project / "data" / "01_raw" / file_name)

    # Act
    init = kedro(
        project,
        "cirrus",
        "init-contract",
        f"data/01_raw/{file_name}",
        "--target",
        target,
        "--force",
    )
    run = kedro(project, "run")
    inference = kedro(project, "run", "--pipelines", "inference")

    # Assert: the run works, the model beats the baseline, the gate passes, no dataset drift;
    # batch scoring works at once on the file raw_inference now reads (the user's own)
    assert init.returncode == 0, init.stdout[-3000:] + init.stderr[-3000:]
    assert f"Task: {task} on target '{target}'" in init.stdout
    assert "raw_inference (the rows `kedro run --pipelines inference` scores) now reads" in (
        init.stdout
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert inference.returncode == 0, inference.stdout[-4000:] + inference.stderr[-4000:]
    assert _report(project, "inference_report.json")["rows_scored"] == len(raw)
    metrics = _report(project, "evaluation_metrics.json")
    primary = PRIMARY_METRIC[task]
    assert metrics["task"] == task
    assert metrics["beats_baseline"][primary] is True, metrics
    assert _report(project, "quality_gate.json")["passed"] is True
    drift = _report(project, "drift_summary.json")
    assert drift["dataset_drift"] is False, drift["drifted_features"]
    assert drift["retrain_recommended"] is False, drift["retrain_reasons"]
    assert not list((project / "conf" / "local").glob("*.yml"))  # nothing edited by hand
    features = (project / "conf/base/parameters_features.yml").read_text()
    assert not [column for column in DEMO_COLUMNS if column in features]


def test_pii_found_by_init_contract_is_hashed_before_the_first_write(tmp_path: Path):
    # Arrange
    project = make_project(tmp_path / "pii")
    raw = shapes.churn_without_time(n_rows=400)
    _write(raw, project / "data" / "01_raw" / "churn.csv")

    # Act
    init = kedro(
        project,
        "cirrus",
        "init-contract",
        "data/01_raw/churn.csv",
        "--target",
        "churned",
        "--force",
    )
    run = kedro(project, "run", "--pipelines", "ingestion")

    # Assert
    assert init.returncode == 0, init.stderr[-2000:]
    assert "email: likely PII: e-mail addresses in 100% of values -> pii: hash" in init.stdout
    assert run.returncode == 0, run.stderr[-3000:]
    validated = pd.read_parquet(project / "data/02_intermediate/validated_reference.parquet")
    assert not set(validated["email"]) & set(raw["email"])
    assert validated["email"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert "notes" not in validated.columns and "source_system" not in validated.columns
    report = _report(project, "ingestion_report.json")
    assert report["same_rows_in_both"] is True
    assert report["reference_rows"] + report["current_rows"] == len(raw)


def test_existing_conf_is_refused_without_force_naming_the_files(tmp_path: Path):
    # Arrange: the project's committed (demo) conf is there
    project = make_project(tmp_path / "refuse")
    _write(shapes.yes_no_labels(n_rows=300), project / "data/01_raw/bank.csv")
    before = _conf_digests(project)

    # Act
    result = kedro(
        project, "cirrus", "init-contract", "data/01_raw/bank.csv", "--target", "subscribed"
    )

    # Assert
    message = " ".join(result.stderr.split())
    assert result.returncode == 1
    assert "Error: Not written: conf/base/parameters_contract.yml, " in message
    assert "conf/base/catalog.yml already exist and would change" in message
    assert "nothing was changed. Rerun with --force" in message
    assert "Traceback" not in result.stderr
    assert _conf_digests(project) == before


def test_a_target_the_file_lacks_changes_nothing(tmp_path: Path):
    # Arrange
    project = make_project(tmp_path / "typo")
    _write(shapes.yes_no_labels(n_rows=300), project / "data/01_raw/bank.csv")
    before = _conf_digests(project)

    # Act
    result = kedro(
        project,
        "cirrus",
        "init-contract",
        "data/01_raw/bank.csv",
        "--target",
        "subscribd",
        "--force",
    )

    # Assert
    message = " ".join(result.stderr.split())
    assert result.returncode == 1
    assert "--target 'subscribd' is not a column of the file; did you mean 'subscribed'?" in (
        message
    )
    assert _conf_digests(project) == before
    assert not list((project / "conf/base").glob(".*tmp"))


def test_files_mode_with_one_file_is_refused_before_any_node(tmp_path: Path):
    # Arrange: init-contract's configuration, then the split switched back to `files`
    project = make_project(tmp_path / "files")
    _write(shapes.yes_no_labels(n_rows=300), project / "data/01_raw/bank.csv")
    init = kedro(
        project,
        "cirrus",
        "init-contract",
        "data/01_raw/bank.csv",
        "--target",
        "subscribed",
        "--force",
    )
    path = project / "conf/base/parameters_ingestion.yml"
    parameters = yaml.safe_load(path.read_text())
    parameters["ingestion"]["split"] = {"mode": "files"}
    path.write_text(yaml.safe_dump(parameters, sort_keys=False))

    # Act
    result = kedro(project, "run")

    # Assert
    message = " ".join(result.stderr.split())
    assert init.returncode == 0, init.stderr[-2000:]
    assert result.returncode == 1
    assert "'ingestion.split.mode' is 'files', but raw_reference and raw_current both read" in (
        message
    )
    assert "set ingestion.split.mode to 'fraction'" in message
    assert not (project / "data/02_intermediate/validated_reference.parquet").exists()


def test_time_holdout_without_event_time_is_refused_before_any_node(tmp_path: Path):
    # Arrange
    project = make_project(tmp_path / "holdout")
    _write(shapes.yes_no_labels(n_rows=300), project / "data/01_raw/bank.csv")
    init = kedro(
        project,
        "cirrus",
        "init-contract",
        "data/01_raw/bank.csv",
        "--target",
        "subscribed",
        "--force",
    )

    # Act
    result = kedro(project, "run", "--params", "holdout.strategy=time")

    # Assert
    message = " ".join(result.stderr.split())
    assert init.returncode == 0, init.stderr[-2000:]
    assert result.returncode == 1
    assert "In conf/base/parameters_features.yml: 'holdout.strategy' is 'time'" in message
    assert not (project / "data/02_intermediate/validated_reference.parquet").exists()

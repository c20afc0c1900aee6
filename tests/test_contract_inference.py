"""Tests of the configuration init-contract infers: roles, task, PII, split, and how it writes."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from cirrus import contract_inference as ci
from cirrus.contract import DatasetContract
from cirrus.contract_inference import (
    ContractInferenceError,
    catalog_filepath,
    infer_configuration,
    render_catalog,
    render_contract,
    write_configuration,
)
from cirrus.parameters import ConfigError
from tests import shapes

REPO = Path(__file__).resolve().parents[1]
EVALUATION_FILE = "conf/base/parameters_evaluation.yml"
# What init-contract writes for a binary target (the evaluation file: threshold auto).
WRITTEN = ci.CONTRACT_FILE, ci.INGESTION_FILE, ci.FEATURES_FILE, EVALUATION_FILE, ci.CATALOG_FILE


def _infer(frame: pd.DataFrame, target: str, **options: Any) -> ci.InferredConfig:
    """The configuration inferred for a frame, as if read from data/01_raw/table.csv."""
    return infer_configuration(frame, "data/01_raw/table.csv", "csv", target, **options)


def _left_out(config: ci.InferredConfig) -> dict[str, str]:
    """Left-out columns and their reasons."""
    return {item.column: item.reason for item in config.left_out}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project's conf (the committed one) and an empty data/01_raw."""
    shutil.copytree(REPO / "conf" / "base", tmp_path / "conf" / "base")
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "data" / "01_raw").mkdir(parents=True)
    return tmp_path


def _digests(project: Path) -> dict[str, str]:
    return {f: hashlib.sha256((project / f).read_bytes()).hexdigest() for f in WRITTEN}


# --- roles --------------------------------------------------------------------------------------


def test_roles_follow_dtype_and_cardinality():
    # Act
    config = _infer(shapes.churn_without_time(n_rows=600), "churned")

    # Assert
    contract = config.contract
    assert contract["id_column"] == "customer_id"
    assert contract["event_time_column"] is None
    assert contract["features"] == {
        "numeric": ["tenure_months", "monthly_spend", "support_calls"],
        "categorical": ["plan", "country"],
        "datetime": [],
    }
    left_out = _left_out(config)
    assert left_out["source_system"] == "constant (always 'crm')"
    assert left_out["notes"].startswith("free text")
    # Levels seen are not a hard list: a new level scores as __unknown__ and is reported.
    assert contract["columns"]["plan"] == {"dtype": "string", "nullable": False}
    # The observed range is the expected one (reported beyond it), not a hard limit.
    assert contract["columns"]["tenure_months"] == {
        "dtype": "int",
        "nullable": False,
        "expected_min": 1,
        "expected_max": 72,
    }
    assert "nullable" not in contract["columns"]["monthly_spend"]  # it has nulls


def test_id_like_columns_are_left_out_and_a_near_unique_text_too():
    # Arrange
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "record_id": np.arange(200),
            "row_number": np.arange(1, 201),
            "serial": [f"S{n}" for n in rng.permutation(200)],
            "x": rng.normal(size=200),
            "y": rng.integers(0, 2, 200),
        }
    )

    # Act
    config = _infer(frame, "y")

    # Assert
    assert config.contract["id_column"] == "record_id"
    assert config.contract["features"]["numeric"] == ["x"]
    left_out = _left_out(config)
    assert left_out["row_number"] == "id-like (a unique integer in every row)"
    assert left_out["serial"] == "id-like (200 distinct values in 200 rows)" or left_out[
        "serial"
    ].startswith("very high cardinality")


def test_names_lightgbm_refuses_are_left_out():
    # Arrange
    frame = pd.DataFrame(
        {"ratio [a:b]": [0.1, 0.2, 0.3, 0.4] * 10, "k": [1, 2, 3, 4] * 10, "y": [0, 1] * 20}
    )

    # Act
    config = _infer(frame, "y")

    # Assert
    assert "ratio [a:b]" in _left_out(config)
    assert config.contract["features"]["numeric"] == ["k"]


# --- task and positive class ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "task"),
    [
        (["a", "b"] * 30, "binary"),
        ([1, 2, 3] * 20, "multiclass"),
        (["x", "y", "z", "w"] * 15, "multiclass"),
        (list(np.linspace(0, 1, 60)), "regression"),
        (list(range(60)), "regression"),  # an integer target with many values
    ],
)
def test_task_is_inferred_from_the_target(target: list[Any], task: str):
    # Arrange
    frame = pd.DataFrame({"f": np.arange(60) % 7, "t": target})

    # Act
    config = _infer(frame, "t")

    # Assert
    assert config.contract["task"] == task
    assert ("positive_class" in config.contract) == (task == "binary")


@pytest.mark.parametrize(
    ("labels", "positive"),
    [
        (["No"] * 50 + ["Yes"] * 10, "Yes"),
        (["No"] * 10 + ["Yes"] * 50, "Yes"),  # yes-like wins over the rarer label
        ([0] * 50 + [1] * 10, "1"),
        ([False] * 40 + [True] * 20, "True"),
        (["cat"] * 45 + ["dog"] * 15, "dog"),  # no yes-like label: the rarer one
    ],
)
def test_the_positive_class_is_yes_like_or_else_the_rarer(labels: list[Any], positive: str):
    # Arrange
    frame = pd.DataFrame({"f": np.arange(60) % 5, "t": labels})

    # Act
    config = _infer(frame, "t")

    # Assert
    assert config.contract["positive_class"] == positive
    assert config.contract["columns"]["t"]["allowed"] == sorted({str(v) for v in labels})


@pytest.mark.parametrize(
    ("target", "task", "message"),
    [
        (["a", "b", "c"] * 20, "binary", "--task binary needs exactly 2 labels; target 't' has 3"),
        (["a", "b"] * 30, "multiclass", "--task multiclass needs 3 to 50 labels"),
        (["a", "b"] * 30, "regression", "--task regression needs a numeric target"),
        (["same"] * 60, None, "Target 't' holds 1 distinct value(s) ('same')"),
        ([f"label{i}" for i in range(60)], None, "60 distinct text labels: too many"),
    ],
)
def test_a_task_that_does_not_fit_the_target_is_refused(
    target: list[Any], task: str | None, message: str
):
    # Arrange
    frame = pd.DataFrame({"f": np.arange(60) % 7, "t": target})

    # Act / Assert
    with pytest.raises(ContractInferenceError) as excinfo:
        _infer(frame, "t", task=task)
    assert message in str(excinfo.value)


def test_a_declared_task_is_kept():
    # Arrange: an integer target with few values, read as classes unless told otherwise
    frame = pd.DataFrame({"f": np.arange(60) % 7, "t": [1, 2, 3, 4, 5] * 12})

    # Act
    config = _infer(frame, "t", task="regression")

    # Assert
    assert config.contract["task"] == "regression"
    assert config.comments["task"] == "as declared with --task"


# --- PII ----------------------------------------------------------------------------------------


def test_pii_is_found_by_content_whatever_the_column_is_called():
    # Arrange
    rng = np.random.default_rng(1)
    first = rng.choice(["Anna", "Ben", "Carla", "David", "Emma"], 300)
    last = [f"Surname{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}" for i in range(300)]
    frame = pd.DataFrame(
        {
            "reach": [f"user{i}@mail.example.org" for i in range(300)],
            "line": [f"+44 20 7946 {i:04d}" for i in range(300)],
            "holder": [f"{f} {s.capitalize()}" for f, s in zip(first, last, strict=True)],
            "amount": rng.normal(size=300),
            "y": rng.integers(0, 2, 300),
        }
    )

    # Act
    config = _infer(frame, "y")

    # Assert
    assert config.contract["pii"] == {"reach": "hash", "line": "hash", "holder": "hash"}
    reasons = _left_out(config)
    assert reasons["reach"] == "likely PII: e-mail addresses in 100% of values"
    assert reasons["line"] == "likely PII: phone numbers in 100% of values"
    assert reasons["holder"] == "likely PII: person names in 100% of values"
    assert config.contract["features"]["numeric"] == ["amount"]


@pytest.mark.parametrize(
    "name", ["email", "Phone_Number", "customerName", "first_name", "date_of_birth", "IBAN"]
)
def test_pii_is_found_by_name(name: str):
    # Arrange: values that say nothing
    frame = pd.DataFrame({name: list("abcdefghij") * 6, "x": [0, 1, 2] * 20, "y": [0, 1] * 30})

    # Act
    config = _infer(frame, "y")

    # Assert
    assert config.contract["pii"] == {name: "hash"}
    assert _left_out(config)[name].startswith("likely PII by its name (")


def test_pii_is_dropped_when_no_salt_is_set():
    # Act
    config = _infer(shapes.churn_without_time(n_rows=200), "churned", hash_pii=False)

    # Assert
    assert set(config.contract["pii"].values()) == {"drop"}


# --- time and the split ------------------------------------------------------------------------


def test_a_datetime_column_becomes_the_event_time_cut_at_its_80_percent_quantile():
    # Arrange
    frame = shapes.hourly_regression(n_rows=1000)

    # Act
    config = _infer(frame, "demand")

    # Assert
    times = pd.to_datetime(frame["timestamp"])
    cut = pd.Timestamp(config.split["current_from"])
    assert config.contract["event_time_column"] == "timestamp"
    assert config.split["mode"] == "event_time"
    assert 0.19 <= (times >= cut).mean() <= 0.21
    assert config.contract["features"]["datetime"] == ["timestamp"]
    assert config.features["date_parts"] == ["dayofweek", "hour"]
    assert config.holdout["strategy"] == "time"  # judged on later rows, as it will be used


def test_without_a_datetime_column_the_split_is_a_share_of_rows():
    # Act
    config = _infer(shapes.three_classes(), "cultivar")

    # Assert
    assert config.contract["event_time_column"] is None
    assert config.contract["id_column"] is None
    assert config.split == {"mode": "fraction", "current_share": 0.2, "seed": 42}
    assert config.features["date_parts"] == []


def test_dates_in_another_format_get_their_format_in_the_rule():
    # Arrange
    frame = shapes.hourly_regression(n_rows=300)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).dt.strftime("%d/%m/%Y %H:%M")

    # Act
    config = _infer(frame, "demand")

    # Assert
    assert config.contract["columns"]["timestamp"] == {
        "dtype": "datetime",
        "nullable": False,
        "format": "%d/%m/%Y %H:%M",
    }
    ci.check_configuration(config, frame)  # the file passes the contract's validation


def test_a_time_option_naming_numbers_is_refused():
    # Arrange
    frame = pd.DataFrame({"step": range(60), "x": range(60), "y": [0, 1] * 30})

    # Act / Assert
    with pytest.raises(ContractInferenceError) as excinfo:
        _infer(frame, "y", time_column="step")
    assert "--time 'step' holds numbers, not dates or date-times" in str(excinfo.value)


# --- the YAML written ----------------------------------------------------------------------------


def test_labels_and_allowed_values_are_quoted_so_yaml_keeps_them_text():
    # Arrange
    config = _infer(shapes.yes_no_labels(n_rows=400), "subscribed")

    # Act
    written = yaml.safe_load(render_contract(config))

    # Assert
    contract = written["contract"]
    assert contract["positive_class"] == "Yes"
    assert contract["columns"]["subscribed"]["allowed"] == ["No", "Yes"]
    DatasetContract.parse(contract)  # no YAML boolean left to refuse


def test_each_decision_to_review_has_a_comment():
    # Arrange
    config = _infer(shapes.churn_without_time(n_rows=300), "churned")

    # Act
    text = render_contract(config)

    # Assert
    assert "review: unique in every row and named like an id" in text
    assert "review: looks like a yes/1/true label" in text
    assert "review: likely PII: e-mail addresses in 100% of values" in text
    assert "#   notes: free text" in text
    assert "pandera's inference" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_the_catalog_keeps_every_other_entry_and_its_comments():
    # Arrange
    current = (REPO / ci.CATALOG_FILE).read_text()

    # Act
    text = render_catalog(current, ci.PARQUET_DATASET, "s3://bucket/t.parquet", "s3://b/t")

    # Assert
    before, after = yaml.safe_load(current), yaml.safe_load(text)
    assert {k: v for k, v in after.items() if not k.startswith("raw_")} == {
        k: v for k, v in before.items() if not k.startswith("raw_")
    }
    for name in ("raw_reference", "raw_current", "raw_inference"):
        assert after[name]["type"] == "pandas.ParquetDataset"
        assert after[name]["filepath"] == "s3://bucket/t.parquet"
    assert "# ---------- 02_intermediate ----------" in text
    assert "CheckedCSVDataset" not in text.split("# ---------- 02_intermediate")[0]


def test_a_file_under_the_data_root_is_named_through_it(project: Path):
    # Act / Assert
    inside = catalog_filepath(str(project / "data/01_raw/t.csv"), project)
    assert inside == "${globals:data_root}/01_raw/t.csv"
    assert catalog_filepath("gs://b/t.parquet", project) == "gs://b/t.parquet"


# --- writing ----------------------------------------------------------------------------------


def _table(project: Path, rows: int = 300) -> str:
    path = project / "data/01_raw/bank.csv"
    shapes.yes_no_labels(n_rows=rows).to_csv(path, index=False)
    return str(path)


def test_existing_conf_is_refused_without_force_naming_each_file(project: Path):
    # Arrange
    path = _table(project)
    before = _digests(project)

    # Act / Assert
    with pytest.raises(ContractInferenceError) as excinfo:
        write_configuration(project, path, "subscribed")
    message = str(excinfo.value)
    for name in WRITTEN:
        assert name in message
    assert "Rerun with --force" in message
    assert _digests(project) == before


def test_with_force_every_file_is_written_and_a_rerun_needs_no_force(project: Path):
    # Arrange
    path = _table(project)

    # Act
    written = write_configuration(project, path, "subscribed", force=True)
    again = write_configuration(project, path, "subscribed")  # nothing would change

    # Assert
    assert written.files == list(WRITTEN)
    parameters = yaml.safe_load((project / ci.CONTRACT_FILE).read_text())
    assert parameters["contract"]["target"] == "subscribed"
    catalog = yaml.safe_load((project / ci.CATALOG_FILE).read_text())
    assert catalog["raw_current"]["filepath"] == "${globals:data_root}/01_raw/bank.csv"
    assert catalog["raw_inference"]["filepath"] == "${globals:data_root}/01_raw/bank.csv"
    assert written.notes[0].startswith(
        f"raw_inference (the rows `kedro run --pipelines inference` scores) now reads {path} too"
    )
    assert again.files == written.files
    evaluation = (project / EVALUATION_FILE).read_text()
    assert yaml.safe_load(evaluation)["evaluation"]["threshold"] == "auto"


def test_a_binary_task_gets_threshold_auto_with_every_other_evaluation_line_kept():
    # Arrange
    committed = (REPO / EVALUATION_FILE).read_text()

    # Act
    binary = ci.render_evaluation(committed, "binary")
    regression = ci.render_evaluation(committed, "regression")

    # Assert: 0.5 suits balanced classes only (recall 0.089 at 32% positives)
    changed = [
        (old, new)
        for old, new in zip(committed.splitlines(), binary.splitlines(), strict=True)
        if old != new
    ]
    assert len(changed) == 1
    old, new = changed[0]
    assert old.split("#")[1] == new.split("#")[1] and old.index("#") == new.index("#")
    assert new.startswith("  threshold: auto ")
    assert regression == committed
    assert ci.render_evaluation("", "binary").startswith("evaluation:\n  threshold: auto")


def test_an_error_while_inferring_writes_nothing(project: Path):
    # Arrange
    path = _table(project)
    before = _digests(project)

    # Act / Assert
    with pytest.raises(ContractInferenceError, match="not a column of the file"):
        write_configuration(project, path, "no_such_column", force=True)
    assert _digests(project) == before


def test_a_failed_move_puts_back_the_files_already_moved(project: Path, monkeypatch):
    # Arrange: the second move fails
    path = _table(project)
    before = _digests(project)
    real_replace = os.replace
    calls = []

    def failing_replace(source: Any, target: Any) -> None:
        calls.append(target)
        if len(calls) == 2:
            raise OSError("disk full")
        real_replace(source, target)

    monkeypatch.setattr(ci.os, "replace", failing_replace)

    # Act / Assert
    with pytest.raises(OSError, match="disk full"):
        write_configuration(project, path, "subscribed", force=True)
    assert _digests(project) == before
    assert not list((project / "conf" / "base").glob(".*.tmp"))


def test_a_missing_file_is_a_readable_error(project: Path):
    # Act / Assert
    with pytest.raises(ContractInferenceError, match=re.escape("No such file: 'nowhere.csv'")):
        write_configuration(project, "nowhere.csv", "y", force=True)
    assert issubclass(ContractInferenceError, ConfigError)


def test_a_local_override_of_what_was_written_is_warned_about(project: Path):
    # Arrange
    path = _table(project)
    (project / "conf/local/parameters_ingestion.yml").write_text("contract: {name: x}\n")

    # Act
    written = write_configuration(project, path, "subscribed", force=True)

    # Assert
    assert written.warnings == [
        "conf/local/parameters_ingestion.yml overrides ['contract']: its values win over "
        "those written"
    ]


def test_a_datetime_column_with_gaps_is_a_feature_not_the_event_time():
    # Arrange
    frame = shapes.hourly_regression(n_rows=300)
    frame.loc[frame.index[::50], "timestamp"] = None

    # Act
    config = _infer(frame, "demand")

    # Assert
    assert config.contract["event_time_column"] is None
    assert config.split["mode"] == "fraction"
    assert config.contract["features"]["datetime"] == ["timestamp"]
    assert "nullable" not in config.contract["columns"]["timestamp"]
    ci.check_configuration(config, frame)

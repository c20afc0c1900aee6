"""Tests of the checks across parameter blocks that run before the first node."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from cirrus.contract import DatasetContract
from cirrus.parameters import (
    ConfigError,
    DemoDataParams,
    FeatureParams,
    HoldoutParams,
    IngestionSplit,
    RegistryParams,
)
from cirrus.preflight import (
    check_blocks,
    check_drift_columns,
    check_feature_references,
    check_holdout,
    check_registry_metric,
    check_split,
    check_split_sources,
    parse_unread_blocks,
    require_blocks,
)
from tests import unit_fixtures as fx

feature_params = fx.feature_params
drift_params = fx.drift_params

FEATURES_FILE = "conf/base/parameters_features.yml"
DRIFT_FILE = "conf/base/parameters_drift.yml"
REGISTRY_FILE = "conf/base/parameters_registry.yml"


def _registry(**overrides: Any) -> RegistryParams:
    """The committed `registry` block, parsed, with top-level keys overridden."""
    return RegistryParams.parse({**fx.load_parameters("registry")["registry"], **overrides})


def _committed_blocks() -> dict[str, Any]:
    """Every committed block a run can check, keyed as in the YAML (the contract left raw)."""
    return {
        "contract": fx.contract_for("binary"),
        "features": fx.features(),
        "drift": fx.drift(),
        "registry": _registry(),
    }


# --- check_feature_references -----------------------------------------------------------------


def test_committed_feature_transforms_read_numeric_features():
    # Act / Assert: no error
    check_feature_references(fx.features(), fx.contract())


def test_log_transform_of_a_categorical_column_is_refused(feature_params: dict[str, Any]):
    # Arrange
    feature_params["log"].append("home_ownership")
    features = FeatureParams.parse(feature_params)

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        check_feature_references(features, fx.contract())
    message = str(excinfo.value)
    assert "features.log[home_ownership]" in message
    assert FEATURES_FILE in message
    assert "features.log[annual_income]" not in message


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"ratios": {"odd": ["loan_amount", "email"]}}, "features.ratios.odd[email]"),
        ({"missing_indicators": ["channel"]}, "features.missing_indicators[channel]"),
        ({"log": ["interest_rate"]}, "features.log[interest_rate]"),  # not in the contract
    ],
)
def test_other_non_numeric_references_name_the_key(
    feature_params: dict[str, Any], change: dict[str, Any], key: str
):
    # Arrange
    features = FeatureParams.parse({**feature_params, **change})

    # Act / Assert
    with pytest.raises(ConfigError, match=re.escape(key)) as excinfo:
        check_feature_references(features, fx.contract())
    assert FEATURES_FILE in str(excinfo.value)


# --- check_drift_columns ----------------------------------------------------------------------


def test_per_column_drift_settings_on_features_and_model_outputs_are_accepted():
    # Arrange
    drift = fx.drift(
        per_column_method={"age": "ks", "channel": "jensenshannon", "prediction": "psi"},
        per_column_threshold={"target": 0.1},
    )

    # Act / Assert: no error
    check_drift_columns(drift, fx.contract())


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"per_column_method": {"agee": "ks"}}, "drift.per_column_method.agee"),
        ({"per_column_threshold": {"email": 0.1}}, "drift.per_column_threshold.email"),
    ],
)
def test_per_column_drift_setting_on_an_unknown_column_is_refused(change: dict[str, Any], key: str):
    # Arrange
    drift = fx.drift(**change)

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        check_drift_columns(drift, fx.contract())
    message = str(excinfo.value)
    assert f"'{key}'" in message
    assert DRIFT_FILE in message


# --- check_registry_metric --------------------------------------------------------------------


def test_registry_metric_of_the_task_is_accepted():
    # Act / Assert: no error
    check_registry_metric(_registry(metric="model.roc_auc"), fx.contract("binary"))


def test_registry_metric_of_another_task_is_refused():
    # Arrange
    registry = _registry(metric="model.roc_auc", higher_is_better=True)

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        check_registry_metric(registry, fx.contract("regression"))
    message = str(excinfo.value)
    assert REGISTRY_FILE in message
    assert "'registry.metric' is 'model.roc_auc'" in message
    assert "task 'regression'" in message
    assert "'model.rmse'" in message


def test_misspelt_baseline_metric_is_refused():
    # Act / Assert
    with pytest.raises(ConfigError, match=r"'registry\.metric' is 'baseline\.rocauc'"):
        check_registry_metric(_registry(metric="baseline.rocauc"), fx.contract("binary"))


# --- require_blocks ---------------------------------------------------------------------------


def test_missing_block_is_named_with_its_file():
    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        require_blocks(["contract", "drift", "training"], {"contract"})
    message = str(excinfo.value)
    assert "'drift' in conf/base/parameters_drift.yml" in message
    assert "'training' in conf/base/parameters_training.yml" in message
    assert "'contract'" not in message


def test_missing_block_of_no_known_model_points_to_the_parameter_files():
    # Act / Assert
    with pytest.raises(ConfigError, match=re.escape("'extras' in conf/base/parameters*.yml")):
        require_blocks(["extras"], set())


def test_declared_blocks_pass():
    # Act / Assert: no error
    require_blocks(["contract", "training"], {"contract", "training", "drift"})


# --- parse_unread_blocks ----------------------------------------------------------------------


def test_unread_blocks_are_parsed_when_declared():
    # Arrange
    raw = {
        **fx.load_parameters("registry"),
        **fx.load_parameters("demo_data"),
        **fx.load_parameters("training"),
    }

    # Act
    parsed = parse_unread_blocks(raw)

    # Assert
    assert parsed.keys() == {"registry", "demo_data"}
    assert isinstance(parsed["registry"], RegistryParams)
    assert isinstance(parsed["demo_data"], DemoDataParams)
    assert parsed["registry"].metric == raw["registry"]["metric"]


def test_undeclared_unread_blocks_are_skipped():
    # Act
    parsed = parse_unread_blocks(fx.load_parameters("registry"))

    # Assert
    assert list(parsed) == ["registry"]


def test_bad_unread_block_is_refused_naming_file_and_key():
    # Arrange
    raw = fx.load_parameters("registry")
    raw["registry"]["min_improvment"] = 0.01

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        parse_unread_blocks(raw)
    assert REGISTRY_FILE in str(excinfo.value)
    assert "unknown key 'registry.min_improvment'" in str(excinfo.value)


# --- check_blocks -----------------------------------------------------------------------------


def test_committed_blocks_pass_every_check():
    # Act / Assert: no error
    check_blocks(_committed_blocks())


def test_check_blocks_accepts_a_parsed_contract():
    # Arrange
    blocks = {**_committed_blocks(), "contract": fx.contract()}

    # Act / Assert: no error
    check_blocks(blocks)


@pytest.mark.parametrize(
    ("block", "value", "file"),
    [
        ("features", FeatureParams.parse({"log": ["channel"]}), FEATURES_FILE),
        ("drift", fx.drift(per_column_method={"agee": "ks"}), DRIFT_FILE),
        ("registry", _registry(metric="model.rmse"), REGISTRY_FILE),
    ],
)
def test_check_blocks_runs_each_check_of_the_blocks_at_hand(block: str, value: Any, file: str):
    # Arrange
    blocks = {**_committed_blocks(), block: value}

    # Act / Assert
    with pytest.raises(ConfigError, match=re.escape(file)):
        check_blocks(blocks)


def test_check_blocks_without_a_contract_checks_nothing():
    # Arrange: nothing to check the features against
    blocks = {"features": FeatureParams.parse({"log": ["channel"]})}

    # Act / Assert: no error
    check_blocks(blocks)


# --- tables without time: the time hold-out and the split ------------------------------------


def _timeless_contract():
    """The committed contract without its event-time column."""
    params = fx.contract_for("binary")
    params["event_time_column"] = None
    params["features"]["datetime"] = []
    params["columns"].pop("application_time", None)
    return DatasetContract.parse(params)


def test_time_holdout_without_event_time_names_the_key_and_file():
    # Arrange
    holdout = HoldoutParams.parse({**fx.load_parameters("features")["holdout"], "strategy": "time"})

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        check_holdout(holdout, _timeless_contract())
    message = str(excinfo.value)
    assert f"In {FEATURES_FILE}: 'holdout.strategy' is 'time'" in message
    assert "the contract declares no event_time_column" in message


def test_a_gap_without_event_time_names_the_key_and_file():
    # Arrange: auto would split at random, where a gap means nothing
    holdout = HoldoutParams.parse({**fx.load_parameters("features")["holdout"], "gap": "7D"})

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        check_holdout(holdout, _timeless_contract())
    assert f"In {FEATURES_FILE}: 'holdout.gap' is '7D'" in str(excinfo.value)
    check_holdout(holdout, fx.contract())  # with an event time the gap applies


def test_event_time_split_without_event_time_names_the_key():
    # Arrange
    split = IngestionSplit.parse({"mode": "event_time", "current_from": "2025-10-01"})

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        check_split(split, _timeless_contract())
    assert "'ingestion.split.mode' is 'event_time', but the contract declares no" in str(
        excinfo.value
    )


def test_check_blocks_refuses_the_time_holdout_without_event_time():
    # Arrange
    holdout = HoldoutParams.parse({**fx.load_parameters("features")["holdout"], "strategy": "time"})
    blocks = {"contract": _timeless_contract().model_dump(), "holdout": holdout}

    # Act / Assert
    with pytest.raises(ConfigError, match=re.escape("'holdout.strategy' is 'time'")):
        check_blocks(blocks)


def test_files_mode_with_one_file_behind_both_entries_says_why_and_what_instead(tmp_path):
    # Arrange: the same file, once relative and once absolute
    (tmp_path / "data.csv").write_text("a\n1\n")
    relative = os.path.relpath(tmp_path / "data.csv")

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        check_split_sources(IngestionSplit.parse({}), relative, str(tmp_path / "data.csv"))
    message = str(excinfo.value)
    assert "'ingestion.split.mode' is 'files', but raw_reference and raw_current both read" in (
        message
    )
    assert "the current copy of each duplicated id wins" in message
    assert "'fraction'" in message and "'event_time'" in message


def test_files_mode_with_two_files_or_other_modes_with_one_pass():
    # Act / Assert: no error
    check_split_sources(IngestionSplit.parse({}), "s3://b/ref.csv", "s3://b/cur.csv")
    one = "s3://b/all.csv"
    check_split_sources(IngestionSplit.parse({"mode": "fraction", "current_share": 0.2}), one, one)

"""Tests of the typed feature spec: its encoding rules and its JSON file on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pydantic
import pytest
from kedro.io.core import DatasetError

from cirrus.feature_spec import (
    OTHER_LEVEL,
    UNKNOWN_LEVEL,
    FeatureSpec,
    FeatureSpecDataset,
    FeatureSpecError,
    parse_feature_spec,
)
from tests import unit_fixtures as fx


def _fields(**overrides: Any) -> dict[str, Any]:
    """The fields of a small binary spec with one categorical column, `channel`."""
    fields: dict[str, Any] = {
        "id_column": "application_id",
        "event_time_column": "application_time",
        "task": "binary",
        "target": "defaulted",
        "classes": ["no", "yes"],
        "numeric": ["income", "loan_amount"],
        "log": ["income"],
        "ratios": {"loan_to_income": ("loan_amount", "income")},
        "date_parts": {"application_time": ["month", "dayofweek"]},
        "missing_indicators": ["income"],
        # Kept levels most frequent first, deliberately not in alphabetical order.
        "categories": {"channel": ["web", "branch"]},
        "rare_levels": {"channel": ["phone"]},
        "categorical_features": ["channel"],
        "feature_columns": [
            "income",
            "loan_amount",
            "channel",
            "log_income",
            "loan_to_income",
            "application_time_month",
            "application_time_dayofweek",
            "income_missing",
        ],
        "drift_columns": ["income", "loan_amount", "channel"],
        "n_training_rows": 120,
    }
    fields.update(overrides)
    return fields


@pytest.fixture
def spec() -> FeatureSpec:
    """The small binary spec."""
    return FeatureSpec(**_fields())


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    return tmp_path / "spec.json"


# --- encode_categorical -----------------------------------------------------------------------


def test_levels_are_kept_levels_then_other_then_unknown(spec):
    # Act
    levels = spec.levels("channel")

    # Assert
    assert levels == ["web", "branch", OTHER_LEVEL, UNKNOWN_LEVEL]
    assert (OTHER_LEVEL, UNKNOWN_LEVEL) == ("__other__", "__unknown__")


def test_encode_categorical_maps_kept_rare_and_unseen_levels(spec):
    # Arrange
    values = pd.Series(["web", "phone", "fax", "branch"])

    # Act
    encoded = spec.encode_categorical("channel", values)

    # Assert
    assert list(encoded) == ["web", OTHER_LEVEL, UNKNOWN_LEVEL, "branch"]
    assert list(encoded.categories) == ["web", "branch", OTHER_LEVEL, UNKNOWN_LEVEL]


def test_encode_categorical_keeps_nulls_null(spec):
    # Arrange
    values = pd.Series(["web", None, np.nan, pd.NA], dtype="object")

    # Act
    encoded = spec.encode_categorical("channel", values)

    # Assert
    assert list(pd.isna(encoded)) == [False, True, True, True]
    assert encoded[0] == "web"


def test_encode_categorical_maps_encoded_values_onto_themselves(spec):
    # Arrange
    once = spec.encode_categorical("channel", pd.Series(["web", "phone", "fax", "branch", None]))

    # Act
    twice = spec.encode_categorical("channel", pd.Series(once))

    # Assert
    assert list(pd.Series(twice).astype("string")) == list(pd.Series(once).astype("string"))
    assert list(twice.categories) == list(once.categories)
    assert list(pd.Series(twice).dropna()) == ["web", OTHER_LEVEL, UNKNOWN_LEVEL, "branch"]


def test_encode_categorical_reads_non_string_values_as_text():
    # Arrange: an integer-coded column learned as text levels
    spec = FeatureSpec(
        **_fields(categories={"channel": ["1", "2"]}, rare_levels={"channel": ["3"]})
    )

    # Act
    encoded = spec.encode_categorical("channel", pd.Series([2, 3, 4, 1]))

    # Assert
    assert list(encoded) == ["2", OTHER_LEVEL, UNKNOWN_LEVEL, "1"]


@pytest.mark.parametrize(
    "values",
    [
        # Levels in another order than the spec's, an unused level, a missing row.
        pd.Series(
            pd.Categorical(
                ["fax", "web", None, "phone", "branch", "web"],
                categories=["tv", "phone", "fax", "web", "branch"],
            )
        ),
        # Integer levels read as text; every row missing; no rows at all.
        pd.Series([2, 3, 4, 1, None], dtype="category"),
        pd.Series([None, None], dtype="category"),
        pd.Series([], dtype="category"),
    ],
    ids=["text levels", "integer levels", "all missing", "empty"],
)
def test_categorical_input_encodes_and_flags_as_its_values_as_text(values):
    # Arrange: the same values, once as a categorical column and once as plain objects
    spec = FeatureSpec(
        **_fields(
            categories={"channel": ["web", "branch", "1", "2"]},
            rare_levels={"channel": ["phone", "3"]},
        )
    )
    as_objects = values.astype(object)

    # Act
    encoded = spec.encode_categorical("channel", values)
    unseen = spec.unseen_mask("channel", values)

    # Assert
    expected = spec.encode_categorical("channel", as_objects)
    assert encoded.codes.tolist() == expected.codes.tolist()
    assert list(encoded.categories) == list(expected.categories)
    assert unseen.tolist() == spec.unseen_mask("channel", as_objects).tolist()


def test_unseen_mask_flags_only_levels_never_seen_in_training(spec):
    # Arrange
    values = pd.Series(["web", "phone", "fax", None, "branch", "tv"])

    # Act
    mask = spec.unseen_mask("channel", values)

    # Assert
    assert mask.tolist() == [False, False, True, False, False, True]
    assert mask.index.equals(values.index)


# --- encode_target ----------------------------------------------------------------------------


def test_binary_target_encodes_the_positive_class_as_one(spec):
    # Arrange
    values = pd.Series(["yes", "no", "no", None], dtype="string")

    # Act
    encoded = spec.encode_target(values)

    # Assert
    assert encoded.dtype == "float64"
    np.testing.assert_array_equal(encoded, [1.0, 0.0, 0.0, np.nan])


def test_multiclass_target_encodes_the_class_index():
    # Arrange
    spec = FeatureSpec(**_fields(task="multiclass", classes=["A", "B", "C"], target="grade"))
    values = pd.Series(["C", "A", "B", "A"], dtype="string")

    # Act
    encoded = spec.encode_target(values)

    # Assert
    assert encoded.dtype == "float64"
    assert encoded.tolist() == [2.0, 0.0, 1.0, 0.0]
    assert spec.class_names() == ["A", "B", "C"]


def test_regression_target_is_a_float():
    # Arrange
    spec = FeatureSpec(**_fields(task="regression", classes=None, target="rate"))
    values = pd.Series([7, 9, None], dtype="Int64")

    # Act
    encoded = spec.encode_target(values)

    # Assert
    assert encoded.dtype == "float64"
    np.testing.assert_array_equal(encoded, [7.0, 9.0, np.nan])
    assert spec.class_names() == []


# --- the model --------------------------------------------------------------------------------


def test_spec_is_frozen(spec):
    # Act / Assert
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        spec.task = "regression"


def test_spec_refuses_unknown_fields():
    # Act / Assert
    with pytest.raises(pydantic.ValidationError, match="n_rows"):
        FeatureSpec(**_fields(n_rows=3))


def test_spec_refuses_an_unknown_task():
    # Act / Assert
    with pytest.raises(pydantic.ValidationError, match="task"):
        FeatureSpec(**_fields(task="ranking"))


# --- FeatureSpecDataset -----------------------------------------------------------------------


@pytest.mark.parametrize("source", ["hand-built", "fitted"])
def test_dataset_round_trip_gives_an_equal_spec(spec, spec_file, source):
    # Arrange
    original = spec if source == "hand-built" else fx.feature_tables("binary")[0]
    dataset = FeatureSpecDataset(filepath=str(spec_file))

    # Act
    dataset.save(original)
    loaded = FeatureSpecDataset(filepath=str(spec_file)).load()

    # Assert
    assert isinstance(loaded, FeatureSpec)
    assert loaded == original
    assert loaded.ratios == original.ratios


def test_dataset_writes_readable_indented_json_keyed_by_field_name(spec, spec_file):
    # Arrange
    dataset = FeatureSpecDataset(filepath=str(spec_file))

    # Act
    dataset.save(spec)

    # Assert
    text = spec_file.read_text()
    raw = json.loads(text)
    assert list(raw) == list(FeatureSpec.model_fields)
    assert raw == spec.model_dump(mode="json")
    assert raw["ratios"] == {"loan_to_income": ["loan_amount", "income"]}
    assert text.startswith('{\n  "id_column": "application_id",\n')
    assert '\n  "categories": {\n    "channel": [\n      "web",\n' in text


def test_dataset_refuses_a_corrupt_file_naming_it(spec_file):
    # Arrange
    spec_file.write_text('{"id_column": "application_id", "task": ')

    # Act / Assert
    with pytest.raises(DatasetError) as excinfo:
        FeatureSpecDataset(filepath=str(spec_file)).load()
    assert str(spec_file) in str(excinfo.value)
    assert isinstance(excinfo.value.__cause__, json.JSONDecodeError)


def test_dataset_refuses_an_incomplete_spec_naming_file_and_keys(spec_file):
    # Arrange
    raw = _fields()
    del raw["categories"], raw["n_training_rows"]
    spec_file.write_text(json.dumps(raw))

    # Act / Assert
    with pytest.raises(DatasetError) as excinfo:
        FeatureSpecDataset(filepath=str(spec_file)).load()
    cause = excinfo.value.__cause__
    assert isinstance(cause, FeatureSpecError)
    message = str(cause)
    assert f"Feature spec {spec_file} is not a valid spec" in message
    assert "'categories': Field required" in message
    assert "'n_training_rows': Field required" in message
    assert "kedro run --pipelines features" in message
    assert message in str(excinfo.value)


def test_dataset_refuses_unknown_keys(spec_file):
    # Arrange
    spec_file.write_text(json.dumps({**_fields(), "threshold": 0.5}))

    # Act / Assert
    with pytest.raises(DatasetError) as excinfo:
        FeatureSpecDataset(filepath=str(spec_file)).load()
    cause = excinfo.value.__cause__
    assert isinstance(cause, FeatureSpecError)
    assert str(spec_file) in str(cause)
    assert "'threshold': Extra inputs are not permitted" in str(cause)


def test_parse_feature_spec_names_the_source_and_the_nested_key():
    # Arrange
    raw = _fields(date_parts={"application_time": ["fortnight"]})

    # Act / Assert
    with pytest.raises(FeatureSpecError) as excinfo:
        parse_feature_spec(raw, "data/04_feature/feature_spec.json")
    message = str(excinfo.value)
    assert "Feature spec data/04_feature/feature_spec.json is not a valid spec" in message
    assert "'date_parts.application_time.0'" in message
    assert isinstance(excinfo.value, ValueError)

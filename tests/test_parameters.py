"""Tests of the strict parameter blocks and their error messages."""

from __future__ import annotations

import pydantic
import pytest

from cirrus.contract import ContractError
from cirrus.parameters import (
    ConfigError,
    DriftParams,
    EvaluationParams,
    FeatureParams,
    HoldoutParams,
    IngestionSplit,
    SearchRange,
    TrainingParams,
    parse_block,
)
from tests import unit_fixtures as fx

TRAINING_FILE = "conf/base/parameters_training.yml"


@pytest.mark.parametrize(
    ("model", "file", "path"),
    [
        (IngestionSplit, "ingestion", ("ingestion", "split")),
        (HoldoutParams, "features", ("holdout",)),
        (FeatureParams, "features", ("features",)),
        (TrainingParams, "training", ("training",)),
        (EvaluationParams, "evaluation", ("evaluation",)),
        (DriftParams, "drift", ("drift",)),
    ],
)
def test_committed_parameter_blocks_parse(model: type, file: str, path: tuple[str, ...]):
    # Arrange
    block = fx.load_parameters(file)
    for key in path:
        block = block[key]

    # Act
    parsed = parse_block(model, block, ".".join(path), f"conf/base/parameters_{file}.yml")

    # Assert
    assert isinstance(parsed, model)
    assert parsed.model_dump(exclude_unset=True).keys() == block.keys()


def test_unknown_key_names_file_and_key():
    # Arrange
    raw = {**fx.load_parameters("training")["training"], "num_boost_rounds": 10}

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        parse_block(TrainingParams, raw, "training", TRAINING_FILE)
    message = str(excinfo.value)
    assert TRAINING_FILE in message
    assert "unknown key 'training.num_boost_rounds'" in message


def test_nested_unknown_key_names_the_dotted_path():
    # Arrange
    raw = fx.load_parameters("training")["training"]
    raw["tuning"]["search_space"]["num_leaves"]["kindd"] = "int"

    # Act / Assert
    with pytest.raises(ConfigError, match=r"training\.tuning\.search_space\.num_leaves\.kindd"):
        parse_block(TrainingParams, raw, "training", TRAINING_FILE)


def test_wrong_type_names_file_and_key():
    # Arrange
    raw = fx.load_parameters("training")["training"]
    raw["num_boost_round"] = "many"

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        parse_block(TrainingParams, raw, "training", TRAINING_FILE)
    message = str(excinfo.value)
    assert TRAINING_FILE in message
    assert "'training.num_boost_round'" in message
    assert "integer" in message


def test_out_of_range_value_names_the_key():
    # Arrange
    raw = fx.load_parameters("features")["holdout"]
    raw["test_size"] = 1.5

    # Act / Assert
    with pytest.raises(ConfigError, match=r"'holdout\.test_size'"):
        parse_block(HoldoutParams, raw, "holdout", "conf/base/parameters_features.yml")


def test_list_item_error_names_the_index():
    # Arrange
    raw = fx.load_parameters("features")["features"]
    raw["date_parts"] = ["month", "week"]

    # Act / Assert
    with pytest.raises(ConfigError, match=r"'features\.date_parts\.1'"):
        parse_block(FeatureParams, raw, "features", "conf/base/parameters_features.yml")


def test_every_problem_is_reported_at_once():
    # Arrange
    raw = {"num_boost_round": 0, "seeed": 1}

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        parse_block(TrainingParams, raw, "training", TRAINING_FILE)
    assert "'training.num_boost_round'" in str(excinfo.value)
    assert "unknown key 'training.seeed'" in str(excinfo.value)


def test_missing_block_names_file_and_key():
    # Act / Assert
    with pytest.raises(ConfigError, match="Missing parameters block 'training'") as excinfo:
        parse_block(TrainingParams, None, "training", TRAINING_FILE)
    assert TRAINING_FILE in str(excinfo.value)


def test_empty_block_takes_every_default():
    # Act
    parsed = parse_block(TrainingParams, {}, "training", TRAINING_FILE)

    # Assert
    assert parsed == TrainingParams()
    assert parsed.tuning.enabled is False


def test_missing_required_key_is_named():
    # Arrange
    raw = {"low": 0.01}

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        parse_block(SearchRange, raw, "training.tuning.search_space.learning_rate", TRAINING_FILE)
    assert "missing required key 'training.tuning.search_space.learning_rate.high'" in str(
        excinfo.value
    )


def test_custom_error_class_is_raised():
    # Act / Assert
    with pytest.raises(ContractError):
        parse_block(DriftParams, {"drift_shar": 0.5}, "drift", "f.yml", ContractError)


def test_parsed_blocks_are_frozen():
    # Arrange
    parsed = parse_block(DriftParams, {}, "drift", "conf/base/parameters_drift.yml")

    # Act / Assert
    with pytest.raises(pydantic.ValidationError):
        parsed.drift_share = 0.9

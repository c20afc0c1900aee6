"""Tests of the training nodes: deterministic LightGBM training, tuning and cross-validation."""

from __future__ import annotations

import re

import lightgbm as lgb
import numpy as np
import pytest

from cirrus.modeling import model_matrix
from cirrus.parameters import ConfigError, TrainingParams
from cirrus.pipelines.training.nodes import train_model, tune_hyperparameters
from tests import unit_fixtures as fx

training_params = fx.training_params

NO_TUNING = {"enabled": False, "best_params": {}}


@pytest.fixture
def settings() -> TrainingParams:
    """The fast training block, parsed."""
    return fx.fast_training()


@pytest.fixture
def binary_tables():
    """Binary spec with its training and test feature tables."""
    return fx.feature_tables("binary")


def _tree_leaf_counts(model_text: str) -> list[int]:
    return [int(n) for n in re.findall(r"^num_leaves=(\d+)$", model_text, flags=re.MULTILINE)]


def test_train_model_is_deterministic(binary_tables, settings):
    # Arrange
    spec, train, _ = binary_tables

    # Act
    first = train_model(train, spec, settings, NO_TUNING)
    second = train_model(train.copy(), spec, settings, NO_TUNING)

    # Assert
    assert first[0] == second[0]
    assert first[1] == second[1]


def test_model_is_lightgbm_text_loadable_by_booster(binary_tables, settings):
    # Arrange
    spec, train, test = binary_tables

    # Act
    model_text, _, _ = train_model(train, spec, settings, NO_TUNING)
    booster = lgb.Booster(model_str=model_text)
    scores = booster.predict(model_matrix(test, spec))

    # Assert
    assert model_text.startswith("tree\n")
    assert booster.feature_name() == spec.feature_columns
    assert scores.shape == (len(test),)
    assert ((scores > 0) & (scores < 1)).all()
    assert scores.std() > 0


def test_training_metrics_describe_the_run(binary_tables, settings):
    # Arrange
    spec, train, _ = binary_tables

    # Act
    model_text, metrics, _ = train_model(train, spec, settings, NO_TUNING)

    # Assert
    assert metrics["task"] == "binary"
    assert metrics["n_training_rows"] == len(train)
    assert metrics["n_features"] == len(spec.feature_columns)
    assert 1 <= metrics["best_iteration"] <= settings.num_boost_round
    assert len(_tree_leaf_counts(model_text)) == metrics["best_iteration"]
    assert 0.5 < metrics["valid_auc"] <= 1.0
    assert "cross_validation" not in metrics


def test_importance_is_sorted_by_gain(binary_tables, settings):
    # Arrange
    spec, train, _ = binary_tables

    # Act
    _, _, importance = train_model(train, spec, settings, NO_TUNING)

    # Assert
    assert list(importance.columns) == ["feature", "gain", "split", "gain_share"]
    assert importance["gain"].is_monotonic_decreasing
    assert sorted(importance["feature"]) == sorted(spec.feature_columns)
    assert importance["gain_share"].sum() == pytest.approx(1.0)
    assert importance["gain"].iloc[0] > 0


def test_tuned_parameters_override_the_declared_ones(binary_tables, settings):
    # Arrange
    spec, train, _ = binary_tables
    tuning = {"enabled": True, "best_params": {"num_leaves": 4}}

    # Act
    model_text, _, _ = train_model(train, spec, settings, tuning)

    # Assert
    assert "[num_leaves: 4]" in model_text
    assert max(_tree_leaf_counts(model_text)) <= 4


def test_multiclass_spec_trains(settings):
    # Arrange
    spec, train, test = fx.feature_tables("multiclass")

    # Act
    model_text, metrics, _ = train_model(train, spec, settings, NO_TUNING)
    proba = lgb.Booster(model_str=model_text).predict(model_matrix(test, spec))

    # Assert
    assert spec.classes == ["A", "B", "C", "D", "E"]
    assert proba.shape == (len(test), 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert "valid_multi_logloss" in metrics
    accuracy = (proba.argmax(axis=1) == test["risk_grade"].to_numpy()).mean()
    majority = test["risk_grade"].value_counts(normalize=True).max()
    assert accuracy > majority


def test_regression_spec_trains(settings):
    # Arrange
    spec, train, test = fx.feature_tables("regression")

    # Act
    model_text, metrics, _ = train_model(train, spec, settings, NO_TUNING)
    predicted = lgb.Booster(model_str=model_text).predict(model_matrix(test, spec))

    # Assert
    assert spec.classes is None
    assert {"valid_rmse", "valid_l1"} <= set(metrics)
    actual = test["interest_rate"].to_numpy()
    model_rmse = np.sqrt(np.mean((predicted - actual) ** 2))
    baseline_rmse = np.sqrt(np.mean((train["interest_rate"].mean() - actual) ** 2))
    assert model_rmse < baseline_rmse


def test_tuning_disabled_returns_no_parameters(binary_tables, settings):
    # Arrange
    spec, train, _ = binary_tables

    # Act
    result = tune_hyperparameters(train, spec, settings)

    # Assert
    assert result == {"enabled": False, "best_params": {}}


def test_tuning_returns_best_params_within_the_search_space(binary_tables, training_params):
    # Arrange
    spec, train, _ = binary_tables
    training_params["tuning"].update(enabled=True, n_trials=2)
    settings = TrainingParams.parse(training_params)
    space = settings.tuning.search_space

    # Act
    result = tune_hyperparameters(train, spec, settings)

    # Assert
    assert result["enabled"] is True
    assert result["n_trials"] == 2
    assert result["metric"] == "valid_auc"
    assert 0.5 < result["best_value"] <= 1.0
    assert set(result["best_params"]) == set(space)
    for name, value in result["best_params"].items():
        assert space[name].low <= value <= space[name].high
        if space[name].kind == "int":
            assert isinstance(value, int)


def test_tuning_minimises_the_regression_error(training_params):
    # Arrange
    spec, train, _ = fx.feature_tables("regression")
    training_params["tuning"].update(enabled=True, n_trials=2)
    training_params["tuning"]["search_space"] = {"num_leaves": {"low": 4, "high": 8, "kind": "int"}}
    settings = TrainingParams.parse(training_params)

    # Act
    result = tune_hyperparameters(train, spec, settings)

    # Assert
    assert result["metric"] == "valid_rmse"
    assert 4 <= result["best_params"]["num_leaves"] <= 8
    assert 0 < result["best_value"] < train["interest_rate"].std()


def test_cross_validation_enabled_returns_cv_metrics(binary_tables):
    # Arrange
    spec, train, _ = binary_tables
    settings = fx.fast_training(cross_validation={"enabled": True, "folds": 3})

    # Act
    _, metrics, _ = train_model(train, spec, settings, NO_TUNING)

    # Assert
    cv = metrics["cross_validation"]
    assert {"auc-mean", "auc-stdv", "binary_logloss-mean"} <= set(cv)
    assert 0.5 < cv["auc-mean"] <= 1.0
    assert cv["auc-stdv"] >= 0


def test_unknown_training_key_is_refused_when_parsed(training_params):
    # Arrange
    training_params["early_stoping_rounds"] = 5

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        TrainingParams.parse(training_params)
    message = str(excinfo.value)
    assert "unknown key 'training.early_stoping_rounds'" in message
    assert "conf/base/parameters_training.yml" in message


def test_unknown_lightgbm_parameter_is_refused_with_a_suggestion(training_params):
    # Arrange
    training_params["lgbm_params"]["num_leafs"] = 8

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        TrainingParams.parse(training_params)
    message = str(excinfo.value)
    assert "'training.lgbm_params'" in message
    assert "unknown key 'num_leafs': not a LightGBM parameter or alias" in message
    assert "did you mean 'num_leaves'?" in message
    assert "conf/base/parameters_training.yml" in message

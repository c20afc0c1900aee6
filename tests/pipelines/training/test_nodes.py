"""Tests of the training nodes: deterministic LightGBM training, tuning and cross-validation."""

from __future__ import annotations

import re

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from cirrus.modeling import model_matrix
from cirrus.parameters import ConfigError, TrainingParams
from cirrus.pipelines.training.nodes import (
    ModelWithoutSplitError,
    auto_min_data_in_leaf,
    auto_validation_fraction,
    best_iteration_scores,
    early_stopping_split,
    fit_with_early_stopping,
    fitting_row_scores,
    lightgbm_params,
    resolve_row_scaled,
    threshold_candidates,
    train_model,
    tune_hyperparameters,
)
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
    assert metrics.task == "binary"
    assert metrics.n_training_rows == len(train)
    assert metrics.n_features == len(spec.feature_columns)
    assert 1 <= metrics.best_iteration <= settings.num_boost_round
    assert len(_tree_leaf_counts(model_text)) == metrics.best_iteration
    assert 0.5 < metrics.model_extra["valid_auc"] <= 1.0
    assert metrics.cross_validation is None
    assert "cross_validation" not in metrics.to_json()


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


def test_importance_is_what_the_saved_model_reads_back(binary_tables, settings):
    # Arrange
    spec, train, _ = binary_tables

    # Act
    model_text, _, importance = train_model(train, spec, settings, NO_TUNING)

    # Assert: bitwise, the gains anyone who loads model.txt gets
    saved = lgb.Booster(model_str=model_text)
    expected = dict(zip(saved.feature_name(), saved.feature_importance("gain"), strict=True))
    assert dict(zip(importance["feature"], importance["gain"], strict=True)) == expected


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
    assert "valid_multi_logloss" in metrics.model_extra
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
    assert {"valid_rmse", "valid_l1"} <= set(metrics.model_extra)
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
    cv = metrics.cross_validation
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


# --- settings scaled from the rows (auto) -----------------------------------------------------


@pytest.mark.parametrize(
    ("n_fitting_rows", "task", "expected"),
    [
        (90, "binary", 9),
        (150, "binary", 15),
        (150, "multiclass", 15),
        (10_240, "binary", 50),
        (12_800, "binary", 50),  # the default data: the value the project always used
        (30, "binary", 5),
        (90, "regression", 5),
        (150, "regression", 7),
        (10_240, "regression", 50),
    ],
)
def test_auto_min_data_in_leaf_scales_with_the_fitting_rows(
    n_fitting_rows: int, task: str, expected: int
):
    # Act
    value = auto_min_data_in_leaf(n_fitting_rows, task)

    # Assert
    assert value == expected


@pytest.mark.parametrize(
    ("rarest_class_rows", "expected"),
    [
        (None, 0.2),  # regression: no class to hold
        (2_528, 0.2),  # the default data's defaults (15.8% of 16,000 training rows)
        (25, 0.2),  # 0.2 already holds 5 rows of the class
        (19, 0.27),  # 150 generated rows: 19 defaults among 120 training rows
        (7, 0.3),  # 6% positives of 120 rows: raised to the cap
    ],
)
def test_auto_validation_fraction_holds_rows_of_every_class(
    rarest_class_rows: int | None, expected: float
):
    # Act
    share = auto_validation_fraction(rarest_class_rows)

    # Assert
    assert share == expected


def _training_rows(n_rows: int, positives: int) -> pd.DataFrame:
    """A binary target column of n_rows with the given number of positives."""
    return pd.DataFrame({"defaulted": [1.0] * positives + [0.0] * (n_rows - positives)})


def test_auto_resolves_to_the_previous_defaults_on_the_default_data_size():
    # Arrange: the default run trains on 16,000 rows, 15.8% of them defaulted
    spec, _, _ = fx.feature_tables("binary")
    settings = TrainingParams.parse(fx.load_parameters("training")["training"])

    # Act
    resolved = resolve_row_scaled(_training_rows(16_000, 2_528), spec, settings)

    # Assert
    assert settings.validation_fraction == "auto"
    assert settings.lgbm_params["min_data_in_leaf"] == "auto"
    assert resolved.validation_fraction == 0.2
    assert resolved.lgbm_params["min_data_in_leaf"] == 50
    assert list(resolved.lgbm_params) == list(settings.lgbm_params)


def test_auto_resolves_to_small_values_on_a_small_table():
    # Arrange: 120 training rows with 19 positives
    spec, _, _ = fx.feature_tables("binary")
    settings = fx.fast_training()

    # Act
    resolved = resolve_row_scaled(_training_rows(120, 19), spec, settings)

    # Assert: 0.27 of 120 rows is 33 validation rows (rounded up), 87 fitting rows
    assert resolved.validation_fraction == 0.27
    assert resolved.lgbm_params["min_data_in_leaf"] == 8


def test_declared_values_are_kept_and_an_alias_or_a_missing_key_is_resolved():
    # Arrange
    spec, _, _ = fx.feature_tables("binary")
    declared = fx.fast_training(validation_fraction=0.25)
    declared = declared.model_copy(
        update={"lgbm_params": {**declared.lgbm_params, "min_data_in_leaf": 30}}
    )
    alias = fx.fast_training_params()
    alias["lgbm_params"].pop("min_data_in_leaf")
    left_out = TrainingParams.parse(alias)
    alias["lgbm_params"]["min_child_samples"] = "auto"
    aliased = TrainingParams.parse(alias)
    rows = _training_rows(1_000, 300)

    # Act
    kept = resolve_row_scaled(rows, spec, declared)
    resolved_alias = resolve_row_scaled(rows, spec, aliased)
    resolved_missing = resolve_row_scaled(rows, spec, left_out)

    # Assert: 800 fitting rows // 10 = 80, kept at 50
    assert (kept.validation_fraction, kept.lgbm_params["min_data_in_leaf"]) == (0.25, 30)
    assert resolved_alias.lgbm_params["min_child_samples"] == 50
    assert "min_data_in_leaf" not in resolved_alias.lgbm_params
    assert resolved_missing.lgbm_params["min_data_in_leaf"] == 50


def _small_binary(n_rows: int, seed: int = 3) -> tuple:
    """Spec and the first n_rows training rows of the generated binary tables."""
    spec, train, test = fx.feature_tables("binary")
    return spec, train.sample(n=n_rows, random_state=seed).sort_index(), test


def test_small_table_trains_with_auto_settings_and_records_them(settings):
    # Arrange: 150 training rows, too few for min_data_in_leaf 50
    spec, train, test = _small_binary(150)
    positives = int(train["defaulted"].sum())

    # Act
    model_text, metrics, importance = train_model(train, spec, settings, NO_TUNING)

    # Assert
    share = auto_validation_fraction(positives)
    n_validation = int(np.ceil(share * 150))
    assert metrics.resolved_params == {
        "min_data_in_leaf": auto_min_data_in_leaf(150 - n_validation, "binary"),
        "validation_fraction": share,
    }
    assert metrics.resolved_params["min_data_in_leaf"] < 50
    assert (metrics.n_fitting_rows, metrics.n_validation_rows) == (
        150 - n_validation,
        n_validation,
    )
    assert f"[min_data_in_leaf: {metrics.resolved_params['min_data_in_leaf']}]" in model_text
    assert importance["split"].sum() > 0
    scores = lgb.Booster(model_str=model_text).predict(model_matrix(test, spec))
    assert scores.std() > 0


def test_a_model_without_a_split_names_the_rows_and_the_setting(training_params):
    # Arrange: 60 training rows (42 fitting) cannot hold two leaves of 50 rows
    spec, train, _ = _small_binary(60)
    training_params["lgbm_params"]["min_data_in_leaf"] = 50
    settings = TrainingParams.parse(training_params)

    # Act / Assert
    with pytest.raises(ModelWithoutSplitError) as excinfo:
        train_model(train, spec, settings, NO_TUNING)
    message = str(excinfo.value)
    assert "The model has no split" in message
    assert "42 fitting rows with min_data_in_leaf=50 (declared)" in message
    assert "a split needs two leaves of at least 50 rows each (100 rows)" in message
    assert "lower training.lgbm_params.min_data_in_leaf" in message
    assert "conf/base/parameters_training.yml or set it to auto" in message
    assert isinstance(excinfo.value, ConfigError)


def test_a_tuned_leaf_size_without_a_split_names_the_search_space(settings):
    # Arrange: the search picked min_data_in_leaf 50, too large for 60 training rows
    spec, train, _ = _small_binary(60)
    tuning = {"enabled": True, "best_params": {"min_data_in_leaf": 50}}

    # Act / Assert
    with pytest.raises(ModelWithoutSplitError) as excinfo:
        train_model(train, spec, settings, tuning)
    message = str(excinfo.value)
    assert "min_data_in_leaf=50 (from training.tuning)" in message
    assert "lower training.tuning.search_space.min_data_in_leaf in" in message


def test_constant_features_give_a_no_split_error_that_says_so(settings):
    # Arrange: every feature holds one value, so nothing can separate the rows
    spec, train, _ = _small_binary(400)
    for column in spec.feature_columns:
        train[column] = train[column].iloc[[0] * len(train)].to_numpy()

    # Act / Assert
    with pytest.raises(ModelWithoutSplitError) as excinfo:
        train_model(train, spec, settings, NO_TUNING)
    message = str(excinfo.value)
    assert "(auto)" in message
    assert "no feature separates the rows" in message
    assert "the features may be constant or unrelated to the target" in message


def test_binary_training_records_the_threshold_of_each_rule(binary_tables, settings):
    # Arrange
    spec, train, _ = binary_tables

    # Act
    _, metrics, _ = train_model(train, spec, settings, NO_TUNING)

    # Assert
    thresholds = metrics.thresholds
    assert set(thresholds) == {"best_f1", "youden"}
    assert all(0 < value < 1 for value in thresholds.values())


def test_regression_training_records_no_threshold(settings):
    # Arrange
    spec, train, _ = fx.feature_tables("regression")

    # Act
    _, metrics, _ = train_model(train, spec, settings, NO_TUNING)

    # Assert
    assert metrics.thresholds is None
    assert "thresholds" not in metrics.to_json()
    assert metrics.resolved_params["validation_fraction"] == 0.2


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_kept_scores_are_the_best_iterations_predictions(task, settings):
    # Arrange: a training that runs past its best iteration
    spec, train, _ = fx.feature_tables(task)
    resolved = resolve_row_scaled(train, spec, settings)
    params = lightgbm_params(spec, resolved)
    booster, _, fit_rows, valid_rows = fit_with_early_stopping(train, spec, resolved, params)
    best = booster.best_iteration
    assert best < booster.current_iteration()
    expected_fit = booster.predict(model_matrix(fit_rows, spec), num_iteration=best)
    expected_valid = booster.predict(model_matrix(valid_rows, spec), num_iteration=best)

    # Act
    fit_scores, valid_scores = best_iteration_scores(booster)

    # Assert
    np.testing.assert_allclose(fit_scores, expected_fit, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(valid_scores, expected_valid, rtol=1e-12, atol=1e-12)
    assert booster.current_iteration() == best


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_training_metrics_and_thresholds_match_the_saved_model(task, settings):
    # Arrange
    spec, train, _ = fx.feature_tables(task)
    fit_rows, valid_rows = early_stopping_split(
        train, spec, resolve_row_scaled(train, spec, settings)
    )

    # Act
    model_text, metrics, _ = train_model(train, spec, settings, NO_TUNING)

    # Assert: the saved model's own predictions give the recorded values
    saved = lgb.Booster(model_str=model_text)
    fit_predicted = saved.predict(model_matrix(fit_rows, spec))
    for name, value in fitting_row_scores(fit_predicted, fit_rows, spec).items():
        assert metrics.model_extra[name] == pytest.approx(value, rel=1e-9)
    if task == "binary":
        valid_predicted = saved.predict(model_matrix(valid_rows, spec))
        expected = threshold_candidates(valid_predicted, valid_rows, spec)
        assert metrics.thresholds == pytest.approx(expected, rel=1e-9)

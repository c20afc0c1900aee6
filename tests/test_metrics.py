"""Tests of the metric tables: which direction is better, each task's metrics and primary one."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from cirrus.metrics import (
    HIGHER_IS_BETTER,
    LIGHTGBM_METRICS,
    PRIMARY_METRIC,
    TASK_METRICS,
    bootstrap_interval,
    higher_is_better,
    improves,
    metric_formulas,
    task_metrics,
)

HIGHER = ["roc_auc", "auc", "pr_auc", "precision", "recall", "f1", "accuracy", "macro_f1", "r2"]
LOWER = ["log_loss", "binary_logloss", "multi_logloss", "brier", "rmse", "mae", "l1"]
TASKS = ["binary", "multiclass", "regression"]


@pytest.mark.parametrize("metric", HIGHER)
def test_higher_is_better_metrics_in_both_namings(metric: str):
    # Act
    result = higher_is_better(metric)

    # Assert
    assert result is True
    assert metric in HIGHER_IS_BETTER


@pytest.mark.parametrize("metric", LOWER)
def test_error_metrics_in_both_namings_are_lower_is_better(metric: str):
    # Act
    result = higher_is_better(metric)

    # Assert
    assert result is False


def test_every_metric_of_every_task_has_a_known_direction():
    # Arrange
    named = {m for metrics in TASK_METRICS.values() for m in metrics}
    named |= {m for metrics in LIGHTGBM_METRICS.values() for m in metrics}

    # Act
    unclassified = named - set(HIGHER) - set(LOWER)

    # Assert
    assert unclassified == set()


@pytest.mark.parametrize("task", TASKS)
def test_primary_metric_is_one_the_task_computes(task: str):
    # Act
    primary = PRIMARY_METRIC[task]

    # Assert
    assert primary in TASK_METRICS[task]


def test_primary_metrics_and_tables_cover_the_same_tasks():
    # Assert
    assert set(PRIMARY_METRIC) == set(TASK_METRICS) == set(LIGHTGBM_METRICS) == set(TASKS)
    assert PRIMARY_METRIC == {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}


@pytest.mark.parametrize(
    ("metric", "value", "reference", "expected"),
    [
        ("roc_auc", 0.8, 0.7, True),
        ("roc_auc", 0.7, 0.8, False),
        ("auc", 0.9, 0.5, True),
        ("r2", -0.1, 0.0, False),
        ("log_loss", 0.3, 0.4, True),
        ("log_loss", 0.4, 0.3, False),
        ("binary_logloss", 0.2, 0.6, True),
        ("rmse", 1.5, 2.0, True),
        ("rmse", 2.5, 2.0, False),
    ],
)
def test_improves_follows_the_metric_direction(
    metric: str, value: float, reference: float, expected: bool
):
    # Act
    result = improves(metric, value, reference)

    # Assert
    assert result is expected


@pytest.mark.parametrize("metric", ["roc_auc", "rmse"])
def test_an_equal_value_is_no_improvement(metric: str):
    # Act
    result = improves(metric, 0.5, 0.5)

    # Assert
    assert result is False


@pytest.mark.parametrize("task", TASKS)
def test_task_metrics_compute_every_metric_of_the_task_in_order(task: str):
    # Arrange
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3 if task == "multiclass" else 2, 200)
    predicted = rng.dirichlet(np.ones(3), 200) if task == "multiclass" else rng.random(200)

    # Act
    values = task_metrics(task, y, predicted)

    # Assert
    assert list(values) == list(TASK_METRICS[task])
    assert all(np.isfinite(value) for value in values.values())


def test_binary_metrics_match_scikit_learn_at_the_threshold():
    # Arrange
    y = np.array([0, 0, 1, 1, 1, 0])
    score = np.array([0.1, 0.6, 0.55, 0.9, 0.3, 0.2])

    # Act
    values = task_metrics("binary", y, score, threshold=0.5)

    # Assert
    assert values["roc_auc"] == skm.roc_auc_score(y, score)
    assert values["precision"] == skm.precision_score(y, score >= 0.5)
    assert values["recall"] == pytest.approx(2 / 3)


def _scored_rows(n_rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores of a model with real but imperfect ranking."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n_rows)
    return y, rng.normal(0, 1, n_rows) + y


def test_bootstrap_interval_holds_the_estimate_and_narrows_with_more_rows():
    # Arrange
    formula = metric_formulas("binary")["roc_auc"]
    few, many = _scored_rows(40), _scored_rows(4000)

    # Act
    low_few, high_few = bootstrap_interval(formula, *few, 0.95, 500, seed=1)
    low_many, high_many = bootstrap_interval(formula, *many, 0.95, 500, seed=1)

    # Assert
    assert low_few < formula(*few) < high_few
    assert low_many < formula(*many) < high_many
    assert high_many - low_many < (high_few - low_few) / 4


def test_bootstrap_interval_is_the_same_for_the_same_seed():
    # Arrange
    formula = metric_formulas("binary")["roc_auc"]
    rows = _scored_rows(60)

    # Act
    first = bootstrap_interval(formula, *rows, 0.9, 200, seed=7)
    again = bootstrap_interval(formula, *rows, 0.9, 200, seed=7)
    other = bootstrap_interval(formula, *rows, 0.9, 200, seed=8)

    # Assert
    assert first == again
    assert first != other


def test_bootstrap_interval_of_a_metric_undefined_on_every_resample_is_none():
    # Arrange: one class only, so ROC AUC is undefined on every resample
    formula = metric_formulas("binary")["roc_auc"]

    # Act
    interval = bootstrap_interval(formula, np.ones(30), np.linspace(0, 1, 30), 0.95, 100, 0)

    # Assert
    assert interval is None

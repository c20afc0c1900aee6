"""Tests of the metric tables: which direction is better, each task's metrics and primary one."""

from __future__ import annotations

import pytest

from cirrus.metrics import (
    HIGHER_IS_BETTER,
    LIGHTGBM_METRICS,
    PRIMARY_METRIC,
    TASK_METRICS,
    higher_is_better,
    improves,
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

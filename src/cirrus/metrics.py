"""Metrics by task: their names, which direction is better, and each task's primary metric."""

from __future__ import annotations

# Held-out metrics the evaluation computes for each task, in report order.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "pr_auc", "log_loss", "brier", "precision", "recall", "f1"),
    "multiclass": ("accuracy", "macro_f1", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
# The metric a model must improve on the trivial baseline, and that promotion compares.
PRIMARY_METRIC: dict[str, str] = {
    "binary": "roc_auc",
    "multiclass": "accuracy",
    "regression": "rmse",
}
# What LightGBM tracks while training (its own names); the first one drives early stopping
# and the hyperparameter search.
LIGHTGBM_METRICS: dict[str, list[str]] = {
    "binary": ["auc", "binary_logloss"],
    "multiclass": ["multi_logloss"],
    "regression": ["rmse", "l1"],
}
# Metrics, in either naming, where a larger value is better; every other one is an error.
HIGHER_IS_BETTER = frozenset(
    {"roc_auc", "auc", "pr_auc", "precision", "recall", "f1", "accuracy", "macro_f1", "r2"}
)


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of this metric is better."""
    return metric in HIGHER_IS_BETTER


def improves(metric: str, value: float, reference: float) -> bool:
    """Whether value improves on reference in this metric's direction."""
    return value > reference if higher_is_better(metric) else value < reference

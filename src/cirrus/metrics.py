"""Metrics by task: their names, which direction is better, each task's primary metric, and
how each is computed (held-out rows in evaluation, labelled live rows in monitoring)."""

from __future__ import annotations

import numpy as np

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


# scikit-learn is imported inside the functions: this module sits on every start-up path.
def binary_metrics(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    """Ranking, probability and thresholded metrics of a binary classifier."""
    from sklearn import metrics as skm

    clipped = np.clip(score, 1e-15, 1 - 1e-15)
    predicted = (score >= threshold).astype(int)
    return {
        "roc_auc": float(skm.roc_auc_score(y, score)),
        "pr_auc": float(skm.average_precision_score(y, score)),
        "log_loss": float(skm.log_loss(y, clipped, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y, score)),
        "precision": float(skm.precision_score(y, predicted, zero_division=0)),
        "recall": float(skm.recall_score(y, predicted, zero_division=0)),
        "f1": float(skm.f1_score(y, predicted, zero_division=0)),
    }


def multiclass_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Accuracy, macro F1 and log loss of a multiclass classifier."""
    from sklearn import metrics as skm

    predicted = proba.argmax(axis=1)
    return {
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "macro_f1": float(skm.f1_score(y, predicted, average="macro", zero_division=0)),
        "log_loss": float(skm.log_loss(y, proba, labels=list(range(proba.shape[1])))),
    }


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R2 of a regressor."""
    from sklearn import metrics as skm

    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y, predicted))),
        "mae": float(skm.mean_absolute_error(y, predicted)),
        "r2": float(skm.r2_score(y, predicted)),
    }

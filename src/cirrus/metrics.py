"""Metrics by task: their names, which direction is better, each task's primary metric, and
how each is computed (held-out rows in evaluation, labelled live rows in monitoring)."""

from __future__ import annotations

from collections.abc import Callable

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
def metric_formulas(task: str, threshold: float = 0.5) -> dict[str, Callable[..., float]]:
    """Each of the task's metrics (TASK_METRICS order) as a function of labels and predictions.

    Predictions are scores of the positive class (binary), class-probability rows (multiclass)
    or values (regression); `threshold` makes a binary score a predicted class.
    """
    from sklearn import metrics as skm

    def thresholded(score: np.ndarray) -> np.ndarray:
        return (score >= threshold).astype(int)

    formulas: dict[str, dict[str, Callable[..., float]]] = {
        "binary": {
            "roc_auc": skm.roc_auc_score,
            "pr_auc": skm.average_precision_score,
            "log_loss": lambda y, s: skm.log_loss(y, np.clip(s, 1e-15, 1 - 1e-15), labels=[0, 1]),
            "brier": skm.brier_score_loss,
            "precision": lambda y, s: skm.precision_score(y, thresholded(s), zero_division=0),
            "recall": lambda y, s: skm.recall_score(y, thresholded(s), zero_division=0),
            "f1": lambda y, s: skm.f1_score(y, thresholded(s), zero_division=0),
        },
        "multiclass": {
            "accuracy": lambda y, p: skm.accuracy_score(y, p.argmax(axis=1)),
            "macro_f1": lambda y, p: skm.f1_score(
                y, p.argmax(axis=1), average="macro", zero_division=0
            ),
            "log_loss": lambda y, p: skm.log_loss(y, p, labels=list(range(p.shape[1]))),
        },
        "regression": {
            "rmse": lambda y, v: np.sqrt(skm.mean_squared_error(y, v)),
            "mae": skm.mean_absolute_error,
            "r2": skm.r2_score,
        },
    }
    return formulas[task]


def task_metrics(
    task: str, y: np.ndarray, predicted: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Every metric of the task (see metric_formulas) on these labels and predictions."""
    return {
        name: float(formula(y, predicted))
        for name, formula in metric_formulas(task, threshold).items()
    }


def bootstrap_interval(
    formula: Callable[..., float],
    y: np.ndarray,
    predicted: np.ndarray,
    confidence: float,
    resamples: int,
    seed: int,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of a metric over the rows (None if no resample scores).

    A resample the metric is undefined on (one class only, for a ranking metric) is skipped.
    """
    import warnings

    rng = np.random.default_rng(seed)
    values = []
    with warnings.catch_warnings():  # scikit-learn warns on each undefined resample
        warnings.simplefilter("ignore")
        for _ in range(resamples):
            rows = rng.integers(0, len(y), len(y))
            try:
                values.append(float(formula(y[rows], predicted[rows])))
            except ValueError:
                continue
    values = [value for value in values if np.isfinite(value)]
    if not values:
        return None
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)

"""The few numbers a reader looks for first, as the one file `dvc metrics show` prints.

The full evaluation metrics, training metrics and drift summary stay in git beside it (and
`dvc metrics show --targets <file>` or `dvc metrics diff --targets <file>` read any of them).
"""

from __future__ import annotations

from typing import Any

from cirrus.metrics import PRIMARY_METRIC
from cirrus.results import DriftSummary, EvaluationMetrics

# Digits kept: these are read by people and diffed by DVC, not computed on.
DIGITS = 6


def _rounded(value: Any) -> Any:
    """A float rounded for display; anything else as it is."""
    return round(value, DIGITS) if isinstance(value, float) else value


def headline_metrics(evaluation: EvaluationMetrics, drift: DriftSummary) -> dict[str, Any]:
    """The task's primary metric on the held-out rows and its baseline, then the drift
    verdicts: the columns of `dvc metrics show`."""
    primary = PRIMARY_METRIC[evaluation.task]
    headline = {
        primary: evaluation.model[primary],
        f"baseline_{primary}": evaluation.baseline[primary],
        "test_rows": evaluation.n_test_rows,
        "dataset_drift": drift.dataset_drift,
        "drifted_feature_share": drift.drifted_feature_share,
        "prediction_drift": drift.prediction_drift,
        "target_drift": drift.target_drift,
    }
    return {key: _rounded(value) for key, value in headline.items()}

"""Evaluation on a Dask cluster: the metrics on one worker, given only the columns they read
(the held-out and current predictions without their keys, the training rows' target)."""

from __future__ import annotations

from typing import Any

import dask.dataframe as dd

from cirrus.dask.frames import on_a_worker
from cirrus.feature_spec import FeatureSpec
from cirrus.parameters import EvaluationParams
from cirrus.results import EvaluationMetrics, TrainingMetrics

from .nodes import compute_metrics as compute_metrics_pandas


def _outputs(predictions: dd.DataFrame, spec: FeatureSpec) -> dd.DataFrame:
    """Predictions without their id and time columns."""
    return predictions[[c for c in predictions.columns if c not in spec.key_columns]]


def compute_metrics(
    predictions: dd.DataFrame,
    train_features: dd.DataFrame,
    spec: FeatureSpec,
    settings: EvaluationParams,
    training_metrics: TrainingMetrics | None = None,
    holdout_report: dict[str, Any] | None = None,
    current_predictions: dd.DataFrame | None = None,
) -> EvaluationMetrics:
    """`compute_metrics` on one worker: the training rows' target alone (its class shares),
    the predictions' labels and scores."""
    current = None if current_predictions is None else _outputs(current_predictions, spec)
    return on_a_worker(
        compute_metrics_pandas.__wrapped__,
        _outputs(predictions, spec),
        train_features[[spec.target]],
        spec,
        settings,
        training_metrics,
        holdout_report,
        current,
    )

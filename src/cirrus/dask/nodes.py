"""The Dask variants of the shared node functions (`cirrus.feature_spec`, `cirrus.modeling`):
features and predictions partition by partition, unseen categories from per-partition counts."""

from __future__ import annotations

from typing import Any

import dask.dataframe as dd
import pandas as pd

from cirrus.dask.frames import gather, map_rows, on_a_worker, row_count
from cirrus.feature_spec import UNKNOWN_LEVEL, FeatureSpec
from cirrus.feature_spec import build_features as build_features_pandas
from cirrus.modeling import PREDICTION, point_threshold, prediction_frame
from cirrus.parameters import DriftParams, EvaluationParams
from cirrus.results import DriftSummary, TrainingMetrics


def build_features(rows: dd.DataFrame, spec: FeatureSpec) -> dd.DataFrame:
    """The model-input table, each partition built by the pandas path's `build_features`."""
    return map_rows(rows, build_features_pandas.__wrapped__, spec)


def _predict_partition(
    features: pd.DataFrame, model: str, spec: FeatureSpec, threshold: float
) -> pd.DataFrame:
    """One partition's predictions (`prediction_frame` with the partition first)."""
    return prediction_frame(model, features, spec, threshold)


def predict_rows(
    model: str,
    features: dd.DataFrame,
    spec: FeatureSpec,
    evaluation: EvaluationParams,
    training_metrics: TrainingMetrics | None = None,
) -> dd.DataFrame:
    """Every partition scored with the model, at the threshold the pandas path uses."""
    threshold = point_threshold(spec, evaluation, training_metrics)
    return map_rows(features, _predict_partition, model, spec, threshold)


def _unseen_in_partition(current: pd.DataFrame, spec: FeatureSpec) -> dict[str, Any]:
    """Per categorical: unseen rows and levels in one partition, and its row count."""
    found: dict[str, Any] = {"rows": len(current)}
    for column in spec.categories:
        unseen = current[column].astype("string")[spec.unseen_mask(column, current[column])]
        found[column] = (int(unseen.size), set(unseen.unique().tolist()))
    return found


def report_unseen_categories(current: dd.DataFrame, spec: FeatureSpec) -> dict[str, Any]:
    """`report_unseen_categories` of the whole table, from each partition's counts and levels."""
    columns = list(spec.categories)
    parts = gather(current[columns], _unseen_in_partition, spec) if columns else []
    n_rows = sum(part["rows"] for part in parts) if parts else row_count(current)
    report = {}
    for column in columns:
        rows = sum(part[column][0] for part in parts)
        levels = set().union(*(part[column][1] for part in parts))
        report[column] = {
            "unseen_rows": rows,
            "unseen_share": float(rows / max(n_rows, 1)),
            "unseen_levels": sorted(levels)[:50],
        }
    return {"mapped_to": UNKNOWN_LEVEL, "columns": report}


def run_drift_report(
    reference_features: dd.DataFrame,
    reference_predictions: dd.DataFrame,
    current_features: dd.DataFrame,
    current_predictions: dd.DataFrame,
    spec: FeatureSpec,
    settings: DriftParams,
    unseen_categories: dict[str, Any],
) -> tuple[str, DriftSummary]:
    """`run_drift_report` on one worker, given only the columns drift reads: every column's test
    on all rows (the same verdicts as the pandas path), the HTML report on its seeded sample."""
    from cirrus.drift.report import run_drift_report as on_pandas

    features = list(dict.fromkeys([*spec.drift_columns, spec.target]))
    outputs = [c for c in reference_predictions.columns if c == PREDICTION or c.startswith("score")]
    return on_a_worker(
        on_pandas.__wrapped__,
        reference_features[features],
        reference_predictions[outputs],
        current_features[features],
        current_predictions[outputs],
        spec,
        settings,
        unseen_categories,
    )

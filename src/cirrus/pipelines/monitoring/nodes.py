"""Monitoring nodes: a window of the prediction log as the current batch, outcomes joined by id,
live metrics, and the verdict `kedro cirrus monitor` acts on."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cirrus.contract import DatasetContract
from cirrus.drift.verdict import verdict_in_words
from cirrus.errors import CirrusError
from cirrus.feature_spec import UNKNOWN_LEVEL, FeatureSpec
from cirrus.metrics import PRIMARY_METRIC, higher_is_better, task_metrics
from cirrus.modeling import PREDICTION
from cirrus.parameters import MONITORING_FILE, MonitoringParams
from cirrus.prediction_log import (
    FEATURE_SPEC_HASH,
    RECEIVED_AT,
    ROW_ID,
    UNKNOWN_COLUMNS,
    PredictionLog,
)
from cirrus.results import DriftSummary, EvaluationMetrics, ModelBundle, MonitoringSummary
from cirrus.scoring import score_columns, spec_hash

LABEL = "label"


class MonitoringError(CirrusError, ValueError):
    """The prediction log or the outcomes cannot give a current batch."""

    hint = (
        "Score rows first (the API, or `kedro run --pipelines inference`), or widen --window-days."
    )


def _window_rows(log: PredictionLog, spec: FeatureSpec, settings: MonitoringParams):
    """The window's logged rows scored with the current feature spec, and what was left out."""
    rows = log.window(settings.window_days)
    kept = rows[rows[FEATURE_SPEC_HASH] == spec_hash(spec)].reset_index(drop=True)
    if len(kept) < settings.min_rows:
        raise MonitoringError(
            f"The prediction log at {log.root} holds {len(kept)} row(s) scored with the current "
            f"feature spec in the last {settings.window_days:g} day(s) of traffic "
            f"({len(rows) - len(kept)} more under other specs); monitoring.min_rows in "
            f"{MONITORING_FILE} asks for {settings.min_rows}"
        )
    return kept, len(rows) - len(kept)


def _outcomes_by_row(
    outcomes: pd.DataFrame | None, contract: DatasetContract, spec: FeatureSpec
) -> pd.Series:
    """The encoded outcome of each id that has one (the last one reported wins)."""
    if outcomes is None or outcomes.empty:
        return pd.Series(dtype="float64")
    missing = [c for c in (contract.id_column, contract.target) if c not in outcomes]
    if contract.id_column is None or missing:
        raise MonitoringError(
            f"Dataset 'raw_outcomes' needs the id column and the target of the contract "
            f"({contract.id_column!r}, {contract.target!r}); it has {sorted(outcomes.columns)}.",
            hint="Write the outcomes with the contract's id column and target, by those names.",
        )
    known = outcomes.dropna(subset=[contract.target]).drop_duplicates(
        subset=contract.id_column, keep="last"
    )
    ids = known[contract.id_column].astype(str).to_numpy()
    return pd.Series(spec.encode_target(known[contract.target]).to_numpy(), index=ids)


def _prediction_frame(rows: pd.DataFrame, spec: FeatureSpec, labels: np.ndarray) -> pd.DataFrame:
    """The logged predictions in the shape the evaluation writes (class index, label)."""
    frame = pd.DataFrame({LABEL: labels})
    for column in score_columns(spec):
        frame[column] = rows[column].astype("float64").to_numpy()
    if spec.task == "regression":
        frame[PREDICTION] = rows[PREDICTION].astype("float64").to_numpy()
    else:
        index = {name: float(i) for i, name in enumerate(spec.class_names())}
        frame[PREDICTION] = rows[PREDICTION].astype(str).map(index).to_numpy()
    return frame


def _unseen_report(rows: pd.DataFrame, spec: FeatureSpec) -> dict[str, Any]:
    """Per categorical column, how many logged rows held a level never seen in training."""
    counts = {column: 0 for column in spec.categories}
    for columns in rows[UNKNOWN_COLUMNS]:
        for column in columns if columns is not None else []:
            counts[column] = counts.get(column, 0) + 1
    return {
        "mapped_to": UNKNOWN_LEVEL,
        "columns": {
            column: {
                "unseen_rows": count,
                "unseen_share": count / max(len(rows), 1),
                "unseen_levels": [],  # the log keeps the encoded value, not the raw level
            }
            for column, count in counts.items()
        },
    }


def current_batch_from_log(
    log: PredictionLog,
    outcomes: pd.DataFrame | None,
    spec: FeatureSpec,
    contract: DatasetContract,
    settings: MonitoringParams,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """The window's feature values and predictions as a current batch, outcomes joined by id."""
    rows, other_specs = _window_rows(log, spec, settings)
    known = _outcomes_by_row(outcomes, contract, spec)
    row_ids = rows[ROW_ID].astype("string")
    labels = row_ids.map(known).astype("float64").to_numpy() if len(known) else np.nan
    features = rows[spec.drift_columns].copy()
    features[spec.target] = labels
    received = pd.DatetimeIndex(rows[RECEIVED_AT])
    window = {
        "window_days": settings.window_days,
        "first_received_at": received.min().isoformat(),
        "last_received_at": received.max().isoformat(),
        "rows": len(rows),
        "rows_under_other_feature_specs": other_specs,
        "rows_with_outcomes": int(np.isfinite(features[spec.target].to_numpy()).sum()),
        "feature_spec_hash": spec_hash(spec),
    }
    predictions = _prediction_frame(rows, spec, features[spec.target].to_numpy())
    return features, predictions, _unseen_report(rows, spec), window


def live_performance(
    predictions: pd.DataFrame,
    spec: FeatureSpec,
    bundle: ModelBundle,
) -> dict[str, Any]:
    """Metrics of the logged predictions whose outcome is known (none: no metrics yet), at the
    served bundle's decision threshold."""
    labelled = predictions[np.isfinite(predictions[LABEL].to_numpy(dtype="float64"))]
    result: dict[str, Any] = {"task": spec.task, "labelled_rows": len(labelled), "model": None}
    y = labelled[LABEL].to_numpy()
    if spec.task == "binary" and len(np.unique(y)) == 2:
        threshold = bundle.threshold()
        result["model"] = task_metrics(spec.task, y, labelled["score"].to_numpy(), threshold)
    elif spec.task == "multiclass" and len(labelled):
        scores = labelled[score_columns(spec)].to_numpy()
        result["model"] = task_metrics(spec.task, y.astype(int), scores)
    elif spec.task == "regression" and len(labelled) > 1:
        result["model"] = task_metrics(spec.task, y, labelled[PREDICTION].to_numpy())
    return result


def summarise_monitoring(
    drift_summary: DriftSummary,
    live_metrics: dict[str, Any],
    held_out_metrics: EvaluationMetrics,
    window: dict[str, Any],
    settings: MonitoringParams,
) -> MonitoringSummary:
    """The verdict on real traffic: drift, live metrics against held-out, and retrain or not."""
    reasons = list(drift_summary.retrain_reasons)
    metric = PRIMARY_METRIC[live_metrics["task"]]
    live = (live_metrics.get("model") or {}).get(metric)
    held_out = held_out_metrics.model[metric]
    drop = None
    if live is not None:
        drop = held_out - live if higher_is_better(metric) else live - held_out
        if drop > settings.max_primary_metric_drop:
            reasons.append(
                f"live {metric} {live:.4f} is {drop:.4f} worse than held-out {held_out:.4f} "
                f"(> {settings.max_primary_metric_drop:g})"
            )
    # The verdict in words is the drift summary's, with every retraining reason of this one.
    worded = drift_summary.model_copy(
        update={"retrain_recommended": bool(reasons), "retrain_reasons": reasons}
    )
    return MonitoringSummary(
        window=window,
        dataset_drift=drift_summary.dataset_drift,
        drifted_features=drift_summary.drifted_features,
        drifted_feature_share=drift_summary.drifted_feature_share,
        prediction_drift=drift_summary.prediction_drift,
        target_drift=drift_summary.target_drift,
        # The drift verdicts above are the corrected alarms; these say how and what else moved.
        alarm=drift_summary.alarm,
        missing_shift=drift_summary.missing_shift,
        out_of_range=drift_summary.out_of_range,
        live_metric={"name": metric, "live": live, "held_out": held_out, "drop": drop},
        retrain_recommended=bool(reasons),
        retrain_reasons=reasons,
        verdict=verdict_in_words(worded),
    )

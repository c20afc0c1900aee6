"""Tests of the monitoring nodes: the logged window as a current batch, outcomes, verdict."""

from __future__ import annotations

from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest

from cirrus.metrics import task_metrics
from cirrus.parameters import MonitoringParams
from cirrus.pipelines.inference.nodes import score_new_rows
from cirrus.pipelines.monitoring.nodes import (
    MonitoringError,
    current_batch_from_log,
    live_performance,
    summarise_monitoring,
)
from cirrus.prediction_log import PredictionLog
from cirrus.results import MonitoringSummary
from tests import unit_fixtures as fx


def logged_test_rows(tmp_path: Path) -> tuple[PredictionLog, pd.DataFrame]:
    """A log holding the scored held-out rows, and those rows (with their outcomes)."""
    spec, _, _ = fx.feature_tables()
    model, _, _ = fx.trained_model()
    _, test = fx.holdout_rows()
    _, logged, _ = score_new_rows(
        test.drop(columns=[spec.target]), model, spec, fx.contract(), fx.model_bundle()
    )
    log = PredictionLog(fsspec.filesystem("file"), str(tmp_path / "log"))
    log.append(logged)
    return log, test


def settings(**overrides) -> MonitoringParams:
    """Monitoring settings with a week's window."""
    return MonitoringParams.parse({"window_days": 7, **overrides})


def test_outcomes_join_by_id_and_live_metrics_equal_the_held_out_ones(tmp_path: Path) -> None:
    spec, _, _ = fx.feature_tables()
    bundle = fx.model_bundle()
    log, test = logged_test_rows(tmp_path)
    outcomes = test[["application_id", "defaulted"]]

    features, predictions, _, window = current_batch_from_log(
        log, outcomes, spec, fx.contract(), settings()
    )
    live = live_performance(predictions, spec, bundle)

    assert window["rows"] == window["rows_with_outcomes"] == len(test)
    y = spec.encode_target(test["defaulted"]).to_numpy()
    np.testing.assert_array_equal(features[spec.target].to_numpy(), y)
    assert bundle.threshold() == 0.5
    expected = task_metrics("binary", y, predictions["score"].to_numpy(), 0.5)
    assert live["labelled_rows"] == len(test) and live["model"] == pytest.approx(expected)


def test_without_outcomes_there_is_no_target_and_no_live_metric(tmp_path: Path) -> None:
    spec, _, _ = fx.feature_tables()
    log, _ = logged_test_rows(tmp_path)

    features, predictions, _, window = current_batch_from_log(
        log, None, spec, fx.contract(), settings()
    )

    assert window["rows_with_outcomes"] == 0 and features[spec.target].isna().all()
    assert live_performance(predictions, spec, fx.model_bundle())["model"] is None


def test_too_few_logged_rows_name_the_log_and_the_setting(tmp_path: Path) -> None:
    spec, _, _ = fx.feature_tables()
    log, test = logged_test_rows(tmp_path)

    with pytest.raises(MonitoringError, match=rf"{len(test)} row\(s\).*monitoring.min_rows"):
        current_batch_from_log(log, None, spec, fx.contract(), settings(min_rows=10**6))


def test_outcomes_without_the_id_column_are_refused(tmp_path: Path) -> None:
    spec, _, _ = fx.feature_tables()
    log, test = logged_test_rows(tmp_path)

    with pytest.raises(MonitoringError, match=r"'raw_outcomes'.*'application_id'"):
        current_batch_from_log(log, test[["defaulted"]], spec, fx.contract(), settings())


def test_a_live_metric_far_below_held_out_recommends_retraining() -> None:
    drift = fx.drift_summary(
        retrain_reasons=[],
        dataset_drift=False,
        drifted_features=[],
        drifted_feature_share=0.0,
        prediction_drift=False,
        target_drift=False,
    )
    held_out = fx.evaluation_metrics(model={"roc_auc": 0.80})

    def verdict(live_auc: float) -> MonitoringSummary:
        live = {"task": "binary", "model": {"roc_auc": live_auc}}
        return summarise_monitoring(drift, live, held_out, {}, settings())

    assert not verdict(0.78).retrain_recommended
    assert verdict(0.70).retrain_recommended
    assert "live roc_auc 0.7000" in verdict(0.70).retrain_reasons[0]
    assert verdict(0.78).verdict.startswith("No retraining needed.")
    assert verdict(0.70).verdict.startswith("Retraining recommended (live roc_auc 0.7000")


def test_the_monitoring_verdict_carries_the_drift_alarms_and_missing_value_shifts() -> None:
    # Arrange: a drift summary whose raw flags failed the correction, and a missing-value shift
    drift = fx.drift_summary(
        retrain_reasons=[],
        dataset_drift=False,
        drifted_features=[],
        raw_drifted_features=["age"],
        drifted_feature_share=0.0,
        prediction_drift=False,
        target_drift=None,
        alarm={"correction": "holm", "family_error_rate": 0.05, "family_size": 16},
        missing_shift=["credit_score"],
        out_of_range={"age": 3},
    )
    live = {"task": "binary", "model": None}
    held_out = fx.evaluation_metrics(model={"roc_auc": 0.8})

    # Act
    verdict = summarise_monitoring(drift, live, held_out, {}, settings())

    # Assert
    assert verdict.drifted_features == []
    assert verdict.alarm.correction == "holm"
    assert verdict.missing_shift == ["credit_score"]
    assert verdict.out_of_range == {"age": 3}
    assert verdict.retrain_recommended is False

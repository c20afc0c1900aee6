"""Time-aware evaluation: the hold-out by event time (auto, gap, ties), early stopping on the
latest training rows, the model on the current batch, and the imbalance warning."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from cirrus.contract import DatasetContract
from cirrus.feature_spec import build_features
from cirrus.modeling import predict_rows
from cirrus.parameters import ConfigError, EvaluationParams, HoldoutParams
from cirrus.pipelines.evaluation.nodes import (
    QualityGateFailed,
    check_quality_gate,
    compute_metrics,
    current_batch_metrics,
)
from cirrus.pipelines.features.nodes import HoldoutError, fit_feature_spec, holdout_split
from cirrus.pipelines.training.nodes import early_stopping_split, train_model
from cirrus.results import EvaluationMetrics, TrainingMetrics
from cirrus.runs.summary import describe_holdout, run_summary
from cirrus.validation import treat_pii
from tests import unit_fixtures as fx

TIME = "application_time"
TARGET = "defaulted"
NO_TUNING = {"enabled": False, "best_params": {}}


def _weakening_table(share_without_relation: float = 0.4) -> pd.DataFrame:
    """The generated binary rows, whose latest share has its outcomes shuffled among
    themselves: the relation between features and outcome fades over time."""
    rows = treat_pii(fx.validated_reference(), fx.contract(), fx.SALT)
    rows = rows.sort_values(TIME, kind="stable").reset_index(drop=True)
    start = int(len(rows) * (1 - share_without_relation))
    late = rows.loc[start:, TARGET].sample(frac=1.0, random_state=7).to_numpy()
    rows.loc[start:, TARGET] = late
    # Shuffled again in row order, so no split can lean on the file's order.
    return rows.sample(frac=1.0, random_state=3).reset_index(drop=True)


def _evaluate(
    reference: pd.DataFrame,
    holdout: HoldoutParams,
    current: pd.DataFrame,
    settings: EvaluationParams | None = None,
    contract: DatasetContract | None = None,
) -> tuple[EvaluationMetrics, TrainingMetrics]:
    """Hold out, fit, train and evaluate as the pipelines do, on the rows given: the held-out
    metrics and the training metrics."""
    contract = contract or fx.contract()
    settings = settings or fx.evaluation()
    train, test, report = holdout_split(reference, contract, holdout)
    spec = fit_feature_spec(train, contract, fx.features())
    train_features, test_features = build_features(train, spec), build_features(test, spec)
    model, training_metrics, _ = train_model(
        train_features, spec, fx.fast_training(), NO_TUNING, report
    )
    predictions = predict_rows(model, test_features, spec, settings, training_metrics)
    current_predictions = predict_rows(
        model, build_features(current, spec), spec, settings, training_metrics
    )
    metrics = compute_metrics(
        predictions,
        train_features,
        spec,
        settings,
        training_metrics,
        report,
        current_predictions,
    )
    return metrics, training_metrics


@pytest.fixture(scope="module")
def weakening() -> dict[str, tuple[EvaluationMetrics, TrainingMetrics]]:
    """Evaluation of the time and the random hold-out on the weakening table."""
    reference = _weakening_table()
    current = reference.nlargest(300, TIME)
    return {
        strategy: _evaluate(reference, HoldoutParams(strategy=strategy), current)
        for strategy in ("auto", "random")
    }


# --- the hold-out ------------------------------------------------------------------------------


def test_time_holdout_scores_lower_than_a_random_one_when_the_relation_fades(weakening):
    # Arrange
    (by_time, _), (at_random, _) = weakening["auto"], weakening["random"]

    # Assert: the latest rows hold no relation, and the time hold-out tests on them only
    assert by_time.holdout["strategy"] == "time"
    assert at_random.holdout["strategy"] == "random"
    assert by_time.model["roc_auc"] < 0.6
    assert at_random.model["roc_auc"] > by_time.model["roc_auc"] + 0.1


def test_metrics_report_the_holdout_and_the_current_batch(weakening):
    # Arrange
    metrics, _ = weakening["auto"]

    # Assert
    holdout = metrics.holdout
    assert holdout["declared"] == "auto"
    assert holdout["event_time_column"] == TIME
    assert pd.Timestamp(holdout["train_until"]) < pd.Timestamp(holdout["cut"])
    assert holdout["n_train_rows"] + holdout["n_test_rows"] == 2500
    assert holdout["n_test_rows"] == metrics.n_test_rows == 500
    current = metrics.current_batch
    assert current.n_rows == current.n_rows_with_outcome == 300
    assert set(current.model) == set(metrics.model)
    assert current.model["roc_auc"] < 0.65  # the current rows lost the relation too


def test_summary_names_the_holdout_and_the_current_batch(weakening):
    # Arrange
    metrics, _ = weakening["auto"]

    # Act
    lines = run_summary({"evaluation_metrics": metrics}, {})

    # Assert
    text = "\n".join(lines)
    assert f"held out: time (test rows from {metrics.holdout['cut']}" in text
    assert "2000 training / 500 test rows" in text
    current = metrics.current_batch.model["roc_auc"]
    assert f"current batch: roc_auc {current:.4f}" in text
    assert "(300 of 300 rows with an outcome)" in text


def test_time_holdout_validates_early_stopping_on_the_latest_training_rows(weakening):
    # Assert
    (_, by_time), (_, at_random) = weakening["auto"], weakening["random"]

    # Assert
    assert by_time.validation_split == "time"
    assert at_random.validation_split == "stratified"


def test_early_stopping_split_by_time_keeps_the_latest_rows_for_validation():
    # Arrange
    spec, train, _ = fx.feature_tables("binary")
    settings = fx.fast_training(validation_fraction=0.2)

    # Act
    fit_rows, valid_rows = early_stopping_split(train, spec, settings, by_time=True)

    # Assert
    assert len(valid_rows) == int(np.ceil(0.2 * len(train)))
    assert fit_rows[TIME].max() <= valid_rows[TIME].min()
    assert set(valid_rows.index) == set(train.nlargest(len(valid_rows), TIME).index)


@pytest.mark.parametrize(
    ("event_time", "task", "expected"),
    [
        (TIME, "binary", "time"),
        (TIME, "regression", "time"),
        (None, "binary", "stratified"),
        (None, "multiclass", "stratified"),
        (None, "regression", "random"),
    ],
)
def test_auto_picks_time_with_an_event_time_and_a_random_split_without(event_time, task, expected):
    assert HoldoutParams().resolved(event_time, task) == expected


def test_auto_without_an_event_time_splits_at_random_keeping_class_shares(contract_params):
    # Arrange: the committed contract without its event time
    contract_params["event_time_column"] = None
    contract_params["columns"].pop(TIME, None)
    contract_params["features"]["datetime"] = []
    contract = DatasetContract.parse(contract_params)
    rows = fx.validated_reference().drop(columns=[TIME])

    # Act
    train, test, report = holdout_split(rows, contract, HoldoutParams())

    # Assert
    assert report["strategy"] == "stratified"
    assert report["cut"] is None
    shares = [(part[TARGET] == "1").mean() for part in (rows, train, test)]
    assert shares == pytest.approx([shares[0]] * 3, abs=0.002)


contract_params = fx.contract_params


def _daily(days: list[int]) -> pd.DataFrame:
    """Rows of the committed contract whose event times are the given days of 2025."""
    rows = fx.validated_reference().head(len(days)).copy()
    rows[TIME] = pd.Timestamp("2025-01-01") + pd.to_timedelta(days, unit="D")
    return rows


def test_equal_event_times_do_not_straddle_the_cut():
    # Arrange: 10 rows, the cut (the latest 2) falls inside four rows of day 8
    rows = _daily([1, 2, 3, 4, 5, 6, 8, 8, 8, 8])

    # Act
    train, test, report = holdout_split(rows, fx.contract(), HoldoutParams(strategy="time"))

    # Assert: every row of day 8 is a test row
    assert test[TIME].dt.day.tolist() == [9, 9, 9, 9]
    assert train[TIME].max() < test[TIME].min()
    assert report["n_test_rows"] == 4
    assert report["cut"] == "2025-01-09T00:00:00"


def test_zone_aware_event_times_split_as_their_instants():
    # Arrange: the days as zone-aware UTC times (a Parquet timestamp[ns, UTC] column)
    rows = _daily([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    rows[TIME] = rows[TIME].dt.tz_localize("UTC")

    # Act
    train, test, report = holdout_split(rows, fx.contract(), HoldoutParams(strategy="time"))

    # Assert
    assert test[TIME].dt.day.tolist() == [10, 11]
    assert len(train) == 8
    assert report["cut"] == "2025-01-10T00:00:00+00:00"


def test_gap_drops_the_training_rows_just_before_the_cut():
    # Arrange: the test rows start on day 9; a 3-day gap drops days 6 to 8 (after 6 Jan 00:00)
    rows = _daily([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    holdout = HoldoutParams(strategy="time", test_size=0.2, gap="3D")

    # Act
    train, test, report = holdout_split(rows, fx.contract(), holdout)

    # Assert
    assert test[TIME].dt.day.tolist() == [10, 11]
    assert train[TIME].dt.day.tolist() == [1, 2, 3, 4, 5, 6]
    assert report["n_gap_rows"] == 3
    assert report["gap"] == "3D"
    assert report["train_until"] == "2025-01-06T00:00:00"
    assert describe_holdout(report) == (
        "time (test rows from 2025-01-10T00:00:00; gap 3D: 3 training rows dropped), "
        "6 training / 2 test rows"
    )


def test_a_gap_that_leaves_no_training_rows_is_refused_naming_the_setting():
    # Arrange
    rows = _daily([0, 1, 2, 3, 4])
    holdout = HoldoutParams(strategy="time", gap="30D")

    # Act / Assert
    with pytest.raises(HoldoutError, match="leaves no training rows") as refused:
        holdout_split(rows, fx.contract(), holdout)
    assert "holdout.gap" in refused.value.hint


@pytest.mark.parametrize("gap", ["seven days", "-2D", "0D"])
def test_a_gap_that_is_no_positive_duration_is_refused(gap):
    with pytest.raises(ConfigError, match=r"'holdout\.gap'.*not a positive duration"):
        HoldoutParams.parse({"strategy": "time", "gap": gap})


def test_a_gap_with_a_random_holdout_is_refused():
    with pytest.raises(ConfigError, match="gap applies to strategy 'time'"):
        HoldoutParams.parse({"strategy": "random", "gap": "7D"})


# --- the current batch -------------------------------------------------------------------------


def test_current_batch_without_outcomes_is_reported_as_such():
    # Arrange
    spec = fx.minimal_spec("binary", ["0", "1"], TARGET)
    predictions = pd.DataFrame({"label": [np.nan] * 4, "score": [0.1, 0.9, 0.4, 0.6]})

    # Act
    section = current_batch_metrics(predictions, 0.2, spec, 0.5)

    # Assert
    assert section["model"] is None
    assert section["n_rows"] == 4
    assert section["n_rows_with_outcome"] == 0
    assert section["reason"] == "no current row has an outcome"
    line = run_summary({"evaluation_metrics": _with_current(section)}, {})
    assert "current batch: no metrics (no current row has an outcome; 0 of 4 rows" in line[1]


def test_current_batch_metrics_use_only_the_rows_with_an_outcome():
    # Arrange: the unlabelled rows would be wrong if they counted
    spec = fx.minimal_spec("binary", ["0", "1"], TARGET)
    predictions = pd.DataFrame(
        {"label": [0.0, 1.0, 0.0, 1.0, np.nan, np.nan], "score": [0.1, 0.9, 0.2, 0.8, 0.9, 0.1]}
    )

    # Act
    section = current_batch_metrics(predictions, 0.5, spec, 0.5)

    # Assert
    assert section["n_rows_with_outcome"] == 4
    assert section["model"]["roc_auc"] == 1.0
    assert section["model"]["f1"] == 1.0


def _with_current(section: dict[str, Any]) -> EvaluationMetrics:
    """Minimal evaluation metrics holding a current-batch section."""
    return fx.evaluation_metrics(
        task="binary",
        model={"roc_auc": 0.8},
        baseline={"roc_auc": 0.5},
        beats_baseline={"roc_auc": True},
        current_batch=section,
    )


# --- the gate and the threshold ----------------------------------------------------------------


def test_the_gate_bounds_a_threshold_dependent_metric(evaluation_params):
    # Arrange: f1 0.41 (the fixed threshold on the default data) under a minimum of 0.5
    evaluation_params["quality_gate"]["binary"] = {"f1": {"min": 0.5}}
    settings = EvaluationParams.parse(evaluation_params)

    def metrics(f1: float) -> EvaluationMetrics:
        return fx.evaluation_metrics(
            task="binary",
            n_test_rows=20_000,
            model={"roc_auc": 0.8, "f1": f1},
            baseline={"roc_auc": 0.5, "f1": 0.0},
            beats_baseline={"roc_auc": True, "f1": True},
            intervals=None,
        )

    # Act / Assert
    with pytest.raises(QualityGateFailed, match=r"f1 = 0\.4100 is below the minimum 0\.5"):
        check_quality_gate(metrics(0.41), settings)
    assert check_quality_gate(metrics(0.55), settings).checks["f1"].verdict == "pass"


evaluation_params = fx.evaluation_params


@pytest.fixture(scope="module")
def imbalanced() -> tuple[pd.DataFrame, pd.DataFrame, Any, str, TrainingMetrics]:
    """Training and test features of the binary rows (about 18% positives) and a model."""
    spec, train, test = fx.feature_tables("binary")
    model, training_metrics, _ = train_model(train, spec, fx.fast_training(), NO_TUNING)
    return train, test, spec, model, training_metrics


def _metrics(imbalanced, settings: EvaluationParams) -> EvaluationMetrics:
    train, test, spec, model, training_metrics = imbalanced
    predictions = predict_rows(model, test, spec, settings, training_metrics)
    return compute_metrics(predictions, train, spec, settings, training_metrics)


def test_a_fixed_threshold_on_an_imbalanced_target_warns_with_its_recall(imbalanced, caplog):
    # Arrange
    train = imbalanced[0]
    share = float(train[TARGET].mean())

    # Act
    metrics = _metrics(imbalanced, fx.evaluation(threshold=0.5))

    # Assert
    assert share < 0.4
    [warning] = metrics.warnings
    assert warning["kind"] == "imbalanced_fixed_threshold"
    assert warning["positive_share"] == pytest.approx(share)
    assert warning["recall"] == metrics.model["recall"]
    assert warning["f1"] == metrics.model["f1"]
    assert warning["auto_f1"] > warning["f1"]
    assert f"held-out recall {metrics.model['recall']:.3f}" in warning["message"]
    assert warning["message"] in caplog.text


def test_auto_threshold_gives_no_imbalance_warning(imbalanced, caplog):
    # Act
    metrics = _metrics(imbalanced, fx.evaluation(threshold="auto"))

    # Assert
    assert metrics.warnings == []
    assert "positive class" not in caplog.text


def test_a_balanced_target_gives_no_imbalance_warning():
    # Arrange: about half the rows positive
    spec = fx.minimal_spec("binary", ["0", "1"], TARGET)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400).astype(float)
    predictions = pd.DataFrame(
        {"label": y, "score": np.clip(y * 0.6 + rng.random(400) * 0.4, 0, 1)}
    )
    predictions["prediction"] = (predictions["score"] >= 0.5).astype(float)
    train = pd.DataFrame({TARGET: y})

    # Act
    metrics = compute_metrics(predictions, train, spec, fx.evaluation(threshold=0.5))

    # Assert
    assert metrics.warnings == []


def test_summary_names_a_random_holdout_and_the_warnings(weakening):
    # Arrange
    at_random, _ = weakening["random"]
    metrics = at_random.model_copy(update={"warnings": [{"message": "the threshold is fixed"}]})

    # Act
    lines = run_summary({"evaluation_metrics": metrics}, {})

    # Assert
    assert "  held out: random (seed 42), 2000 training / 500 test rows" in lines
    assert "  warning: the threshold is fixed" in lines

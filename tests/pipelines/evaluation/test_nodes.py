"""Tests of the evaluation nodes: predictions, metrics against the baseline, gate and plots."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from sklearn import metrics as skm

from cirrus.feature_spec import FeatureSpec
from cirrus.modeling import choose_threshold, decision_threshold, predict_rows
from cirrus.parameters import ConfigError, EvaluationParams
from cirrus.pipelines.evaluation.nodes import (
    CLASSIFICATION_PLOTS,
    CURVE_POINTS,
    REGRESSION_PLOTS,
    QualityGateFailed,
    _thin,
    check_quality_gate,
    compute_metrics,
    draw_plots,
    plot_calibration,
    plot_confusion_matrix,
    plot_feature_importance,
    plot_pr_curve,
    plot_predicted_vs_actual,
    plot_residuals,
    plot_roc_curve,
    pr_points,
    roc_points,
)
from cirrus.pipelines.training.nodes import early_stopping_split, resolve_row_scaled, train_model
from cirrus.results import EvaluationMetrics
from tests import unit_fixtures as fx

evaluation_params = fx.evaluation_params


def _spec(task: str, classes: list[str] | None, target: str) -> FeatureSpec:
    """A minimal spec of a task: what evaluation reads (ids, task, target and classes)."""
    return fx.minimal_spec(task, classes, target)


REGRESSION_SPEC = _spec("regression", None, "interest_rate")


def _scored(task: str) -> tuple[FeatureSpec, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Spec, training features, test predictions and importance of a trained model."""
    spec, train, test = fx.feature_tables(task)
    model, _, importance = fx.trained_model(task)
    predictions = predict_rows(model, test, spec, fx.evaluation())
    return spec, train, predictions, importance


@pytest.fixture
def binary():
    """Binary spec, training features, held-out predictions and importance."""
    return _scored("binary")


def _regression_predictions(labels: list[float], predicted: list[float]) -> pd.DataFrame:
    n = len(labels)
    return pd.DataFrame(
        {
            "application_id": [f"APP-{i}" for i in range(n)],
            "application_time": pd.date_range("2025-01-01", periods=n, freq="D"),
            "label": labels,
            "prediction": predicted,
        }
    )


# --- predictions and metrics ------------------------------------------------------------------


def test_predict_rows_scores_every_held_out_row():
    # Arrange
    spec, _, test = fx.feature_tables("binary")
    model, _, _ = fx.trained_model("binary")
    settings = fx.evaluation(threshold=0.3)

    # Act
    predictions = predict_rows(model, test, spec, settings)

    # Assert
    assert len(predictions) == len(test)
    assert predictions["application_id"].tolist() == test["application_id"].tolist()
    np.testing.assert_array_equal(predictions["label"], test["defaulted"])
    assert predictions["score"].between(0, 1).all()
    expected = (predictions["score"] >= 0.3).astype(float)
    np.testing.assert_array_equal(predictions["prediction"], expected)
    assert 0 < predictions["prediction"].sum() < len(test)


def test_binary_model_beats_the_baseline(binary):
    # Arrange
    spec, train, predictions, _ = binary
    settings = fx.evaluation(threshold=0.4)

    # Act
    metrics = compute_metrics(predictions, train, spec, settings)

    # Assert
    assert metrics.task == "binary"
    assert metrics.n_test_rows == len(predictions)
    assert metrics.threshold == 0.4
    assert metrics.baseline["roc_auc"] == pytest.approx(0.5)
    assert metrics.model["roc_auc"] > 0.5
    assert metrics.beats_baseline["roc_auc"] is True
    assert metrics.model["log_loss"] < metrics.baseline["log_loss"]
    assert set(metrics.model) == {
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "precision",
        "recall",
        "f1",
    }


def test_perfect_binary_scores_give_perfect_ranking_metrics():
    # Arrange
    spec, train, _ = fx.feature_tables("binary")
    predictions = pd.DataFrame(
        {"label": [0.0, 0.0, 1.0, 1.0], "score": [0.1, 0.2, 0.8, 0.9], "prediction": 0.0}
    )

    # Act
    metrics = compute_metrics(predictions, train, spec, fx.evaluation())

    # Assert
    assert metrics.model["roc_auc"] == 1.0
    assert metrics.model["pr_auc"] == 1.0
    assert metrics.model["precision"] == 1.0
    assert metrics.model["recall"] == 1.0


def test_regression_metrics_are_computed():
    # Arrange: errors 0, 0, 0, 1 around a mean of 2.5
    predictions = _regression_predictions([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 5.0])
    train = pd.DataFrame({"interest_rate": [2.0, 3.0]})

    # Act
    metrics = compute_metrics(predictions, train, REGRESSION_SPEC, fx.evaluation())

    # Assert
    assert metrics.threshold is None
    assert metrics.model["rmse"] == pytest.approx(0.5)
    assert metrics.model["mae"] == pytest.approx(0.25)
    assert metrics.model["r2"] == pytest.approx(0.8)
    assert metrics.baseline["r2"] == pytest.approx(0.0)
    assert metrics.beats_baseline == {"rmse": True, "mae": True, "r2": True}


def test_trained_regression_model_metrics():
    # Arrange
    spec, train, predictions, _ = _scored("regression")

    # Act
    metrics = compute_metrics(predictions, train, spec, fx.evaluation())

    # Assert
    assert set(metrics.model) == {"rmse", "mae", "r2"}
    assert metrics.model["mae"] <= metrics.model["rmse"]
    assert metrics.model["r2"] > 0
    assert metrics.beats_baseline["rmse"] is True


def test_multiclass_metrics_against_class_share_baseline():
    # Arrange
    spec, train, predictions, _ = _scored("multiclass")

    # Act
    metrics = compute_metrics(predictions, train, spec, fx.evaluation())

    # Assert
    assert set(metrics.model) == {"accuracy", "macro_f1", "log_loss"}
    majority_share = (predictions["label"] == train["risk_grade"].mode()[0]).mean()
    assert metrics.baseline["accuracy"] == pytest.approx(majority_share)
    assert metrics.model["accuracy"] > metrics.baseline["accuracy"]
    assert metrics.model["log_loss"] < metrics.baseline["log_loss"]


# --- decision threshold (binary) -------------------------------------------------------------

# Two positives among ten negatives, where the rules disagree: F1 peaks at 0.9 (1 of 2 positives,
# no false positive: F1 2/3), Youden's J (TPR - FPR) at 0.3 (2 of 2 positives, 3 of 10
# negatives: J 0.7; F1 there is only 4/7).
RULE_LABELS = np.array([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1])
RULE_SCORES = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.3, 0.5, 0.6, 0.7, 0.9])


def test_best_f1_rule_picks_the_cut_with_the_highest_f1():
    # Act
    threshold = choose_threshold("best_f1", RULE_LABELS, RULE_SCORES)

    # Assert
    assert threshold == 0.9
    labels, scores = RULE_LABELS, RULE_SCORES
    f1_at = {cut: skm.f1_score(labels, scores >= cut) for cut in scores}
    assert max(f1_at, key=f1_at.get) == threshold


def test_youden_rule_picks_the_cut_with_the_highest_tpr_minus_fpr():
    # Act
    threshold = choose_threshold("youden", RULE_LABELS, RULE_SCORES)

    # Assert
    assert threshold == 0.3
    fpr, tpr, cuts = skm.roc_curve(RULE_LABELS, RULE_SCORES)
    assert cuts[np.argmax(tpr - fpr)] == threshold


def _youden(labels: np.ndarray, scores: np.ndarray, cut: float) -> float:
    predicted = scores >= cut
    return predicted[labels == 1].mean() - predicted[labels == 0].mean()


def _f1(labels: np.ndarray, scores: np.ndarray, cut: float) -> float:
    return skm.f1_score(labels, (scores >= cut).astype(int))


@pytest.mark.parametrize(
    ("rule", "measure", "labels", "scores"),
    [
        # F1 2/3 at both 0.3 (4 of 4 positives, 4 false) and 0.8 (2 of 4, none false)
        (
            "best_f1",
            _f1,
            [0, 0, 1, 1, 0, 0, 0, 0, 1, 1],
            [0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        ),
        # J 2/3 at both 0.3 (3 of 3 positives, 1 of 3 negatives) and 0.8 (2 of 3, none)
        ("youden", _youden, [0, 0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.8, 0.9]),
    ],
)
def test_a_tie_between_cuts_keeps_the_lowest(
    rule: str, measure, labels: list[int], scores: list[float]
):
    # Arrange
    y, score = np.array(labels), np.array(scores)

    # Act
    threshold = choose_threshold(rule, y, score)

    # Assert
    assert measure(y, score, 0.3) == pytest.approx(measure(y, score, 0.8))
    assert threshold == 0.3


def test_a_declared_threshold_is_used_as_is():
    # Arrange: with or without the thresholds training chose
    settings = fx.evaluation(threshold=0.35)
    _, training_metrics, _ = fx.trained_model("binary")

    # Act
    without = decision_threshold(settings, None)
    beside = decision_threshold(settings, training_metrics)

    # Assert
    assert training_metrics.thresholds
    assert without == beside == (0.35, None)


def test_auto_threshold_without_a_chosen_one_names_the_setting():
    # Arrange: no training metrics, and training metrics without the rule's threshold
    settings = fx.evaluation(threshold="auto")
    _, trained, _ = fx.trained_model("binary")
    other_rule_only = trained.model_copy(update={"thresholds": {"youden": 0.3}})

    # Act / Assert
    for training_metrics in (None, other_rule_only):
        with pytest.raises(ConfigError) as excinfo:
            decision_threshold(settings, training_metrics)
        message = str(excinfo.value)
        assert "evaluation.threshold is auto in conf/base/parameters_evaluation.yml" in message
        assert "no 'best_f1' threshold" in message


def _rare_positives(frame: pd.DataFrame, share: float, seed: int = 0) -> pd.DataFrame:
    """The rows of a binary table with positives thinned to `share` of the rows."""
    negatives = frame[frame["defaulted"] == 0]
    n_positives = round(share * len(negatives) / (1 - share))
    positives = frame[frame["defaulted"] == 1].sample(n=n_positives, random_state=seed)
    return pd.concat([negatives, positives]).sort_index()


@pytest.fixture(scope="module")
def rare_positives():
    """Spec, training rows, test rows and a model of a binary table with 6% positives."""
    spec, train, test = fx.feature_tables("binary")
    train, test = _rare_positives(train, 0.06), _rare_positives(test, 0.06)
    model, training_metrics, _ = train_model(
        train, spec, fx.fast_training(), {"enabled": False, "best_params": {}}
    )
    return spec, train, test, model, training_metrics


def _evaluate(rare_positives, settings: EvaluationParams) -> EvaluationMetrics:
    spec, train, test, model, training_metrics = rare_positives
    predictions = predict_rows(model, test, spec, settings, training_metrics)
    return compute_metrics(predictions, train, spec, settings, training_metrics)


def test_auto_threshold_finds_the_rare_class_where_one_half_finds_none(rare_positives):
    # Arrange
    _, train, test, _, training_metrics = rare_positives
    fixed, auto = fx.evaluation(threshold=0.5), fx.evaluation(threshold="auto")

    # Act
    at_half = _evaluate(rare_positives, fixed)
    at_auto = _evaluate(rare_positives, auto)

    # Assert
    assert train["defaulted"].mean() == pytest.approx(0.06, abs=0.002)
    assert test["defaulted"].mean() == pytest.approx(0.06, abs=0.005)
    assert {at_half.model[k] for k in ("precision", "recall", "f1")} == {0.0}
    assert at_half.threshold_rule is None
    assert at_auto.threshold == training_metrics.thresholds["best_f1"] < 0.5
    assert at_auto.threshold_rule == "best_f1"
    assert at_auto.model["precision"] > 0
    assert at_auto.model["recall"] > 0
    assert at_auto.model["f1"] > 0
    assert at_auto.model["roc_auc"] == at_half.model["roc_auc"]


def test_auto_threshold_is_chosen_on_the_validation_rows_not_the_test_rows(rare_positives):
    # Arrange: the validation rows the training carved out of the training rows
    spec, train, _, model, training_metrics = rare_positives
    resolved = resolve_row_scaled(train, spec, fx.fast_training())
    _, valid = early_stopping_split(train, spec, resolved)
    valid_scores = predict_rows(model, valid, spec, fx.evaluation())["score"].to_numpy()

    # Act
    chosen = {
        rule: choose_threshold(rule, valid["defaulted"].to_numpy(), valid_scores)
        for rule in ("best_f1", "youden")
    }

    # Assert: training reads the scores LightGBM kept while it trained, which can differ from a
    # fresh prediction in the last bit, so the cut is the same score to rounding, not bitwise
    assert training_metrics.thresholds == pytest.approx(chosen, rel=1e-12, abs=0)


def test_youden_rule_uses_its_own_threshold_in_predictions_and_metrics(rare_positives):
    # Arrange
    spec, _, test, model, training_metrics = rare_positives
    settings = fx.evaluation(threshold="auto", threshold_rule="youden")
    youden = training_metrics.thresholds["youden"]

    # Act
    predictions = predict_rows(model, test, spec, settings, training_metrics)
    metrics = _evaluate(rare_positives, settings)

    # Assert
    assert youden != training_metrics.thresholds["best_f1"]
    expected = (predictions["score"] >= youden).astype(float)
    np.testing.assert_array_equal(predictions["prediction"], expected)
    assert (metrics.threshold, metrics.threshold_rule) == (youden, "youden")
    assert metrics.model["recall"] > 0


def test_auto_threshold_does_not_apply_to_regression():
    # Arrange
    predictions = _regression_predictions([1.0, 2.0, 3.0], [1.0, 2.0, 3.5])
    train = pd.DataFrame({"interest_rate": [2.0, 3.0]})

    _, training_metrics, _ = fx.trained_model("regression")

    # Act
    metrics = compute_metrics(
        predictions, train, REGRESSION_SPEC, fx.evaluation(threshold="auto"), training_metrics
    )

    # Assert
    assert (metrics.threshold, metrics.threshold_rule) == (None, None)


# --- quality gate -----------------------------------------------------------------------------


def test_quality_gate_passes_when_bounds_hold(binary, evaluation_params):
    # Arrange
    spec, train, predictions, _ = binary
    metrics = compute_metrics(predictions, train, spec, fx.evaluation())
    minimum = metrics.model["roc_auc"] - 0.01
    evaluation_params["quality_gate"]["binary"] = {"roc_auc": {"min": minimum}}
    settings = EvaluationParams.parse(evaluation_params)

    # Act
    result = check_quality_gate(metrics, settings)

    # Assert
    assert result.passed is True
    assert result.task == "binary"
    assert result.rules == {"roc_auc": {"min": minimum, "max": None}}


def test_quality_gate_failure_names_metric_value_and_threshold(binary, evaluation_params):
    # Arrange: judged on the estimate alone
    spec, train, predictions, _ = binary
    evaluation_params["gate_interval"]["max_rows"] = 0
    metrics = compute_metrics(predictions, train, spec, EvaluationParams.parse(evaluation_params))
    achieved = metrics.model["roc_auc"]
    minimum = round(achieved + 0.05, 2)
    evaluation_params["quality_gate"]["binary"] = {"roc_auc": {"min": minimum}}
    settings = EvaluationParams.parse(evaluation_params)

    # Act / Assert
    with pytest.raises(QualityGateFailed) as excinfo:
        check_quality_gate(metrics, settings)
    message = str(excinfo.value)
    assert metrics.intervals is None
    assert f"roc_auc = {achieved:.4f} is below the minimum {minimum}" in message
    assert "(conf/base/parameters_evaluation.yml, evaluation.quality_gate.binary)" in message


def _gated(
    binary, evaluation_params, minimum_above_estimate: str
) -> tuple[EvaluationMetrics, EvaluationParams]:
    """Held-out metrics with their interval, and a gate whose minimum sits above the estimate:
    inside its interval (`inside`) or above all of it (`beyond`)."""
    spec, train, predictions, _ = binary
    evaluation_params["quality_gate"]["binary"] = {"roc_auc": {"min": 0.99}}
    metrics = compute_metrics(predictions, train, spec, EvaluationParams.parse(evaluation_params))
    high = metrics.intervals["metrics"]["roc_auc"][1]
    achieved = metrics.model["roc_auc"]
    minimum = (achieved + high) / 2 if minimum_above_estimate == "inside" else high + 0.005
    evaluation_params["quality_gate"]["binary"] = {"roc_auc": {"min": round(minimum, 4)}}
    return metrics, EvaluationParams.parse(evaluation_params)


def test_only_metrics_missing_a_bound_get_an_interval(binary, evaluation_params):
    # Arrange: roc_auc's minimum above its estimate, pr_auc's met
    spec, train, predictions, _ = binary
    evaluation_params["quality_gate"]["binary"] = {
        "roc_auc": {"min": 0.99},
        "pr_auc": {"min": 0.01},
    }
    settings = EvaluationParams.parse(evaluation_params)

    # Act
    metrics = compute_metrics(predictions, train, spec, settings)

    # Assert
    intervals = metrics.intervals
    assert len(predictions) <= settings.gate_interval.max_rows
    assert intervals["confidence"] == 0.95 and intervals["resamples"] == 1000
    assert list(intervals["metrics"]) == ["roc_auc"]
    low, high = intervals["metrics"]["roc_auc"]
    assert low < metrics.model["roc_auc"] < high


@pytest.mark.parametrize("case", ["bounds met", "more rows than max_rows"])
def test_held_out_metrics_have_no_interval_when_none_is_needed(
    binary, evaluation_params, case: str
):
    # Arrange
    spec, train, predictions, _ = binary
    minimum = 0.01 if case == "bounds met" else 0.99
    evaluation_params["quality_gate"]["binary"] = {"roc_auc": {"min": minimum}}
    if case == "more rows than max_rows":
        evaluation_params["gate_interval"]["max_rows"] = len(predictions) - 1

    # Act
    metrics = compute_metrics(predictions, train, spec, EvaluationParams.parse(evaluation_params))

    # Assert
    assert metrics.intervals is None


def test_a_miss_within_the_interval_passes_as_inconclusive_with_a_warning(
    binary, evaluation_params, caplog
):
    # Arrange
    metrics, settings = _gated(binary, evaluation_params, "inside")
    minimum = settings.quality_gate["binary"]["roc_auc"].min

    # Act
    with caplog.at_level("WARNING"):
        result = check_quality_gate(metrics, settings)

    # Assert
    assert result.passed is True
    assert result.judged_on == "interval"
    assert result.checks["roc_auc"].verdict == "inconclusive"
    assert result.n_test_rows == metrics.n_test_rows
    [reason] = result.inconclusive
    assert f"is below the minimum {minimum}, but its interval [" in reason
    assert "Quality gate passed as inconclusive" in caplog.text
    assert f"on {metrics.n_test_rows} held-out rows" in caplog.text
    assert "holdout.test_size in conf/base/parameters_features.yml" in caplog.text


def test_a_miss_of_the_whole_interval_fails_naming_the_interval(binary, evaluation_params):
    # Arrange
    metrics, settings = _gated(binary, evaluation_params, "beyond")

    # Act / Assert
    with pytest.raises(QualityGateFailed) as excinfo:
        check_quality_gate(metrics, settings)
    message = str(excinfo.value)
    assert ", and so is its whole interval [" in message
    assert f"(95% bootstrap intervals on {metrics.n_test_rows} held-out rows)" in message


def test_quality_gate_maximum_is_enforced(binary, evaluation_params):
    # Arrange
    spec, train, predictions, _ = binary
    metrics = compute_metrics(predictions, train, spec, fx.evaluation())
    evaluation_params["quality_gate"]["binary"] = {"log_loss": {"max": 0.01}}
    settings = EvaluationParams.parse(evaluation_params)

    # Act / Assert
    with pytest.raises(QualityGateFailed, match=r"log_loss = [0-9.]+ is above the maximum 0\.01"):
        check_quality_gate(metrics, settings)


def test_quality_gate_metric_of_another_task_is_refused_when_parsed(evaluation_params):
    # Arrange
    evaluation_params["quality_gate"]["binary"] = {"r2": {"min": 0.1}}

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        EvaluationParams.parse(evaluation_params)
    message = str(excinfo.value)
    assert "conf/base/parameters_evaluation.yml" in message
    assert "'evaluation.quality_gate': 'binary.r2' is not a binary metric" in message
    assert "known: ['roc_auc', 'pr_auc', 'log_loss'" in message


def _metrics_without_lift(**fields: Any) -> EvaluationMetrics:
    model = {"roc_auc": 0.5, "log_loss": 0.4}
    return fx.evaluation_metrics(
        task="binary",
        model=model,
        baseline=dict(model),
        beats_baseline={"roc_auc": False, "log_loss": False},
        **fields,
    )


def test_quality_gate_requires_beating_the_baseline():
    # Arrange
    settings = fx.evaluation(quality_gate={})

    # Act / Assert
    with pytest.raises(QualityGateFailed, match=r"roc_auc = 0\.5000 does not beat the trivial"):
        check_quality_gate(_metrics_without_lift(), settings)


def test_the_baseline_must_be_beaten_by_the_estimate_even_with_a_wide_interval():
    # Arrange: an interval reaching far above the baseline does not excuse the estimate
    settings = fx.evaluation(quality_gate={})
    metrics = _metrics_without_lift(
        intervals={"confidence": 0.95, "resamples": 1000, "metrics": {"roc_auc": (0.3, 0.7)}},
        n_test_rows=20,
    )

    # Act / Assert
    with pytest.raises(QualityGateFailed, match=r"roc_auc = 0\.5000 does not beat the trivial"):
        check_quality_gate(metrics, settings)


def test_quality_gate_baseline_check_can_be_disabled():
    # Arrange
    settings = fx.evaluation(quality_gate={}, must_beat_baseline=False)

    # Act
    result = check_quality_gate(_metrics_without_lift(), settings)

    # Assert
    assert result.passed is True


def test_quality_gate_does_not_change_the_metrics(binary):
    # Arrange
    spec, train, predictions, _ = binary
    metrics = compute_metrics(predictions, train, spec, fx.evaluation())
    before = copy.deepcopy(metrics)
    settings = fx.evaluation(quality_gate={"binary": {"roc_auc": {"min": 0.0}}})

    # Act
    check_quality_gate(metrics, settings)

    # Assert
    assert metrics == before


# --- plots ------------------------------------------------------------------------------------


def test_binary_roc_curve_has_model_and_chance_traces(binary):
    # Arrange
    spec, _, predictions, _ = binary

    # Act
    figure = plot_roc_curve(predictions, spec)

    # Assert
    assert isinstance(figure, go.Figure)
    assert [trace.name for trace in figure.data][-1] == "chance"
    curve = figure.data[0]
    assert curve.name.startswith("1 (AUC ")
    assert curve.x[0] == 0 and curve.x[-1] == 1
    assert curve.y[0] == 0 and curve.y[-1] == 1


def test_binary_pr_curve_has_a_curve(binary):
    # Arrange
    spec, _, predictions, _ = binary

    # Act
    figure = plot_pr_curve(predictions, spec)

    # Assert
    assert isinstance(figure, go.Figure)
    assert len(figure.data) == 1
    assert len(figure.data[0].x) > 2
    assert ((np.asarray(figure.data[0].y) >= 0) & (np.asarray(figure.data[0].y) <= 1)).all()


def test_binary_confusion_matrix_counts_every_row(binary):
    # Arrange
    spec, _, predictions, _ = binary

    # Act
    figure = plot_confusion_matrix(predictions, spec)

    # Assert
    heatmap = figure.data[0]
    assert isinstance(heatmap, go.Heatmap)
    z = np.asarray(heatmap.z)
    assert z.shape == (2, 2)
    assert z.sum() == len(predictions)
    assert z[1].sum() == (predictions["label"] == 1).sum()
    assert list(heatmap.x) == ["0", "1"]


def test_binary_calibration_plot_has_points_in_unit_square(binary):
    # Arrange
    spec, _, predictions, _ = binary
    settings = fx.evaluation(calibration_bins=5)

    # Act
    figure = plot_calibration(predictions, spec, settings)

    # Assert
    points = figure.data[0]
    assert 1 <= len(points.x) <= 5
    assert ((np.asarray(points.x) >= 0) & (np.asarray(points.x) <= 1)).all()
    assert ((np.asarray(points.y) >= 0) & (np.asarray(points.y) <= 1)).all()
    assert figure.data[-1].name == "perfect"


def test_calibration_points_are_bin_means():
    # Arrange: two bins; scores 0.1/0.2 in the low bin, 0.8/0.9 in the high one
    spec = _spec("binary", ["0", "1"], "defaulted")
    predictions = pd.DataFrame({"label": [0.0, 1.0, 1.0, 1.0], "score": [0.1, 0.2, 0.8, 0.9]})
    settings = fx.evaluation(calibration_bins=2)

    # Act
    points = plot_calibration(predictions, spec, settings).data[0]

    # Assert
    np.testing.assert_allclose(points.x, [0.15, 0.85])
    np.testing.assert_allclose(points.y, [0.5, 1.0])


def test_multiclass_roc_has_one_curve_per_class():
    # Arrange
    spec, _, predictions, _ = _scored("multiclass")

    # Act
    figure = plot_roc_curve(predictions, spec)

    # Assert
    names = [trace.name.split(" ")[0] for trace in figure.data]
    assert names == [*spec.classes, "chance"]


@pytest.mark.parametrize(
    "plot",
    [
        plot_roc_curve,
        plot_pr_curve,
        plot_confusion_matrix,
        lambda predictions, spec: plot_calibration(predictions, spec, fx.evaluation()),
    ],
)
def test_classification_plots_refuse_a_regression(plot):
    # Arrange
    predictions = _regression_predictions([1.0, 2.0, 3.0], [1.5, 2.0, 2.5])

    # Act / Assert
    with pytest.raises(ValueError, match="does not apply to a regression task"):
        plot(predictions, REGRESSION_SPEC)


def test_regression_plots_have_data():
    # Arrange
    predictions = _regression_predictions([1.0, 2.0, 3.0, 4.0], [1.0, 2.5, 3.0, 3.0])

    # Act
    scatter = plot_predicted_vs_actual(predictions, REGRESSION_SPEC)
    histogram = plot_residuals(predictions, REGRESSION_SPEC)

    # Assert
    points = sorted(zip(scatter.data[0].x, scatter.data[0].y, strict=True))
    assert points == [(1.0, 1.0), (2.0, 2.5), (3.0, 3.0), (4.0, 3.0)]
    assert scatter.data[1].name == "ideal"
    assert list(scatter.data[1].x) == [1.0, 4.0]
    assert sorted(histogram.data[0].x) == [-0.5, 0.0, 0.0, 1.0]


@pytest.mark.parametrize("plot", [plot_predicted_vs_actual, plot_residuals])
def test_regression_plots_refuse_a_classification(binary, plot):
    # Arrange
    spec, _, predictions, _ = binary

    # Act / Assert
    with pytest.raises(ValueError, match="does not apply to a binary task"):
        plot(predictions, spec)


def test_a_binary_task_draws_its_own_panels_and_no_regression_panel(binary):
    # Arrange
    spec, _, predictions, importance = binary

    # Act
    figures = draw_plots(predictions, importance, spec, fx.evaluation())

    # Assert
    assert list(figures) == [
        "roc_curve",
        "pr_curve",
        "confusion_matrix",
        "calibration",
        "feature_importance",
    ]
    assert all(isinstance(f, go.Figure) and len(f.data) > 0 for f in figures.values())


def test_a_multiclass_task_draws_the_classification_panels():
    # Arrange
    spec, _, predictions, importance = _scored("multiclass")

    # Act
    figures = draw_plots(predictions, importance, spec, fx.evaluation())

    # Assert
    assert set(figures) == {*CLASSIFICATION_PLOTS, "feature_importance"}
    assert not set(figures) & set(REGRESSION_PLOTS)


def test_a_regression_task_draws_only_its_own_panels(binary):
    # Arrange
    _, _, _, importance = binary
    predictions = _regression_predictions([1.0, 2.0, 3.0, 4.0], [1.0, 2.5, 3.0, 3.0])

    # Act
    figures = draw_plots(predictions, importance, REGRESSION_SPEC, fx.evaluation())

    # Assert
    assert list(figures) == ["predicted_vs_actual", "residuals", "feature_importance"]
    assert all(len(figure.data) > 0 for figure in figures.values())


def test_feature_importance_plot_shows_top_features_best_on_top(binary):
    # Arrange
    _, _, _, importance = binary
    settings = fx.evaluation(top_features=5)

    # Act
    figure = plot_feature_importance(importance, settings)

    # Assert
    bars = figure.data[0]
    assert len(bars.y) == 5
    assert bars.y[-1] == importance["feature"].iloc[0]
    assert list(bars.y) == importance["feature"].head(5).tolist()[::-1]


# --- curve tables for dvc plots ---------------------------------------------------------------

# Four held-out rows with one mis-ranked pair: sklearn's curves of it are known exactly.
TINY_LABELS = [0.0, 0.0, 1.0, 1.0]
TINY_SCORES = [0.1, 0.4, 0.35, 0.8]
BINARY_SPEC = _spec("binary", ["good", "bad"], "defaulted")
MULTICLASS_SPEC = _spec("multiclass", ["A", "B", "C"], "risk_grade")


def _tiny_binary() -> pd.DataFrame:
    return pd.DataFrame({"label": TINY_LABELS, "score": TINY_SCORES})


def _multiclass_predictions(n: int, seed: int = 0) -> pd.DataFrame:
    """Random labels of three classes with noisy class probabilities that favour the label."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    raw = rng.random((n, 3)) + np.eye(3)[labels]
    proba = raw / raw.sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"label": labels.astype(float)})
    for index, name in enumerate(MULTICLASS_SPEC.classes):
        frame[f"score_{name}"] = proba[:, index]
    return frame


def _large_binary(n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    scores = np.clip(0.3 * labels + rng.random(n) * 0.7, 0, 1)
    return pd.DataFrame({"label": labels.astype(float), "score": scores})


def test_thin_returns_a_short_frame_unchanged():
    # Arrange
    frame = pd.DataFrame({"x": np.arange(5.0), "y": np.arange(5.0) ** 2}, index=list("abcde"))

    # Act
    thinned = _thin(frame, max_points=5)

    # Assert
    pd.testing.assert_frame_equal(thinned, frame)


def test_thin_keeps_first_last_and_evenly_spaced_rows():
    # Arrange
    frame = pd.DataFrame({"position": np.arange(1000)})

    # Act
    thinned = _thin(frame, max_points=200)

    # Assert
    kept = thinned["position"].to_numpy()
    assert len(kept) == 200
    assert kept[0] == 0
    assert kept[-1] == 999
    gaps = np.diff(kept)
    assert (gaps > 0).all()
    assert gaps.max() - gaps.min() <= 1
    assert thinned.index.tolist() == kept.tolist()


@pytest.mark.parametrize(("n_rows", "max_points"), [(10, 7), (201, 200), (57, 3)])
def test_thin_never_keeps_more_than_max_points(n_rows: int, max_points: int):
    # Arrange
    frame = pd.DataFrame({"position": np.arange(n_rows)})

    # Act
    thinned = _thin(frame, max_points)

    # Assert
    kept = thinned["position"].tolist()
    assert len(kept) <= max_points
    assert kept[0] == 0
    assert kept[-1] == n_rows - 1
    assert kept == sorted(set(kept))


def test_binary_roc_points_are_sklearns_curve_named_by_the_positive_class():
    # Arrange
    predictions = _tiny_binary()

    # Act
    points = roc_points(predictions, BINARY_SPEC)

    # Assert: sklearn's roc_curve of the four rows, positive class named from the spec
    assert list(points.columns) == ["class", "fpr", "tpr"]
    assert points["class"].tolist() == ["bad"] * 5
    assert points["fpr"].tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert points["tpr"].tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]


def test_binary_pr_points_are_sklearns_curve_named_by_the_positive_class():
    # Arrange
    predictions = _tiny_binary()

    # Act
    points = pr_points(predictions, BINARY_SPEC)

    # Assert: sklearn's precision_recall_curve of the four rows, in (recall, precision) columns
    assert list(points.columns) == ["class", "recall", "precision"]
    assert points["class"].tolist() == ["bad"] * 5
    pairs = sorted(zip(points["recall"], points["precision"], strict=True))
    assert pairs == [(0.0, 1.0), (0.5, 0.5), (0.5, 1.0), (1.0, 0.5), (1.0, 0.666667)]


@pytest.mark.parametrize(
    ("table", "curve", "columns"),
    [
        (roc_points, lambda y, s: skm.roc_curve(y, s)[:2], ("fpr", "tpr")),
        (pr_points, lambda y, s: skm.precision_recall_curve(y, s)[1::-1], ("recall", "precision")),
    ],
)
def test_multiclass_curve_points_have_one_curve_per_class(table, curve, columns):
    # Arrange
    predictions = _multiclass_predictions(60)
    labels = predictions["label"].to_numpy()

    # Act
    points = table(predictions, MULTICLASS_SPEC)

    # Assert
    assert list(points.columns) == ["class", *columns]
    assert list(dict.fromkeys(points["class"])) == ["A", "B", "C"]
    for index, name in enumerate(MULTICLASS_SPEC.classes):
        x, y = curve(labels == index, predictions[f"score_{name}"].to_numpy())
        mine = points[points["class"] == name]
        np.testing.assert_allclose(mine[columns[0]], x, atol=1e-6)
        np.testing.assert_allclose(mine[columns[1]], y, atol=1e-6)


@pytest.mark.parametrize(
    ("table", "columns"),
    [(roc_points, ["class", "fpr", "tpr"]), (pr_points, ["class", "recall", "precision"])],
)
def test_curve_points_of_a_regression_are_empty(table, columns):
    # Arrange
    predictions = _regression_predictions([1.0, 2.0, 3.0], [1.5, 2.0, 2.5])

    # Act
    points = table(predictions, REGRESSION_SPEC)

    # Assert
    assert points.empty
    assert list(points.columns) == columns


def test_binary_curve_points_are_capped_on_large_inputs():
    # Arrange
    predictions = _large_binary()
    full_roc = skm.roc_curve(predictions["label"], predictions["score"])[0]

    # Act
    roc = roc_points(predictions, BINARY_SPEC)
    pr = pr_points(predictions, BINARY_SPEC)

    # Assert
    assert len(full_roc) > CURVE_POINTS
    assert 0 < len(roc) <= CURVE_POINTS
    assert 0 < len(pr) <= CURVE_POINTS
    assert roc[["fpr", "tpr"]].iloc[0].tolist() == [0.0, 0.0]
    assert roc[["fpr", "tpr"]].iloc[-1].tolist() == [1.0, 1.0]
    assert roc["fpr"].is_monotonic_increasing
    assert roc["tpr"].is_monotonic_increasing


def test_multiclass_curve_points_are_capped_per_class():
    # Arrange
    predictions = _multiclass_predictions(20_000)

    # Act
    roc = roc_points(predictions, MULTICLASS_SPEC)
    pr = pr_points(predictions, MULTICLASS_SPEC)

    # Assert
    for points in (roc, pr):
        counts = points["class"].value_counts()
        assert sorted(counts.index) == ["A", "B", "C"]
        assert (counts <= CURVE_POINTS).all()
        assert (counts > CURVE_POINTS // 2).all()

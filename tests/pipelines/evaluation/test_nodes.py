"""Tests of the evaluation nodes: predictions, metrics against the baseline, gate and plots."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from cirrus.pipelines.evaluation.nodes import (
    QualityGateFailed,
    check_quality_gate,
    compute_metrics,
    plot_calibration,
    plot_confusion_matrix,
    plot_feature_importance,
    plot_pr_curve,
    plot_predicted_vs_actual,
    plot_residuals,
    plot_roc_curve,
    predict_rows,
)
from tests import unit_fixtures as fx

evaluation_params = fx.evaluation_params

REGRESSION_SPEC = {
    "task": "regression",
    "classes": None,
    "id_column": "application_id",
    "event_time_column": "application_time",
    "target": "interest_rate",
}


def _scored(task: str) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Spec, training features, test predictions and importance of a trained model."""
    spec, train, test = fx.feature_tables(task)
    model, _, importance = fx.trained_model(task)
    predictions = predict_rows(model, test, spec, fx.load_parameters("evaluation")["evaluation"])
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


def _annotations(figure: go.Figure) -> list[str]:
    return [annotation.text for annotation in figure.layout.annotations]


# --- predictions and metrics ------------------------------------------------------------------


def test_predict_rows_scores_every_held_out_row(evaluation_params):
    # Arrange
    spec, _, test = fx.feature_tables("binary")
    model, _, _ = fx.trained_model("binary")
    evaluation_params["threshold"] = 0.3

    # Act
    predictions = predict_rows(model, test, spec, evaluation_params)

    # Assert
    assert len(predictions) == len(test)
    assert predictions["application_id"].tolist() == test["application_id"].tolist()
    np.testing.assert_array_equal(predictions["label"], test["defaulted"])
    assert predictions["score"].between(0, 1).all()
    expected = (predictions["score"] >= 0.3).astype(float)
    np.testing.assert_array_equal(predictions["prediction"], expected)
    assert 0 < predictions["prediction"].sum() < len(test)


def test_binary_model_beats_the_baseline(binary, evaluation_params):
    # Arrange
    spec, train, predictions, _ = binary

    # Act
    metrics = compute_metrics(predictions, train, spec, evaluation_params)

    # Assert
    assert metrics["task"] == "binary"
    assert metrics["n_test_rows"] == len(predictions)
    assert metrics["threshold"] == evaluation_params["threshold"]
    assert metrics["baseline"]["roc_auc"] == pytest.approx(0.5)
    assert metrics["model"]["roc_auc"] > 0.5
    assert metrics["beats_baseline"]["roc_auc"] is True
    assert metrics["model"]["log_loss"] < metrics["baseline"]["log_loss"]
    assert set(metrics["model"]) == {
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "precision",
        "recall",
        "f1",
    }


def test_perfect_binary_scores_give_perfect_ranking_metrics(evaluation_params):
    # Arrange
    spec, train, _ = fx.feature_tables("binary")
    predictions = pd.DataFrame(
        {"label": [0.0, 0.0, 1.0, 1.0], "score": [0.1, 0.2, 0.8, 0.9], "prediction": 0.0}
    )

    # Act
    metrics = compute_metrics(predictions, train, spec, evaluation_params)

    # Assert
    assert metrics["model"]["roc_auc"] == 1.0
    assert metrics["model"]["pr_auc"] == 1.0
    assert metrics["model"]["precision"] == 1.0
    assert metrics["model"]["recall"] == 1.0


def test_regression_metrics_are_computed(evaluation_params):
    # Arrange: errors 0, 0, 0, 1 around a mean of 2.5
    predictions = _regression_predictions([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 5.0])
    train = pd.DataFrame({"interest_rate": [2.0, 3.0]})

    # Act
    metrics = compute_metrics(predictions, train, REGRESSION_SPEC, evaluation_params)

    # Assert
    assert metrics["threshold"] is None
    assert metrics["model"]["rmse"] == pytest.approx(0.5)
    assert metrics["model"]["mae"] == pytest.approx(0.25)
    assert metrics["model"]["r2"] == pytest.approx(0.8)
    assert metrics["baseline"]["r2"] == pytest.approx(0.0)
    assert metrics["beats_baseline"] == {"rmse": True, "mae": True, "r2": True}


def test_trained_regression_model_metrics(evaluation_params):
    # Arrange
    spec, train, predictions, _ = _scored("regression")

    # Act
    metrics = compute_metrics(predictions, train, spec, evaluation_params)

    # Assert
    assert set(metrics["model"]) == {"rmse", "mae", "r2"}
    assert metrics["model"]["mae"] <= metrics["model"]["rmse"]
    assert metrics["model"]["r2"] > 0
    assert metrics["beats_baseline"]["rmse"] is True


def test_multiclass_metrics_against_class_share_baseline(evaluation_params):
    # Arrange
    spec, train, predictions, _ = _scored("multiclass")

    # Act
    metrics = compute_metrics(predictions, train, spec, evaluation_params)

    # Assert
    assert set(metrics["model"]) == {"accuracy", "macro_f1", "log_loss"}
    majority_share = (predictions["label"] == train["risk_grade"].mode()[0]).mean()
    assert metrics["baseline"]["accuracy"] == pytest.approx(majority_share)
    assert metrics["model"]["accuracy"] > metrics["baseline"]["accuracy"]
    assert metrics["model"]["log_loss"] < metrics["baseline"]["log_loss"]


# --- quality gate -----------------------------------------------------------------------------


def test_quality_gate_passes_when_bounds_hold(binary, evaluation_params):
    # Arrange
    spec, train, predictions, _ = binary
    metrics = compute_metrics(predictions, train, spec, evaluation_params)
    evaluation_params["quality_gate"]["binary"] = {
        "roc_auc": {"min": metrics["model"]["roc_auc"] - 0.01}
    }

    # Act
    result = check_quality_gate(metrics, evaluation_params)

    # Assert
    assert result["passed"] is True
    assert result["task"] == "binary"
    assert "roc_auc" in result["rules"]


def test_quality_gate_failure_names_metric_value_and_threshold(binary, evaluation_params):
    # Arrange
    spec, train, predictions, _ = binary
    metrics = compute_metrics(predictions, train, spec, evaluation_params)
    achieved = metrics["model"]["roc_auc"]
    minimum = round(achieved + 0.05, 2)
    evaluation_params["quality_gate"]["binary"] = {"roc_auc": {"min": minimum}}

    # Act / Assert
    with pytest.raises(QualityGateFailed) as excinfo:
        check_quality_gate(metrics, evaluation_params)
    message = str(excinfo.value)
    assert f"roc_auc = {achieved:.4f} is below the minimum {minimum}" in message
    assert "conf/base/parameters_evaluation.yml" in message


def test_quality_gate_maximum_is_enforced(binary, evaluation_params):
    # Arrange
    spec, train, predictions, _ = binary
    metrics = compute_metrics(predictions, train, spec, evaluation_params)
    evaluation_params["quality_gate"]["binary"] = {"log_loss": {"max": 0.01}}

    # Act / Assert
    with pytest.raises(QualityGateFailed, match=r"log_loss = [0-9.]+ is above the maximum 0\.01"):
        check_quality_gate(metrics, evaluation_params)


def test_quality_gate_rejects_a_metric_of_another_task(binary, evaluation_params):
    # Arrange
    spec, train, predictions, _ = binary
    metrics = compute_metrics(predictions, train, spec, evaluation_params)
    evaluation_params["quality_gate"]["binary"] = {"r2": {"min": 0.1}}

    # Act / Assert
    with pytest.raises(QualityGateFailed, match=r"quality_gate\.binary\.r2 is not a binary metric"):
        check_quality_gate(metrics, evaluation_params)


def _metrics_without_lift() -> dict[str, Any]:
    model = {"roc_auc": 0.5, "log_loss": 0.4}
    return {
        "task": "binary",
        "model": model,
        "baseline": dict(model),
        "beats_baseline": {"roc_auc": False, "log_loss": False},
    }


def test_quality_gate_requires_beating_the_baseline(evaluation_params):
    # Arrange
    evaluation_params["quality_gate"] = {}

    # Act / Assert
    with pytest.raises(QualityGateFailed, match=r"roc_auc = 0\.5000 does not beat the trivial"):
        check_quality_gate(_metrics_without_lift(), evaluation_params)


def test_quality_gate_baseline_check_can_be_disabled(evaluation_params):
    # Arrange
    evaluation_params.update(quality_gate={}, must_beat_baseline=False)

    # Act
    result = check_quality_gate(_metrics_without_lift(), evaluation_params)

    # Assert
    assert result["passed"] is True


def test_quality_gate_does_not_change_the_metrics(binary, evaluation_params):
    # Arrange
    spec, train, predictions, _ = binary
    metrics = compute_metrics(predictions, train, spec, evaluation_params)
    before = copy.deepcopy(metrics)
    evaluation_params["quality_gate"]["binary"] = {"roc_auc": {"min": 0.0}}

    # Act
    check_quality_gate(metrics, evaluation_params)

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


def test_binary_calibration_plot_has_points_in_unit_square(binary, evaluation_params):
    # Arrange
    spec, _, predictions, _ = binary

    # Act
    figure = plot_calibration(predictions, spec, evaluation_params)

    # Assert
    points = figure.data[0]
    assert 1 <= len(points.x) <= evaluation_params["calibration_bins"]
    assert ((np.asarray(points.x) >= 0) & (np.asarray(points.x) <= 1)).all()
    assert ((np.asarray(points.y) >= 0) & (np.asarray(points.y) <= 1)).all()
    assert figure.data[-1].name == "perfect"


def test_calibration_points_are_bin_means(evaluation_params):
    # Arrange: two bins; scores 0.1/0.2 in the low bin, 0.8/0.9 in the high one
    spec = {"task": "binary", "classes": ["0", "1"]}
    predictions = pd.DataFrame({"label": [0.0, 1.0, 1.0, 1.0], "score": [0.1, 0.2, 0.8, 0.9]})
    evaluation_params["calibration_bins"] = 2

    # Act
    points = plot_calibration(predictions, spec, evaluation_params).data[0]

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
    assert names == [*spec["classes"], "chance"]


@pytest.mark.parametrize("plot", [plot_roc_curve, plot_pr_curve, plot_confusion_matrix])
def test_classification_plots_do_not_apply_to_regression(plot):
    # Arrange
    predictions = _regression_predictions([1.0, 2.0, 3.0], [1.5, 2.0, 2.5])

    # Act
    figure = plot(predictions, REGRESSION_SPEC)

    # Assert
    assert len(figure.data) == 0
    assert any("Not applicable" in text for text in _annotations(figure))


def test_calibration_does_not_apply_to_regression(evaluation_params):
    # Arrange
    predictions = _regression_predictions([1.0, 2.0, 3.0], [1.5, 2.0, 2.5])

    # Act
    figure = plot_calibration(predictions, REGRESSION_SPEC, evaluation_params)

    # Assert
    assert len(figure.data) == 0
    assert any("Not applicable" in text for text in _annotations(figure))


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
def test_regression_plots_do_not_apply_to_classification(binary, plot):
    # Arrange
    spec, _, predictions, _ = binary

    # Act
    figure = plot(predictions, spec)

    # Assert
    assert len(figure.data) == 0
    assert any("regression" in text for text in _annotations(figure))


def test_feature_importance_plot_shows_top_features_best_on_top(binary, evaluation_params):
    # Arrange
    _, _, _, importance = binary
    evaluation_params["top_features"] = 5

    # Act
    figure = plot_feature_importance(importance, evaluation_params)

    # Assert
    bars = figure.data[0]
    assert len(bars.y) == 5
    assert bars.y[-1] == importance["feature"].iloc[0]
    assert list(bars.y) == importance["feature"].head(5).tolist()[::-1]

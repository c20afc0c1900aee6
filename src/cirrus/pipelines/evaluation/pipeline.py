"""Evaluation pipeline: held-out predictions, metrics, plots and the quality gate."""

from kedro.pipeline import Node, Pipeline

from cirrus.modeling import predict_rows

from .nodes import (
    check_quality_gate,
    compute_metrics,
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
from .tables import calibration_points, confusion_counts, prediction_points

# Outputs drawn from the held-out predictions and the spec alone: plotly figures and curve tables.
_FROM_PREDICTIONS = {
    "roc_curve_plot": plot_roc_curve,
    "pr_curve_plot": plot_pr_curve,
    "confusion_matrix_plot": plot_confusion_matrix,
    "predicted_vs_actual_plot": plot_predicted_vs_actual,
    "residuals_plot": plot_residuals,
    "roc_points": roc_points,
    "pr_points": pr_points,
    "confusion_counts": confusion_counts,
    "prediction_points": prediction_points,
}


def create_pipeline(**kwargs) -> Pipeline:
    """Wire prediction, metrics, one node per plot and the gate."""
    drawn = [
        Node(func, inputs=["test_predictions", "feature_spec"], outputs=name, name=f"make_{name}")
        for name, func in _FROM_PREDICTIONS.items()
    ]
    return Pipeline(
        [
            Node(
                predict_rows,
                inputs=[
                    "model",
                    "test_features",
                    "feature_spec",
                    "params:evaluation",
                    "training_metrics",
                ],
                outputs="test_predictions",
                name="predict_held_out_rows",
            ),
            Node(
                compute_metrics,
                inputs=[
                    "test_predictions",
                    "train_features",
                    "feature_spec",
                    "params:evaluation",
                    "training_metrics",
                ],
                outputs="evaluation_metrics",
                name="compute_held_out_metrics",
            ),
            Node(
                check_quality_gate,
                inputs=["evaluation_metrics", "params:evaluation"],
                outputs="quality_gate_result",
                name="check_quality_gate",
            ),
            *drawn,
            Node(
                plot_calibration,
                inputs=["test_predictions", "feature_spec", "params:evaluation"],
                outputs="calibration_plot",
                name="make_calibration_plot",
            ),
            Node(
                calibration_points,
                inputs=["test_predictions", "feature_spec", "params:evaluation"],
                outputs="calibration_points",
                name="make_calibration_points",
            ),
            Node(
                plot_feature_importance,
                inputs=["feature_importance", "params:evaluation"],
                outputs="feature_importance_plot",
                name="make_feature_importance_plot",
            ),
        ],
        tags="evaluation",
        # A Kedro-Viz stage and `kedro run --namespaces evaluation`; dataset names stay as declared.
        namespace="evaluation",
        prefix_datasets_with_namespace=False,
    )

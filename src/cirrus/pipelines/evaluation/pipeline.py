"""Evaluation pipeline: held-out predictions, metrics, plots and the quality gate."""

from kedro.pipeline import Node, Pipeline

from cirrus.modeling import predict_rows

from .nodes import (
    assemble_model_bundle,
    check_quality_gate,
    compute_metrics,
    draw_plots,
    pr_points,
    roc_points,
)
from .tables import calibration_points, confusion_counts, prediction_points

# Tables drawn from the held-out predictions and the spec alone.
_FROM_PREDICTIONS = {
    "roc_points": roc_points,
    "pr_points": pr_points,
    "confusion_counts": confusion_counts,
    "prediction_points": prediction_points,
}


def create_pipeline(**kwargs) -> Pipeline:
    """Wire prediction, metrics, the task's plots, the plot tables and the gate."""
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
            # The current batch is scored here too: its rows with an outcome
            # are reported beside the held-out metrics, never gated.
            Node(
                predict_rows,
                inputs=[
                    "model",
                    "current_features",
                    "feature_spec",
                    "params:evaluation",
                    "training_metrics",
                ],
                outputs="current_batch_predictions",
                name="predict_current_rows",
            ),
            Node(
                compute_metrics,
                inputs=[
                    "test_predictions",
                    "train_features",
                    "feature_spec",
                    "params:evaluation",
                    "training_metrics",
                    "holdout_report",
                    "current_batch_predictions",
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
            # What batch scoring and the API load, as one unit (after the gate: a run whose
            # gate fails publishes nothing).
            Node(
                assemble_model_bundle,
                inputs=[
                    "model",
                    "feature_spec",
                    "params:contract",
                    "params:evaluation",
                    "training_metrics",
                    "evaluation_metrics",
                ],
                outputs="model_bundle",
                name="assemble_model_bundle",
            ),
            # One set of figures, the task's own: a panel of another task is never drawn.
            Node(
                draw_plots,
                inputs=[
                    "test_predictions",
                    "feature_importance",
                    "feature_spec",
                    "params:evaluation",
                ],
                outputs="evaluation_plots",
                name="draw_evaluation_plots",
            ),
            *drawn,
            Node(
                calibration_points,
                inputs=["test_predictions", "feature_spec", "params:evaluation"],
                outputs="calibration_points",
                name="make_calibration_points",
            ),
        ],
        tags="evaluation",
        # A Kedro-Viz stage and `kedro run --namespaces evaluation`; dataset names stay as declared.
        namespace="evaluation",
        prefix_datasets_with_namespace=False,
    )

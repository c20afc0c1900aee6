"""Monitoring pipeline: a window of the prediction log -> current batch -> live metrics, verdict.

The drift report itself is the drift pipeline's own node, reused on the logged batch by the
pipeline registry (`cirrus.pipeline_registry`): one drift computation, two current batches.
Not part of `__default__`; `kedro cirrus monitor` runs it and exits 3 when retraining is due.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import current_batch_from_log, live_performance, summarise_monitoring

# The datasets the reused drift report reads and writes in place of the file-based ones.
DRIFT_INPUTS = {
    "current_features": "monitored_features",
    "current_predictions": "monitored_predictions",
    "unseen_categories_report": "monitored_unseen_categories",
}
DRIFT_OUTPUTS = {"drift_report": "monitoring_drift_report", "drift_summary": "monitoring_drift"}


def create_pipeline(**kwargs) -> Pipeline:
    """Wire the logged batch, its live metrics and the verdict (the drift report is added by
    the registry)."""
    return Pipeline(
        [
            Node(
                current_batch_from_log,
                inputs=[
                    "prediction_log",
                    "raw_outcomes",
                    "feature_spec",
                    "params:contract",
                    "params:monitoring",
                ],
                outputs=[
                    "monitored_features",
                    "monitored_predictions",
                    "monitored_unseen_categories",
                    "monitoring_window",
                ],
                name="current_batch_from_prediction_log",
            ),
            Node(
                live_performance,
                inputs=[
                    "monitored_predictions",
                    "feature_spec",
                    "params:evaluation",
                    "training_metrics",
                ],
                outputs="live_metrics",
                name="compute_live_metrics",
            ),
            Node(
                summarise_monitoring,
                inputs=[
                    "monitoring_drift",
                    "live_metrics",
                    "evaluation_metrics",
                    "monitoring_window",
                    "params:monitoring",
                ],
                outputs="monitoring_summary",
                name="summarise_monitoring",
            ),
        ],
        tags="monitoring",
        namespace="monitoring",
        prefix_datasets_with_namespace=False,
    )

"""Monitoring pipeline: a window of the prediction log -> current batch -> drift report, live
metrics, verdict.

The drift report is the drift pipeline's own computation (`cirrus.drift.report`), here on the
logged batch: one drift computation, two current batches. Not part of `__default__`;
`kedro cirrus monitor` runs it and exits 3 when retraining is due.
"""

from kedro.pipeline import Node, Pipeline

from cirrus.drift.report import run_drift_report

from .nodes import current_batch_from_log, live_performance, summarise_monitoring


def create_pipeline(**kwargs) -> Pipeline:
    """Wire the logged batch, its drift report against the held-out reference rows, its live
    metrics and the verdict."""
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
                run_drift_report,
                inputs=[
                    "test_features",
                    "test_predictions",
                    "monitored_features",
                    "monitored_predictions",
                    "feature_spec",
                    "params:drift",
                    "monitored_unseen_categories",
                ],
                outputs=["monitoring_drift_report", "monitoring_drift"],
                name="run_evidently_drift_report",
                tags="drift",
                # Named as the drift pipeline's node, under this one: monitoring.drift.<name>.
                namespace="drift",
            ),
            Node(
                live_performance,
                inputs=[
                    "monitored_predictions",
                    "feature_spec",
                    "model_bundle",
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

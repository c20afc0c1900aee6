"""Drift pipeline: score the current batch and compare it with the held-out reference rows."""

from kedro.pipeline import Node, Pipeline

from cirrus.drift.report import run_drift_report
from cirrus.modeling import predict_rows

from .headline import headline_metrics


def create_pipeline(**kwargs) -> Pipeline:
    """Wire current-batch scoring, the Evidently report with its summary, and the headline
    metrics (primary metric and drift verdicts) `dvc metrics show` prints."""
    return Pipeline(
        [
            Node(
                predict_rows,
                inputs=[
                    "model",
                    "current_features",
                    "feature_spec",
                    "params:evaluation",
                    "training_metrics",
                ],
                outputs="current_predictions",
                name="predict_current_batch",
            ),
            Node(
                run_drift_report,
                inputs=[
                    "test_features",
                    "test_predictions",
                    "current_features",
                    "current_predictions",
                    "feature_spec",
                    "params:drift",
                    "unseen_categories_report",
                ],
                outputs=["drift_report", "drift_summary"],
                name="run_evidently_drift_report",
            ),
            Node(
                headline_metrics,
                inputs=["evaluation_metrics", "drift_summary"],
                outputs="headline_metrics",
                name="write_headline_metrics",
            ),
        ],
        tags="drift",
        # A Kedro-Viz stage and `kedro run --namespaces drift`; dataset names stay as declared.
        namespace="drift",
        prefix_datasets_with_namespace=False,
    )

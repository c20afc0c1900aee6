"""Inference pipeline: new rows -> validated, PII-safe -> scored, and appended to the log.

Not part of `__default__`: run it with `kedro run --pipelines inference` once a model exists.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import score_new_rows, validate_inference_rows


def create_pipeline(**kwargs) -> Pipeline:
    """Wire validation and PII treatment of `raw_inference`, then scoring and logging."""
    return Pipeline(
        [
            Node(
                validate_inference_rows,
                inputs=["raw_inference", "params:contract", "pii_salt"],
                outputs="validated_inference",
                name="validate_raw_inference",
            ),
            Node(
                score_new_rows,
                inputs=[
                    "validated_inference",
                    "model",
                    "feature_spec",
                    "params:contract",
                    "model_bundle",
                ],
                outputs=["scored_predictions", "prediction_log", "inference_report"],
                name="score_new_rows",
            ),
        ],
        tags="inference",
        namespace="inference",
        prefix_datasets_with_namespace=False,
    )

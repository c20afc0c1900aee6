"""Ingestion pipeline: raw files -> validated, typed, PII-safe reference and current tables.

PII is dropped or hashed by the validation nodes, so their outputs (the first files ingestion
writes) hold no raw PII value.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    report_ingestion,
    split_reference_current,
    validate_raw_current,
    validate_raw_reference,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Wire validation and PII treatment of both raw inputs, then the reference/current split."""
    return Pipeline(
        [
            Node(
                validate_raw_reference,
                inputs=["raw_reference", "params:contract", "pii_salt"],
                outputs="validated_reference",
                name="validate_raw_reference",
            ),
            Node(
                validate_raw_current,
                inputs=["raw_current", "params:contract", "pii_salt"],
                outputs="validated_current",
                name="validate_raw_current",
            ),
            Node(
                split_reference_current,
                inputs=[
                    "validated_reference",
                    "validated_current",
                    "params:contract",
                    "params:ingestion.split",
                ],
                outputs=["reference_table", "current_table"],
                name="split_reference_current",
            ),
            Node(
                report_ingestion,
                inputs=[
                    "validated_reference",
                    "validated_current",
                    "reference_table",
                    "current_table",
                    "params:contract",
                    "params:ingestion.split",
                ],
                outputs="ingestion_report",
                name="report_ingestion_row_counts",
            ),
        ],
        tags="ingestion",
        # A Kedro-Viz stage and `kedro run --namespaces ingestion`; dataset names stay as declared.
        namespace="ingestion",
        prefix_datasets_with_namespace=False,
    )

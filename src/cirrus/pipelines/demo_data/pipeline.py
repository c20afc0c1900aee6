"""Demo-data pipeline: writes the bundled synthetic raw files the lifecycle starts from."""

from kedro.pipeline import Node, Pipeline

from cirrus.demo_data.generator import generate_demo_batches, generate_incoming_rows


def create_pipeline(**kwargs) -> Pipeline:
    """The reference and the later, drifted current batch; new unlabelled rows to score."""
    return Pipeline(
        [
            Node(
                generate_demo_batches,
                inputs="params:demo_data",
                outputs=["raw_reference", "raw_current"],
                name="generate_demo_credit_applications",
            ),
            Node(
                generate_incoming_rows,
                inputs="params:demo_data",
                outputs="raw_inference",
                name="generate_demo_rows_to_score",
            ),
        ],
        tags="demo_data",
        # A Kedro-Viz stage and `kedro run --namespaces demo_data`; dataset names stay as declared.
        namespace="demo_data",
        prefix_datasets_with_namespace=False,
    )

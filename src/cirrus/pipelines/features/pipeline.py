"""Features pipeline: hold-out split, transforms fitted on training rows, model-input tables."""

from kedro.pipeline import Node, Pipeline

from cirrus.feature_spec import build_features, report_unseen_categories

from .nodes import describe_holdout_split, fit_feature_spec


def create_pipeline(**kwargs) -> Pipeline:
    """Wire the hold-out split, the fitted spec and its application to every table."""
    return Pipeline(
        [
            Node(
                describe_holdout_split,
                inputs=["reference_table", "params:contract", "params:holdout"],
                outputs=["train_rows", "test_rows", "holdout_report"],
                name="split_holdout_rows",
            ),
            Node(
                fit_feature_spec,
                inputs=["train_rows", "params:contract", "params:features"],
                outputs="feature_spec",
                name="fit_feature_spec_on_training_rows",
            ),
            Node(
                build_features,
                inputs=["train_rows", "feature_spec"],
                outputs="train_features",
                name="build_train_features",
            ),
            Node(
                build_features,
                inputs=["test_rows", "feature_spec"],
                outputs="test_features",
                name="build_test_features",
            ),
            Node(
                build_features,
                inputs=["current_table", "feature_spec"],
                outputs="current_features",
                name="build_current_features",
            ),
            Node(
                report_unseen_categories,
                inputs=["current_table", "feature_spec"],
                outputs="unseen_categories_report",
                name="report_unseen_categories_in_current",
            ),
        ],
        tags="features",
        # A Kedro-Viz stage and `kedro run --namespaces features`; dataset names stay as declared.
        namespace="features",
        prefix_datasets_with_namespace=False,
    )

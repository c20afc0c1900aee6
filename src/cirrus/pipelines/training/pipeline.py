"""Training pipeline: optional hyperparameter search, then the LightGBM model."""

from kedro.pipeline import Node, Pipeline

from .nodes import train_model, tune_hyperparameters


def create_pipeline(**kwargs) -> Pipeline:
    """Wire the (optional) Optuna search and the final training."""
    return Pipeline(
        [
            Node(
                tune_hyperparameters,
                inputs=["train_features", "feature_spec", "params:training", "holdout_report"],
                outputs="tuning_result",
                name="tune_hyperparameters_with_optuna",
            ),
            Node(
                train_model,
                inputs=[
                    "train_features",
                    "feature_spec",
                    "params:training",
                    "tuning_result",
                    "holdout_report",
                ],
                outputs=["model", "training_metrics", "feature_importance"],
                name="train_lightgbm_model",
            ),
        ],
        tags="training",
        # A Kedro-Viz stage and `kedro run --namespaces training`; dataset names stay as declared.
        namespace="training",
        prefix_datasets_with_namespace=False,
    )

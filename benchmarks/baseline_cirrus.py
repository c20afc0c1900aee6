"""The lifecycle with the project's own node functions, called in-process without Kedro.

Each stage mirrors `src/cirrus/pipelines/<stage>/pipeline.py` node by node: same functions,
same parameter blocks, same artifacts; only Kedro's catalog, runner, hooks and config loader
are missing. Used by benchmarks/plain_baseline.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from cirrus.pipelines.drift.nodes import run_drift_report
from cirrus.pipelines.evaluation.nodes import (
    check_quality_gate,
    compute_metrics,
    plot_calibration,
    plot_confusion_matrix,
    plot_feature_importance,
    plot_pr_curve,
    plot_predicted_vs_actual,
    plot_residuals,
    plot_roc_curve,
    predict_rows,
)
from cirrus.pipelines.features.nodes import (
    build_features,
    fit_feature_spec,
    report_unseen_categories,
    split_holdout,
)
from cirrus.pipelines.ingestion.nodes import (
    split_reference_current,
    validate_raw_current,
    validate_raw_reference,
)
from cirrus.pipelines.training.nodes import train_model, tune_hyperparameters

if TYPE_CHECKING:
    from plain_baseline import Context

PLOTS = {
    "roc_curve_plot": plot_roc_curve,
    "pr_curve_plot": plot_pr_curve,
    "confusion_matrix_plot": plot_confusion_matrix,
    "predicted_vs_actual_plot": plot_predicted_vs_actual,
    "residuals_plot": plot_residuals,
}


def ingestion(ctx: Context) -> None:
    """Validate both raw CSVs, treat PII and split reference/current."""
    contract = ctx.params["contract"]
    reference = validate_raw_reference(pd.read_csv(ctx.raw["raw_reference"]), contract)
    current = validate_raw_current(pd.read_csv(ctx.raw["raw_current"]), contract)
    ctx.store.save("validated_reference", reference)
    ctx.store.save("validated_current", current)
    split = ctx.params["ingestion"]["split"]
    ref, cur = split_reference_current(reference, current, contract, split, ctx.salt)
    ctx.store.save("reference_table", ref)
    ctx.store.save("current_table", cur)


def features(ctx: Context) -> None:
    """Hold out test rows, fit the feature spec and build the three model-input tables."""
    contract, store = ctx.params["contract"], ctx.store
    reference, current = store.load("reference_table"), store.load("current_table")
    train, test = split_holdout(reference, contract, ctx.params["holdout"])
    store.save("train_rows", train)
    store.save("test_rows", test)
    spec = fit_feature_spec(train, contract, ctx.params["features"])
    store.save("feature_spec", spec)
    store.save("train_features", build_features(train, spec))
    store.save("test_features", build_features(test, spec))
    store.save("current_features", build_features(current, spec))
    store.save("unseen_categories_report", report_unseen_categories(current, spec))


def training(ctx: Context) -> None:
    """Run the (disabled by default) Optuna search and train the LightGBM model."""
    store, params = ctx.store, ctx.params["training"]
    train, spec = store.load("train_features"), store.load("feature_spec")
    tuning = tune_hyperparameters(train, spec, params)
    store.save("tuning_result", tuning)
    model, metrics, importance = train_model(train, spec, params, tuning)
    store.save("model", model)
    store.save("training_metrics", metrics)
    store.save("feature_importance", importance, fmt="csv")


def evaluation(ctx: Context) -> None:
    """Score held-out rows, compute metrics, check the gate and draw every plot."""
    store, params = ctx.store, ctx.params["evaluation"]
    spec = store.load("feature_spec")
    predictions = predict_rows(store.load("model"), store.load("test_features"), spec, params)
    store.save("test_predictions", predictions)
    metrics = compute_metrics(predictions, store.load("train_features"), spec, params)
    store.save("evaluation_metrics", metrics)
    store.save("quality_gate_result", check_quality_gate(metrics, params))
    for name, plot in PLOTS.items():
        store.save(name, plot(predictions, spec))
    store.save("calibration_plot", plot_calibration(predictions, spec, params))
    importance = store.load("feature_importance")
    store.save("feature_importance_plot", plot_feature_importance(importance, params))


def drift(ctx: Context) -> None:
    """Score the current batch and run the Evidently drift report with its summary."""
    store, spec = ctx.store, ctx.store.load("feature_spec")
    current = store.load("current_features")
    current_predictions = predict_rows(store.load("model"), current, spec, ctx.params["evaluation"])
    store.save("current_predictions", current_predictions)
    report, summary = run_drift_report(
        store.load("test_features"),
        store.load("test_predictions"),
        current,
        current_predictions,
        spec,
        ctx.params["drift"],
        store.load("unseen_categories_report"),
    )
    store.save("drift_report", report, fmt="html")
    store.save("drift_summary", summary)


STAGES = {
    "ingestion": ingestion,
    "features": features,
    "training": training,
    "evaluation": evaluation,
    "drift": drift,
}

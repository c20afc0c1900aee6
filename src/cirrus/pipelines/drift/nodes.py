"""Drift nodes: score the current batch, run Evidently's drift preset, summarise a verdict."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from cirrus.feature_spec import FeatureSpec
from cirrus.modeling import PREDICTION
from cirrus.parameters import DriftParams

TARGET_COLUMN = "target"


def _prediction_column(predictions: pd.DataFrame, spec: FeatureSpec) -> pd.Series:
    """The model output that drift is measured on: score, predicted class or value."""
    if spec.task == "binary":
        return predictions["score"]
    if spec.task == "multiclass":
        names = pd.Series([str(c) for c in spec.class_names()])
        return names.iloc[predictions[PREDICTION].astype(int)].reset_index(drop=True)
    return predictions[PREDICTION]


def _target_column(features: pd.DataFrame, spec: FeatureSpec) -> pd.Series:
    """The known outcome, as class names for classification."""
    values = features[spec.target].reset_index(drop=True)
    if spec.classes is None:
        return values
    names = {float(i): str(c) for i, c in enumerate(spec.classes)}
    return values.map(names)


def drift_frame(
    features: pd.DataFrame, predictions: pd.DataFrame, spec: FeatureSpec, with_target: bool
) -> pd.DataFrame:
    """Contract feature columns plus the prediction (and the target when labelled)."""
    frame = features[spec.drift_columns].reset_index(drop=True).copy()
    for column in spec.categories:
        frame[column] = frame[column].astype(str)
    frame[PREDICTION] = _prediction_column(predictions.reset_index(drop=True), spec).to_numpy()
    if with_target:
        frame[TARGET_COLUMN] = _target_column(features, spec).to_numpy()
    return frame


# Evidently is imported inside the functions that use it: importing it takes seconds, and every
# `kedro run` imports all registered pipelines, including runs that never compute drift.


def _data_definition(frame: pd.DataFrame, spec: FeatureSpec) -> Any:
    """Evidently column mapping derived from the feature spec."""
    from evidently import DataDefinition

    categorical = list(spec.categories)
    numeric = [c for c in spec.numeric if c in frame]
    output_columns = [c for c in (PREDICTION, TARGET_COLUMN) if c in frame]
    if spec.task == "regression" or (spec.task == "binary" and PREDICTION in frame):
        numeric.append(PREDICTION)
        output_columns.remove(PREDICTION)
    if spec.task == "regression" and TARGET_COLUMN in frame:
        numeric.append(TARGET_COLUMN)
        output_columns.remove(TARGET_COLUMN)
    categorical.extend(output_columns)
    return DataDefinition(numerical_columns=numeric, categorical_columns=categorical)


def numeric_method_for(n_reference_rows: int) -> str:
    """Evidently's own choice for a numeric column with many values, by reference size."""
    return "ks" if n_reference_rows <= 1000 else "wasserstein"


def column_methods(spec: FeatureSpec, settings: DriftParams, n_reference_rows: int) -> dict:
    """Per-column methods: declared-numeric features are tested as numeric.

    Left to itself, Evidently tests a numeric column with five values or fewer (a sparse integer)
    with chi-square or Jensen-Shannon, which flags drift as soon as the current batch holds one
    value the reference lacks. A declared `num_method` or `per_column_method` still wins.
    """
    if settings.num_method:
        return dict(settings.per_column_method)
    method = numeric_method_for(n_reference_rows)
    return {**dict.fromkeys(spec.numeric, method), **settings.per_column_method}


def _preset(settings: DriftParams, per_column_method: dict[str, str]) -> Any:
    """Evidently's drift preset configured from YAML."""
    from evidently.presets import DataDriftPreset

    return DataDriftPreset(
        drift_share=settings.drift_share,
        num_method=settings.num_method,
        cat_method=settings.cat_method,
        num_threshold=settings.num_threshold,
        cat_threshold=settings.cat_threshold,
        per_column_method=per_column_method or None,
        per_column_threshold=settings.per_column_threshold or None,
    )


# Evidently's distance methods flag drift when the score reaches the threshold; every other
# method returns a p-value and flags drift when it falls below (see each stat test's source).
DISTANCE_METHODS = frozenset(
    {
        "wasserstein",
        "jensenshannon",
        "kl_div",
        "psi",
        "hellinger",
        "ed",
        "perc_text_content_drift",
        "abs_text_content_drift",
    }
)


def _is_distance(method: str) -> bool:
    """Whether a drift method (by key or display name) is a distance rather than a p-value."""
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests

    display_names = {
        test.display_name
        for key in DISTANCE_METHODS
        for test in _registered_stat_tests.get(key, {}).values()
    }
    return method in DISTANCE_METHODS or method in display_names


def column_results(snapshot_dict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-column method, score, threshold and verdict from an Evidently snapshot."""
    results = {}
    for metric in snapshot_dict["metrics"]:
        config = metric["config"]
        if not config["type"].endswith("ValueDrift"):
            continue
        score, threshold = float(metric["value"]), float(config["threshold"])
        distance = _is_distance(config["method"])
        results[config["column"]] = {
            "method": config["method"],
            "score": score,
            "threshold": threshold,
            "drifted": score >= threshold if distance else score < threshold,
        }
    return results


def _sample(frame: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """Cap a frame's rows for speed, reproducibly."""
    if max_rows is None or len(frame) <= max_rows:
        return frame
    return frame.sample(n=max_rows, random_state=seed).reset_index(drop=True)


def run_drift_report(
    reference_features: pd.DataFrame,
    reference_predictions: pd.DataFrame,
    current_features: pd.DataFrame,
    current_predictions: pd.DataFrame,
    spec: FeatureSpec,
    settings: DriftParams,
    unseen_categories: dict[str, Any],
) -> tuple[str, dict[str, Any]]:
    """Evidently drift report (HTML) of held-out reference rows vs the current batch, summarised."""
    from evidently import Dataset, Report

    labelled = bool(current_features[spec.target].notna().any())
    reference = drift_frame(reference_features, reference_predictions, spec, labelled)
    current = drift_frame(current_features, current_predictions, spec, labelled)
    reference = _sample(reference, settings.max_rows, settings.seed)
    current = _sample(current, settings.max_rows, settings.seed)
    definition = _data_definition(reference, spec)
    preset = _preset(settings, column_methods(spec, settings, len(reference)))
    # scipy's divide-by-zero warnings on constant or empty bins say nothing the verdicts don't.
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report([preset]).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
    columns = column_results(snapshot.dict())
    summary = summarise_drift(columns, spec, settings, unseen_categories)
    summary.update(n_reference_rows=len(reference), n_current_rows=len(current))
    return snapshot.get_html_str(as_iframe=False), summary


def summarise_drift(
    columns: dict[str, dict[str, Any]],
    spec: FeatureSpec,
    settings: DriftParams,
    unseen_categories: dict[str, Any],
) -> dict[str, Any]:
    """Verdict: share of drifted features, prediction/target drift and a retrain flag."""
    features = [c for c in spec.drift_columns if c in columns]
    drifted = sorted(c for c in features if columns[c]["drifted"])
    share = len(drifted) / max(len(features), 1)
    prediction_drift = columns.get(PREDICTION, {}).get("drifted", False)
    target_drift = columns[TARGET_COLUMN]["drifted"] if TARGET_COLUMN in columns else None
    policy = settings.retrain
    reasons = []
    if policy.on_dataset_drift and share >= settings.drift_share:
        reasons.append(
            f"dataset drift: {share:.0%} of features drifted (>= {settings.drift_share:.0%})"
        )
    if share > policy.max_drifted_share:
        reasons.append(f"{share:.0%} of features drifted (> {policy.max_drifted_share:.0%})")
    if policy.on_prediction_drift and prediction_drift:
        reasons.append("prediction drift")
    if policy.on_target_drift and target_drift:
        reasons.append("target drift")
    return {
        "dataset_drift": share >= settings.drift_share,
        "drifted_feature_share": share,
        "drift_share_threshold": settings.drift_share,
        "drifted_features": drifted,
        "prediction_drift": prediction_drift,
        "target_drift": target_drift,
        "columns": columns,
        "unseen_categories": {
            column: info["unseen_rows"]
            for column, info in unseen_categories.get("columns", {}).items()
            if info["unseen_rows"]
        },
        "retrain_recommended": bool(reasons),
        "retrain_reasons": reasons,
    }

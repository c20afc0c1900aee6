"""LightGBM helpers shared by training, evaluation and drift: one place for model I/O."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from cirrus.pipelines.features.nodes import OTHER_LEVEL, UNKNOWN_LEVEL

PREDICTION = "prediction"


def objective_for(spec: dict[str, Any]) -> dict[str, Any]:
    """LightGBM objective, metric and class count for the contract's task."""
    task = spec["task"]
    if task == "binary":
        return {"objective": "binary", "metric": ["auc", "binary_logloss"]}
    if task == "multiclass":
        return {
            "objective": "multiclass",
            "metric": ["multi_logloss"],
            "num_class": len(spec["classes"]),
        }
    return {"objective": "regression", "metric": ["rmse", "l1"]}


def model_matrix(features: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
    """Feature columns in model order, categoricals with the exact levels seen in training."""
    matrix = features[spec["feature_columns"]].copy()
    for column, levels in spec["categories"].items():
        categories = [*levels, OTHER_LEVEL, UNKNOWN_LEVEL]
        matrix[column] = pd.Categorical(matrix[column].astype("string"), categories=categories)
    return matrix


def labels(features: pd.DataFrame, spec: dict[str, Any]) -> np.ndarray:
    """The encoded target as a numpy array."""
    return features[spec["target"]].to_numpy(dtype="float64")


def load_booster(model_text: str) -> lgb.Booster:
    """Rebuild a booster from LightGBM's native text format."""
    return lgb.Booster(model_str=model_text)


def predict_scores(model_text: str, features: pd.DataFrame, spec: dict[str, Any]) -> np.ndarray:
    """Raw predictions: P(positive) for binary, class probabilities for multiclass, values else."""
    booster = load_booster(model_text)
    return booster.predict(model_matrix(features, spec))


def prediction_frame(
    model_text: str, features: pd.DataFrame, spec: dict[str, Any], threshold: float = 0.5
) -> pd.DataFrame:
    """Predictions with ids, labels (when known), scores and a point prediction."""
    scores = predict_scores(model_text, features, spec)
    frame = pd.DataFrame(
        {
            spec["id_column"]: features[spec["id_column"]].to_numpy(),
            spec["event_time_column"]: features[spec["event_time_column"]].to_numpy(),
            "label": features[spec["target"]].to_numpy(dtype="float64"),
        }
    )
    if spec["task"] == "binary":
        frame["score"] = scores
        frame[PREDICTION] = (scores >= threshold).astype("float64")
    elif spec["task"] == "multiclass":
        for index, name in enumerate(spec["classes"]):
            frame[f"score_{name}"] = scores[:, index]
        frame[PREDICTION] = scores.argmax(axis=1).astype("float64")
    else:
        frame[PREDICTION] = scores
    return frame

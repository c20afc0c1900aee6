"""LightGBM helpers shared by training, evaluation and drift: model I/O and predictions."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from cirrus.feature_spec import FeatureSpec
from cirrus.metrics import LIGHTGBM_METRICS
from cirrus.parameters import EvaluationParams

PREDICTION = "prediction"


def objective_for(spec: FeatureSpec) -> dict[str, Any]:
    """LightGBM objective, metric and class count for the spec's task."""
    objective: dict[str, Any] = {
        "objective": spec.task,
        "metric": list(LIGHTGBM_METRICS[spec.task]),
    }
    if spec.task == "multiclass":
        objective["num_class"] = len(spec.class_names())
    return objective


def model_matrix(features: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Feature columns in model order, categoricals with the exact levels seen in training."""
    matrix = features[spec.feature_columns].copy()
    for column in spec.categories:
        matrix[column] = spec.encode_categorical(column, matrix[column])
    return matrix


def labels(features: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """The encoded target as a numpy array."""
    return features[spec.target].to_numpy(dtype="float64")


def load_booster(model_text: str) -> lgb.Booster:
    """Rebuild a booster from LightGBM's native text format."""
    return lgb.Booster(model_str=model_text)


def predict_scores(model_text: str, features: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """Raw predictions: P(positive) for binary, class probabilities for multiclass, values else."""
    booster = load_booster(model_text)
    return booster.predict(model_matrix(features, spec))


def prediction_frame(
    model_text: str, features: pd.DataFrame, spec: FeatureSpec, threshold: float = 0.5
) -> pd.DataFrame:
    """Predictions with ids, labels (when known), scores and a point prediction."""
    scores = predict_scores(model_text, features, spec)
    frame = pd.DataFrame(
        {
            **{column: features[column].to_numpy() for column in spec.key_columns},
            "label": features[spec.target].to_numpy(dtype="float64"),
        }
    )
    if spec.task == "binary":
        frame["score"] = scores
        frame[PREDICTION] = (scores >= threshold).astype("float64")
    elif spec.task == "multiclass":
        for index, name in enumerate(spec.class_names()):
            frame[f"score_{name}"] = scores[:, index]
        frame[PREDICTION] = scores.argmax(axis=1).astype("float64")
    else:
        frame[PREDICTION] = scores
    return frame


def predict_rows(
    model: str, features: pd.DataFrame, spec: FeatureSpec, evaluation: EvaluationParams
) -> pd.DataFrame:
    """Score a model-input table with the trained model, at the declared threshold."""
    return prediction_frame(model, features, spec, evaluation.threshold)

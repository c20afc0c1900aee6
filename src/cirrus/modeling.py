"""LightGBM helpers shared by training, evaluation and drift: model I/O and predictions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cirrus.dask.dispatch import on_dask
from cirrus.feature_spec import FeatureSpec
from cirrus.metrics import LIGHTGBM_METRICS
from cirrus.parameters import AUTO, EVALUATION_FILE, ConfigError, EvaluationParams, ThresholdRule
from cirrus.results import TrainingMetrics

if TYPE_CHECKING:  # LightGBM (and scikit-learn with it) load when a model is built or read.
    import lightgbm as lgb

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
    import lightgbm as lgb

    return lgb.Booster(model_str=model_text)


def predict_scores(model_text: str, features: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """Raw predictions: P(positive) for binary, class probabilities for multiclass, values else."""
    booster = load_booster(model_text)
    if len(features) == 0:  # LightGBM refuses no rows (an empty partition on the Dask path)
        n_outputs = booster.num_model_per_iteration()
        return np.empty((0, n_outputs)) if spec.task == "multiclass" else np.empty(0)
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


def choose_threshold(rule: ThresholdRule, y: np.ndarray, scores: np.ndarray) -> float:
    """The decision threshold a rule picks on labelled scores (both classes present).

    best_f1: the score cut with the highest F1; youden: the one with the highest TPR - FPR.
    A row is positive when its score is at or above the threshold; ties keep the lowest cut.
    """
    from sklearn import metrics as skm

    if rule == "best_f1":
        precision, recall, cuts = skm.precision_recall_curve(y, scores)
        precision, recall = precision[:-1], recall[:-1]
        denominator = precision + recall
        f1 = np.divide(
            2 * precision * recall,
            denominator,
            out=np.zeros_like(denominator),
            where=denominator > 0,
        )
        return float(cuts[int(np.argmax(f1))])
    if rule == "youden":
        fpr, tpr, cuts = skm.roc_curve(y, scores, drop_intermediate=False)
        # Cuts fall from +inf (nothing positive, skipped); the last maximum is the lowest cut.
        j = (tpr - fpr)[1:][::-1]
        return float(cuts[1:][::-1][int(np.argmax(j))])
    raise ValueError(f"unknown threshold rule {rule!r}")


def decision_threshold(
    evaluation: EvaluationParams, training_metrics: TrainingMetrics | None = None
) -> tuple[float, str | None]:
    """The binary threshold in effect and the rule that chose it (None: declared as a number).

    `auto` takes the threshold the training picked by `threshold_rule` on its early-stopping
    validation rows (`thresholds` in training_metrics.json).
    """
    if evaluation.threshold != AUTO:
        return float(evaluation.threshold), None
    rule = evaluation.threshold_rule
    chosen = training_metrics.thresholds if training_metrics is not None else None
    if not chosen or rule not in chosen:
        raise ConfigError(
            f"evaluation.threshold is auto in {EVALUATION_FILE} but the training metrics hold "
            f"no {rule!r} threshold (the validation rows of a binary task need both classes); "
            "set evaluation.threshold to a number, e.g. 0.5"
        )
    return float(chosen[rule]), rule


def point_threshold(
    spec: FeatureSpec, evaluation: EvaluationParams, training_metrics: TrainingMetrics | None
) -> float:
    """The threshold of a binary task's point predictions (0.5 for the other tasks, unused)."""
    if spec.task != "binary":
        return 0.5
    threshold, _ = decision_threshold(evaluation, training_metrics)
    return threshold


@on_dask("cirrus.dask.nodes:predict_rows")
def predict_rows(
    model: str,
    features: pd.DataFrame,
    spec: FeatureSpec,
    evaluation: EvaluationParams,
    training_metrics: TrainingMetrics | None = None,
) -> pd.DataFrame:
    """Score a model-input table with the trained model, at the declared (or auto) threshold."""
    threshold = point_threshold(spec, evaluation, training_metrics)
    return prediction_frame(model, features, spec, threshold)

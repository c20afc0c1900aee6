"""Plot data as small tables that `dvc plots show` draws and `dvc plots diff` compares.

The plotly figures are for Kedro-Viz and notebooks; DVC draws only CSV/JSON/TSV data (or images),
so each plot a reader compares across commits also has its table here, bounded in size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cirrus.dask.dispatch import on_dask
from cirrus.feature_spec import FeatureSpec
from cirrus.modeling import PREDICTION
from cirrus.parameters import EvaluationParams

from .nodes import CURVE_POINTS, _binary_targets, _thin

CALIBRATION_COLUMNS = ["class", "predicted", "observed", "rows"]
CONFUSION_COLUMNS = ["actual", "predicted", "rows"]
PREDICTION_COLUMNS = ["actual", "predicted", "residual"]


@on_dask()
def calibration_points(
    predictions: pd.DataFrame, spec: FeatureSpec, settings: EvaluationParams
) -> pd.DataFrame:
    """Reliability diagram as (class, mean predicted probability, observed frequency, rows) per
    equal-width probability bin; empty for regression."""
    if spec.task == "regression":
        return pd.DataFrame(columns=CALIBRATION_COLUMNS)
    bins = settings.calibration_bins
    edges = np.linspace(0, 1, bins + 1)
    frames = []
    for name, is_class, score in _binary_targets(predictions, spec):
        # The bins of the plotted reliability diagram (`plot_calibration`), with their row counts.
        index = np.clip(np.digitize(score, edges[1:-1]), 0, bins - 1)
        frame = pd.DataFrame({"bin": index, "observed": is_class.astype(float), "predicted": score})
        grouped = frame.groupby("bin").agg(
            predicted=("predicted", "mean"),
            observed=("observed", "mean"),
            rows=("observed", "size"),
        )
        frames.append(grouped.assign(**{"class": name})[CALIBRATION_COLUMNS])
    return pd.concat(frames, ignore_index=True).round(6)


@on_dask()
def confusion_counts(predictions: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Confusion matrix as (actual, predicted, rows): one row per pair of classes, zeros kept,
    so the file's size depends on the classes, not on the held-out rows; empty for regression."""
    if spec.task == "regression":
        return pd.DataFrame(columns=CONFUSION_COLUMNS)
    names = [str(c) for c in spec.class_names()]
    pairs = pd.crosstab(
        pd.Categorical(predictions["label"].astype(int), categories=range(len(names))),
        pd.Categorical(predictions[PREDICTION].astype(int), categories=range(len(names))),
        dropna=False,
    )
    return pd.DataFrame(
        [
            {"actual": names[a], "predicted": names[p], "rows": int(pairs.iloc[a, p])}
            for a in range(len(names))
            for p in range(len(names))
        ],
        columns=CONFUSION_COLUMNS,
    )


@on_dask()
def prediction_points(predictions: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Predicted against actual values as (actual, predicted, residual), at most CURVE_POINTS
    rows evenly spaced in order of the actual value; empty for classification."""
    if spec.task != "regression":
        return pd.DataFrame(columns=PREDICTION_COLUMNS)
    points = pd.DataFrame(
        {"actual": predictions["label"].to_numpy(), "predicted": predictions[PREDICTION]}
    ).sort_values(["actual", "predicted"], kind="stable", ignore_index=True)
    points["residual"] = points["actual"] - points["predicted"]
    return _thin(points, CURVE_POINTS).reset_index(drop=True).round(6)

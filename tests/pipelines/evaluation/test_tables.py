"""The plot tables `dvc plots` draws: calibration bins, confusion counts, predicted vs actual."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cirrus.modeling import PREDICTION
from cirrus.pipelines.evaluation.nodes import CURVE_POINTS
from cirrus.pipelines.evaluation.tables import (
    calibration_points,
    confusion_counts,
    prediction_points,
)
from tests import unit_fixtures as fx

BINARY_SPEC = fx.minimal_spec("binary", ["good", "bad"], "defaulted")
MULTICLASS_SPEC = fx.minimal_spec("multiclass", ["A", "B", "C"], "risk_grade")
REGRESSION_SPEC = fx.minimal_spec("regression", None, "interest_rate")


def test_calibration_bins_hold_mean_score_observed_share_and_rows() -> None:
    predictions = pd.DataFrame(
        {"label": [0.0, 1.0, 0.0, 1.0, 1.0], "score": [0.05, 0.15, 0.55, 0.65, 0.95]}
    )

    table = calibration_points(predictions, BINARY_SPEC, fx.evaluation(calibration_bins=2))

    assert table.to_dict("list") == {
        "class": ["bad", "bad"],
        "predicted": [0.1, 0.716667],
        "observed": [0.5, 0.666667],
        "rows": [2, 3],
    }


def test_confusion_counts_keep_every_pair_of_classes_with_zeros() -> None:
    predictions = pd.DataFrame({"label": [0, 0, 1, 2, 2, 2], PREDICTION: [0, 1, 1, 2, 2, 0]})

    table = confusion_counts(predictions, MULTICLASS_SPEC)

    counts = table.pivot(index="actual", columns="predicted", values="rows")
    assert counts.to_numpy().tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert table["rows"].sum() == len(predictions)


def test_confusion_table_size_depends_on_classes_not_rows() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 50_000)
    predictions = pd.DataFrame({"label": labels, PREDICTION: rng.integers(0, 2, 50_000)})

    assert len(confusion_counts(predictions, BINARY_SPEC)) == 4


def test_prediction_points_thin_regression_rows_in_order_of_the_actual_value() -> None:
    actual = np.linspace(0, 10, 5_000)
    predictions = pd.DataFrame({"label": actual[::-1], PREDICTION: actual[::-1] + 0.5})

    table = prediction_points(predictions, REGRESSION_SPEC)

    assert len(table) == CURVE_POINTS
    assert table["actual"].is_monotonic_increasing
    assert (table["actual"].iloc[0], table["actual"].iloc[-1]) == (0.0, 10.0)
    assert np.allclose(table["residual"], -0.5)


def test_tables_of_another_task_are_empty_with_their_columns() -> None:
    binary = pd.DataFrame({"label": [0.0, 1.0], "score": [0.2, 0.7], PREDICTION: [0, 1]})
    regression = pd.DataFrame({"label": [1.0, 2.0], PREDICTION: [1.5, 2.5]})

    empty = [
        prediction_points(binary, BINARY_SPEC),
        confusion_counts(regression, REGRESSION_SPEC),
        calibration_points(regression, REGRESSION_SPEC, fx.evaluation()),
    ]

    assert [list(t.columns) for t in empty] == [
        ["actual", "predicted", "residual"],
        ["actual", "predicted", "rows"],
        ["class", "predicted", "observed", "rows"],
    ]
    assert all(t.empty for t in empty)

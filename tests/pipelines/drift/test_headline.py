"""The headline metrics `dvc metrics show` prints: primary metric, baseline, drift verdicts."""

from __future__ import annotations

from cirrus.pipelines.drift.headline import headline_metrics
from tests import unit_fixtures as fx


def test_headline_holds_the_tasks_primary_metric_and_the_drift_verdicts() -> None:
    evaluation = fx.evaluation_metrics(
        task="regression",
        n_test_rows=400,
        threshold=None,
        model={"rmse": 1.234567891, "mae": 0.9},
        baseline={"rmse": 2.5, "mae": 2.0},
        beats_baseline={"rmse": True, "mae": True},
    )
    drift = fx.drift_summary(
        dataset_drift=False,
        drifted_feature_share=0.142857142857,
        prediction_drift=True,
        target_drift=None,
        columns={"age": {"score": 0.03}},
    )

    headline = headline_metrics(evaluation, drift)

    assert headline == {
        "rmse": 1.234568,
        "baseline_rmse": 2.5,
        "test_rows": 400,
        "dataset_drift": False,
        "drifted_feature_share": 0.142857,
        "prediction_drift": True,
        "target_drift": None,
    }

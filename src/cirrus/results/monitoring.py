"""`monitoring/summary.json`: the verdict `kedro cirrus monitor` prints and exits by."""

from __future__ import annotations

from typing import Any

from cirrus.results.base import Result
from cirrus.results.drift import AlarmSettings


class LiveMetric(Result):
    """The primary metric on logged predictions with an outcome, against held-out."""

    name: str
    live: float | None
    held_out: float
    drop: float | None


class MonitoringSummary(Result):
    """Drift of real traffic, the live metric and whether to retrain."""

    window: dict[str, Any]
    dataset_drift: bool
    drifted_features: list[str]
    drifted_feature_share: float
    prediction_drift: bool
    target_drift: bool | None
    alarm: AlarmSettings
    missing_shift: list[str]
    out_of_range: dict[str, int]
    live_metric: LiveMetric
    retrain_recommended: bool
    retrain_reasons: list[str]
    verdict: str  # the drift verdict in words, as every report says it

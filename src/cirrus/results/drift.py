"""`drift_summary.json`: the drift verdicts by corrected alarms, and what else moved."""

from __future__ import annotations

from typing import Any

from cirrus.results.base import Result


class AlarmSettings(Result):
    """How the alarms were corrected for the number of columns tested."""

    correction: str
    family_error_rate: float
    family_size: int


class DriftSummary(Result):
    """Dataset, prediction and target drift, the drifted features and the retrain flag."""

    dataset_drift: bool
    drifted_feature_share: float
    drift_share_threshold: float
    drifted_features: list[str]
    prediction_drift: bool
    target_drift: bool | None  # None: the current batch has no outcomes
    alarm: AlarmSettings
    raw_drifted_features: list[str]
    missing_shift: list[str]
    out_of_range: dict[str, int]
    columns: dict[str, dict[str, Any]]
    unseen_categories: dict[str, int]
    retrain_recommended: bool
    retrain_reasons: list[str]
    n_reference_rows: int | None = None
    n_current_rows: int | None = None
    report_sample: dict[str, Any] | None = None

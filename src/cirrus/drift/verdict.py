"""The drift verdict in words: one sentence set, the same wherever a person reads it.

The run summary, the monitoring summary, the model card and the note above the Evidently report
all state the verdict with `verdict_in_words`, so they say the same thing with the same counts.
The counts are the corrected alarms of drift_summary.json (`drift.alarm`), not the per-column
flags Evidently's own headline counts.
"""

from __future__ import annotations

from cirrus.modeling import PREDICTION
from cirrus.results import DriftSummary

TARGET = "target"  # the drift tables' name for the outcome column


def features_tested(summary: DriftSummary) -> int:
    """How many feature columns the summary tested (its columns but prediction and target)."""
    return sum(1 for column in summary.columns if column not in (PREDICTION, TARGET))


def _listed(names: list[str], limit: int = 5) -> str:
    """Column names for a sentence, the first `limit` of them."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def verdict_in_words(summary: DriftSummary) -> str:
    """The verdict: retrain or not and why, drifted features of those tested, predictions and
    outcomes, in plain sentences."""
    drifted, tested = summary.drifted_features, features_tested(summary)
    if summary.retrain_recommended:
        head = f"Retraining recommended ({'; '.join(summary.retrain_reasons)})."
    else:
        head = "No retraining needed."
    side = "at or above" if summary.dataset_drift else "under"
    share = f"{summary.drifted_feature_share:.0%}, {side} the "
    share += f"{summary.drift_share_threshold:.0%} that makes the whole dataset drift"
    if drifted:
        features = f"{len(drifted)} of {tested} features drifted ({_listed(drifted)}): {share}."
    else:
        features = f"None of {tested} features drifted."
    predictions = (
        "The predictions drifted" if summary.prediction_drift else ("The predictions did not drift")
    )
    if summary.target_drift is None:
        outcomes = "; the outcomes are not known yet."
    else:
        outcomes = (
            "; the outcomes drifted." if summary.target_drift else ("; the outcomes did not drift.")
        )
    return f"{head} {features} {predictions}{outcomes}"

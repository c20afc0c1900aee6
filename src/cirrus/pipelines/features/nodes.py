"""Feature nodes: hold out test rows, fit declared transforms on training rows, apply them."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from cirrus.contract import DatasetContract
from cirrus.errors import CirrusError
from cirrus.feature_spec import FeatureSpec
from cirrus.parameters import FEATURES_FILE, FeatureParams, HoldoutParams
from cirrus.splits import split_rows

logger = logging.getLogger(__name__)


class HoldoutError(CirrusError):
    """The declared hold-out leaves no rows on one side."""

    hint = f"Lower holdout.test_size or holdout.gap in {FEATURES_FILE}, or add rows."


def _iso(stamp: Any) -> str | None:
    """A timestamp as ISO 8601 text for the JSON reports (None for no time)."""
    return None if stamp is None or pd.isna(stamp) else pd.Timestamp(stamp).isoformat()


def time_cut(times: pd.Series, test_size: float) -> pd.Timestamp:
    """The first test time: the event time of the row that starts the latest `test_size` share.

    Rows at that time all go to the test side, so rows of equal time never straddle the cut
    (the test share may be a little larger than declared).
    """
    ordered = times.dropna().sort_values(kind="stable")
    n_test = min(max(1, round(len(ordered) * test_size)), len(ordered))
    return pd.Timestamp(ordered.iloc[len(ordered) - n_test])


def split_by_time(
    reference: pd.DataFrame, column: str, test_size: float, gap: str | None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Rows before the cut (less the gap) train, rows at or after it test, both in time order.

    Rows without an event time cannot be placed after the cut, so they train (and are counted).
    """
    ordered = reference.sort_values(column, kind="stable", na_position="first")
    times = ordered[column]
    if times.notna().sum() < 2:
        raise HoldoutError(
            f"The time hold-out needs event times ('{column}'), but the reference rows hold "
            f"{int(times.notna().sum())} row(s) with one."
        )
    cut = time_cut(times, test_size)  # in the column's own zone, so comparisons agree
    train_until = cut - pd.Timedelta(gap) if gap else cut
    is_test = (times >= cut).to_numpy()
    is_train = (times.isna() | (times < train_until)).to_numpy()
    train, test = ordered[is_train].copy(), ordered[is_test].copy()
    if train.empty:
        raise HoldoutError(
            f"The time hold-out leaves no training rows: every row of '{column}' is at or after "
            f"{_iso(train_until)} (test rows from {_iso(cut)}, gap {gap})."
        )
    report = {
        "event_time_column": column,
        "cut": _iso(cut),
        "gap": gap,
        "train_until": _iso(train[column].max()),
        "test_until": _iso(times.max()),
        "n_gap_rows": int(len(ordered) - is_train.sum() - is_test.sum()),
        "n_rows_without_time": int(times.isna().sum()),
    }
    return train, test, report


def holdout_split(
    reference: pd.DataFrame, contract: DatasetContract, holdout: HoldoutParams
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Training rows, held-out test rows and a report of the split (strategy, cut, gap, rows)."""
    strategy = holdout.resolved(contract.event_time_column, contract.task)
    by_time: dict[str, Any] = dict.fromkeys(
        ("event_time_column", "cut", "gap", "train_until", "test_until")
    ) | {"n_gap_rows": 0, "n_rows_without_time": 0}
    if strategy == "time":
        # A contract without an event-time column is refused before any node runs (preflight).
        train, test, by_time = split_by_time(
            reference, str(contract.event_time_column), holdout.test_size, holdout.gap
        )
    else:
        stratify = None
        if strategy == "stratified" and contract.task != "regression":
            stratify = reference[contract.target]
        train, test = split_rows(reference, holdout.test_size, holdout.seed, stratify)
    report = {
        "strategy": strategy,
        "declared": holdout.strategy,
        "test_size": holdout.test_size,
        "seed": None if strategy == "time" else holdout.seed,
        **by_time,
        "n_train_rows": len(train),
        "n_test_rows": len(test),
    }
    return train, test, report


def split_holdout(
    reference: pd.DataFrame, contract: DatasetContract, holdout: HoldoutParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split reference rows into training and held-out test rows, as declared."""
    train, test, _ = holdout_split(reference, contract, holdout)
    return train, test


def describe_holdout_split(
    reference: pd.DataFrame, contract: DatasetContract, holdout: HoldoutParams
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The hold-out node: the split and its report, logged as one line."""
    train, test, report = holdout_split(reference, contract, holdout)
    cut = f", test rows from {report['cut']}" if report["cut"] else ""
    logger.info(
        "Hold-out %s%s: %d training rows, %d test rows",
        report["strategy"],
        cut,
        report["n_train_rows"],
        report["n_test_rows"],
    )
    return train, test, report


def _as_text(values: pd.Series) -> pd.Series:
    """Values as `astype(str)` spells them; a text column as it is (no copy into Python strings)."""
    return values if isinstance(values.dtype, pd.StringDtype) else values.astype(str)


def _learn_levels(
    values: pd.Series, min_frequency: int, max_levels: int
) -> tuple[list[str], list[str]]:
    """Split training levels into kept ones (most frequent first) and rare ones."""
    counts = _as_text(values.dropna()).value_counts()
    ordered = [level for level, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    kept = [level for level in ordered if counts[level] >= min_frequency][:max_levels]
    rare = sorted(set(ordered) - set(kept))
    return kept, rare


def _target_classes(train: pd.DataFrame, contract: DatasetContract) -> list[str] | None:
    """Class labels in model order; for binary, the positive class comes last."""
    if contract.task == "regression":
        return None
    classes = sorted(_as_text(train[contract.target].dropna()).unique().tolist())
    if contract.task == "binary" and contract.positive_class is not None:
        positive = str(contract.positive_class)
        classes = [c for c in classes if c != positive] + [positive]
    return classes


def fit_feature_spec(
    train: pd.DataFrame, contract: DatasetContract, params: FeatureParams
) -> FeatureSpec:
    """Learn every transform from training rows into a typed spec (saved as readable JSON)."""
    numeric = contract.features.numeric
    if params.missing_indicators == "auto":
        indicators = [c for c in numeric if train[c].isna().any()]
    elif params.missing_indicators == "none":
        indicators = []
    else:
        indicators = list(params.missing_indicators)
    learned = {
        column: _learn_levels(
            train[column], params.categorical.min_frequency, params.categorical.max_levels
        )
        for column in contract.features.categorical
    }
    date_parts = {column: list(params.date_parts) for column in contract.features.datetime}
    derived = [
        *[f"log_{c}" for c in params.log],
        *params.ratios,
        *[f"{c}_{part}" for c, parts in date_parts.items() for part in parts],
        *[f"{c}_missing" for c in indicators],
    ]
    return FeatureSpec(
        id_column=contract.id_column,
        event_time_column=contract.event_time_column,
        task=contract.task,
        target=contract.target,
        classes=_target_classes(train, contract),
        numeric=list(numeric),
        log=list(params.log),
        ratios=dict(params.ratios),
        date_parts=date_parts,
        missing_indicators=indicators,
        categories={column: kept for column, (kept, _) in learned.items()},
        rare_levels={column: rare for column, (_, rare) in learned.items()},
        categorical_features=list(contract.features.categorical),
        feature_columns=[*numeric, *contract.features.categorical, *derived],
        drift_columns=[*numeric, *contract.features.categorical],
        n_training_rows=len(train),
    )

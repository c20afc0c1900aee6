"""Feature nodes: hold out test rows, fit declared transforms on training rows, apply them."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from cirrus.contract import DatasetContract
from cirrus.dask.dispatch import on_dask
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


def require_event_times(column: str, n_timed: int) -> None:
    """A time hold-out needs at least two rows with an event time."""
    if n_timed < 2:
        raise HoldoutError(
            f"The time hold-out needs event times ('{column}'), but the reference rows hold "
            f"{n_timed} row(s) with one."
        )


def refuse_no_training_rows(column: str, train_until: Any, cut: Any, gap: str | None) -> None:
    """The error of a time hold-out that leaves no training row."""
    raise HoldoutError(
        f"The time hold-out leaves no training rows: every row of '{column}' is at or after "
        f"{_iso(train_until)} (test rows from {_iso(cut)}, gap {gap})."
    )


def time_split_report(
    column: str, cut: Any, gap: str | None, bounds: tuple[Any, Any], counts: tuple[int, int]
) -> dict[str, Any]:
    """The time part of the hold-out report: the cut, the last training and test times
    (`bounds`), and the rows in the gap and without a time (`counts`)."""
    return {
        "event_time_column": column,
        "cut": _iso(cut),
        "gap": gap,
        "train_until": _iso(bounds[0]),
        "test_until": _iso(bounds[1]),
        "n_gap_rows": int(counts[0]),
        "n_rows_without_time": int(counts[1]),
    }


def split_by_time(
    reference: pd.DataFrame, column: str, test_size: float, gap: str | None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Rows before the cut (less the gap) train, rows at or after it test, both in time order.

    Rows without an event time cannot be placed after the cut, so they train (and are counted).
    """
    ordered = reference.sort_values(column, kind="stable", na_position="first")
    times = ordered[column]
    require_event_times(column, int(times.notna().sum()))
    cut = time_cut(times, test_size)  # in the column's own zone, so comparisons agree
    train_until = cut - pd.Timedelta(gap) if gap else cut
    is_test = (times >= cut).to_numpy()
    is_train = (times.isna() | (times < train_until)).to_numpy()
    train, test = ordered[is_train].copy(), ordered[is_test].copy()
    if train.empty:
        refuse_no_training_rows(column, train_until, cut, gap)
    n_gap = len(ordered) - is_train.sum() - is_test.sum()
    bounds = (train[column].max(), times.max())
    report = time_split_report(column, cut, gap, bounds, (n_gap, times.isna().sum()))
    return train, test, report


NO_TIME_SPLIT: dict[str, Any] = dict.fromkeys(
    ("event_time_column", "cut", "gap", "train_until", "test_until")
) | {"n_gap_rows": 0, "n_rows_without_time": 0}


def holdout_report(
    strategy: str, holdout: HoldoutParams, by_time: dict[str, Any], n_train: int, n_test: int
) -> dict[str, Any]:
    """The hold-out report: strategy, share, seed, the time split's details and the rows."""
    return {
        "strategy": strategy,
        "declared": holdout.strategy,
        "test_size": holdout.test_size,
        "seed": None if strategy == "time" else holdout.seed,
        **by_time,
        "n_train_rows": int(n_train),
        "n_test_rows": int(n_test),
    }


def log_holdout(report: dict[str, Any]) -> None:
    """The hold-out as one log line."""
    cut = f", test rows from {report['cut']}" if report["cut"] else ""
    logger.info(
        "Hold-out %s%s: %d training rows, %d test rows",
        report["strategy"],
        cut,
        report["n_train_rows"],
        report["n_test_rows"],
    )


def holdout_split(
    reference: pd.DataFrame, contract: DatasetContract, holdout: HoldoutParams
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Training rows, held-out test rows and a report of the split (strategy, cut, gap, rows)."""
    strategy = holdout.resolved(contract.event_time_column, contract.task)
    by_time = NO_TIME_SPLIT
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
    return train, test, holdout_report(strategy, holdout, by_time, len(train), len(test))


def split_holdout(
    reference: pd.DataFrame, contract: DatasetContract, holdout: HoldoutParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split reference rows into training and held-out test rows, as declared."""
    train, test, _ = holdout_split(reference, contract, holdout)
    return train, test


@on_dask("cirrus.pipelines.features.on_dask:describe_holdout_split")
def describe_holdout_split(
    reference: pd.DataFrame, contract: DatasetContract, holdout: HoldoutParams
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The hold-out node: the split and its report, logged as one line."""
    train, test, report = holdout_split(reference, contract, holdout)
    log_holdout(report)
    return train, test, report


def _as_text(values: pd.Series) -> pd.Series:
    """Values as `astype(str)` spells them; a text column as it is (no copy into Python strings)."""
    return values if isinstance(values.dtype, pd.StringDtype) else values.astype(str)


def levels_from_counts(
    counts: pd.Series, min_frequency: int, max_levels: int
) -> tuple[list[str], list[str]]:
    """Split training levels, given their row counts, into kept ones (most frequent first) and
    rare ones."""
    ordered = [level for level, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    kept = [level for level in ordered if counts[level] >= min_frequency][:max_levels]
    rare = sorted(set(ordered) - set(kept))
    return kept, rare


def _learn_levels(
    values: pd.Series, min_frequency: int, max_levels: int
) -> tuple[list[str], list[str]]:
    """Split training levels into kept ones (most frequent first) and rare ones."""
    counts = _as_text(values.dropna()).value_counts()
    return levels_from_counts(counts, min_frequency, max_levels)


def classes_in_model_order(labels: list[str], contract: DatasetContract) -> list[str] | None:
    """Class labels (as text) in model order; for binary, the positive class comes last."""
    if contract.task == "regression":
        return None
    classes = sorted(labels)
    if contract.task == "binary" and contract.positive_class is not None:
        positive = str(contract.positive_class)
        classes = [c for c in classes if c != positive] + [positive]
    return classes


def _target_classes(train: pd.DataFrame, contract: DatasetContract) -> list[str] | None:
    """Class labels in model order; for binary, the positive class comes last."""
    if contract.task == "regression":
        return None
    labels = _as_text(train[contract.target].dropna()).unique().tolist()
    return classes_in_model_order(labels, contract)


@on_dask("cirrus.pipelines.features.on_dask:fit_feature_spec")
def fit_feature_spec(
    train: pd.DataFrame, contract: DatasetContract, params: FeatureParams
) -> FeatureSpec:
    """Learn every transform from training rows into a typed spec (saved as readable JSON)."""
    numeric = contract.features.numeric
    learned = {
        column: _learn_levels(
            train[column], params.categorical.min_frequency, params.categorical.max_levels
        )
        for column in contract.features.categorical
    }
    with_missing = [c for c in numeric if train[c].isna().any()]
    classes = _target_classes(train, contract)
    return spec_from_summaries(contract, params, with_missing, learned, classes, len(train))


def spec_from_summaries(
    contract: DatasetContract,
    params: FeatureParams,
    with_missing: list[str],
    learned: dict[str, tuple[list[str], list[str]]],
    classes: list[str] | None,
    n_rows: int,
) -> FeatureSpec:
    """The spec from what training rows tell: the numeric columns with a missing value, each
    categorical's kept and rare levels, the classes and the row count (any engine's aggregates)."""
    numeric = contract.features.numeric
    if params.missing_indicators == "auto":
        indicators = [c for c in numeric if c in with_missing]
    elif params.missing_indicators == "none":
        indicators = []
    else:
        indicators = list(params.missing_indicators)
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
        classes=classes,
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
        n_training_rows=n_rows,
    )

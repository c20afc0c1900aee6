"""Features on a Dask cluster: the hold-out cut from the event-time column alone, the spec
fitted from per-partition aggregates (missing values, level counts, classes, rows), so the same
training rows give the same `FeatureSpec` as the pandas path."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd

from cirrus.contract import DatasetContract
from cirrus.dask.frames import hashed_share_rows, on_a_worker, rows_before, rows_from
from cirrus.feature_spec import FeatureSpec
from cirrus.parameters import FeatureParams, HoldoutParams

from .nodes import (
    NO_TIME_SPLIT,
    _as_text,
    classes_in_model_order,
    holdout_report,
    levels_from_counts,
    log_holdout,
    refuse_no_training_rows,
    require_event_times,
    spec_from_summaries,
    time_cut,
    time_split_report,
)

logger = logging.getLogger(__name__)


def _by_time(
    reference: dd.DataFrame, column: str, test_size: float, gap: str | None
) -> tuple[dd.DataFrame, dd.DataFrame, dict[str, Any]]:
    """`split_by_time`: the cut from the event times alone (one column, on a worker), then each
    partition filtered by it; rows keep their partition order (the pandas path sorts by time)."""
    times = reference[column]
    require_event_times(column, int(times.count().compute()))
    cut = on_a_worker(time_cut, times.dropna(), test_size)
    train_until = cut - pd.Timedelta(gap) if gap else cut
    # Filtered inside each partition: a mask built from the column alone could be read in
    # other partitions than the whole table (Dask reads fewer columns in larger pieces).
    train = reference.map_partitions(rows_before, column, train_until)
    test = reference.map_partitions(rows_from, column, cut)
    n_rows, n_train, n_test, n_untimed, last_train, last = dask.compute(
        reference.shape[0],
        train.shape[0],
        test.shape[0],
        times.isna().sum(),
        train[column].max(),
        times.max(),
    )
    if n_train == 0:
        refuse_no_training_rows(column, train_until, cut, gap)
    counts = (n_rows - n_train - n_test, n_untimed)
    return train, test, time_split_report(column, cut, gap, (last_train, last), counts)


def describe_holdout_split(
    reference: dd.DataFrame, contract: DatasetContract, holdout: HoldoutParams
) -> tuple[dd.DataFrame, dd.DataFrame, dict[str, Any]]:
    """The hold-out on the cluster. A time hold-out cuts where the pandas path does; a random or
    stratified one draws each row by a seeded hash of its id (the same share in expectation, and
    in each class; not scikit-learn's draw, which needs every row in one place)."""
    strategy = holdout.resolved(contract.event_time_column, contract.task)
    by_time = NO_TIME_SPLIT
    if strategy == "time":
        train, test, by_time = _by_time(
            reference, str(contract.event_time_column), holdout.test_size, holdout.gap
        )
    else:
        salt = hashlib.sha256(f"cirrus-holdout-{holdout.seed}".encode()).hexdigest()[:16]
        columns = [contract.id_column] if contract.id_column else None
        train = reference.map_partitions(hashed_share_rows, columns, salt, holdout.test_size, False)
        test = reference.map_partitions(hashed_share_rows, columns, salt, holdout.test_size, True)
    n_train, n_test = dask.compute(train.shape[0], test.shape[0])
    report = holdout_report(strategy, holdout, by_time, n_train, n_test)
    log_holdout(report)
    return train, test, report


def _level_counts(values: pd.Series) -> pd.Series:
    """A partition's level counts, levels as the pandas path spells them."""
    return _as_text(values.dropna()).value_counts()


def fit_feature_spec(
    train: dd.DataFrame, contract: DatasetContract, params: FeatureParams
) -> FeatureSpec:
    """`fit_feature_spec` from aggregates computed together in one pass over the rows."""
    numeric = list(contract.features.numeric)
    categorical = list(contract.features.categorical)
    counts = {
        column: train[column].map_partitions(_level_counts, meta=(column, "int64"))
        for column in categorical
    }
    wanted: dict[str, Any] = {
        "rows": train.shape[0],
        "missing": train[numeric].isna().sum() if numeric else None,
        "levels": counts,
    }
    if contract.task != "regression":
        wanted["labels"] = (
            train[contract.target]
            .dropna()
            .map_partitions(
                lambda values: pd.Series(_as_text(values).unique()),
                meta=(contract.target, "object"),
            )
        )
    (found,) = dask.compute(wanted)
    learned = {
        column: levels_from_counts(
            found["levels"][column].groupby(level=0).sum(),
            params.categorical.min_frequency,
            params.categorical.max_levels,
        )
        for column in categorical
    }
    missing = found["missing"]
    with_missing = [c for c in numeric if missing is not None and missing[c] > 0]
    classes = None
    if contract.task != "regression":
        classes = classes_in_model_order(sorted(set(found["labels"].tolist())), contract)
    return spec_from_summaries(contract, params, with_missing, learned, classes, int(found["rows"]))

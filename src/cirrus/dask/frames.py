"""Building blocks of the Dask variants: a pandas function applied to every partition, a small
result gathered from each one, and a pandas function run once on a worker.

Every variant reuses the pandas path's own functions on pandas pieces of the table, so both
engines apply one rule; only where a rule needs every row at once (a level count, a cut in
time) do the variants combine the partitions' aggregates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd

logger = logging.getLogger(__name__)
# Rows of the first partition a function is tried on to learn its output's columns and types.
META_ROWS = 200


def sample_of(frame: dd.DataFrame, rows: int = META_ROWS) -> pd.DataFrame:
    """The first rows of the first partition, as pandas (reads one partition)."""
    return frame.partitions[0].head(rows, compute=True)


def map_rows(
    frame: dd.DataFrame,
    function: Callable[..., pd.DataFrame],
    *args: Any,
    sample: pd.DataFrame | None = None,
    **kwargs: Any,
) -> dd.DataFrame:
    """`function(partition, *args)` on every partition, lazily; its output's columns and types
    are learnt by running it on the first rows, or on `sample` (so a bad input fails here, in
    the driver)."""
    first = sample_of(frame) if sample is None else sample
    meta = function(first, *args, **kwargs).iloc[:0]
    return frame.map_partitions(function, *args, meta=meta, **kwargs)


def gather(frame: dd.DataFrame, function: Callable[..., Any], *args: Any) -> list[Any]:
    """`function(partition, *args)` of every partition, computed on the cluster: small results
    (counts, levels, sums) that the driver combines."""
    parts = [dask.delayed(function)(part, *args) for part in frame.to_delayed()]
    return list(dask.compute(*parts))


def on_a_worker(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`function` on one worker, each Dask table among its arguments concatenated there: for a
    step whose rule needs all its rows (a ROC curve, a drift test), with only the columns it
    reads. The driver receives the small result, never the rows."""
    return dask.delayed(function, pure=False)(*args, **kwargs).compute()


def row_count(frame: dd.DataFrame) -> int:
    """The table's rows (from the Parquet footers when the table is read from files)."""
    return int(frame.shape[0].compute())


def hashed_fraction(frame: pd.DataFrame, columns: list[str] | None, salt: str) -> pd.Series:
    """A number in [0, 1) per row from a salted hash of its `columns` (all when None): the same
    row always gets the same number, whichever partition or machine computes it."""
    keys = frame[columns] if columns else frame
    hashes = pd.util.hash_pandas_object(keys.astype(str), index=False, hash_key=salt)
    return pd.Series(hashes.to_numpy() / 2.0**64, index=frame.index)


def hashed_share_rows(
    part: pd.DataFrame, columns: list[str] | None, salt: str, size: float, held: bool
) -> pd.DataFrame:
    """A partition's rows whose salted hash falls below `size` (`held`), or the others.

    Filtered inside the partition: a mask built as a Dask series of its own could be read in
    other partitions than the table (Dask reads fewer columns in larger pieces)."""
    return part[(hashed_fraction(part, columns, salt) < size).to_numpy() == held]


def rows_before(part: pd.DataFrame, column: str, until: Any) -> pd.DataFrame:
    """A partition's rows before `until` in `column`, and those without a time."""
    times = part[column]
    return part[(times.isna() | (times < until)).to_numpy()]


def rows_from(part: pd.DataFrame, column: str, cut: Any) -> pd.DataFrame:
    """A partition's rows at or after `cut` in `column`."""
    return part[(part[column] >= cut).to_numpy()]

"""Ingestion on a Dask cluster: each partition validated and its PII treated by the pandas
path's own functions; duplicate ids resolved with a shuffle by id; the whole-table checks (no
row, a feature without any value, a split that leaves one side empty) from aggregates."""

from __future__ import annotations

import logging
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cirrus.contract import DataContractViolation, DatasetContract
from cirrus.dask.frames import gather, map_rows, row_count, sample_of
from cirrus.parameters import INGESTION_FILE, IngestionSplit
from cirrus.validation import empty_features_error, out_of_range_counts, treat_pii, validate_raw

from .nodes import (
    _FROM_CURRENT,
    _at_or_after,
    _check_target_classes,
    _hashed_share,
    ingestion_summary,
    refuse_same_files,
)

logger = logging.getLogger(__name__)
_ORDER = "_file_order"  # a row's place in its input: partition, then row (the latest id wins)
_ROW_BITS = 40  # up to 2**40 rows per partition


def _arrow_numbers(text: pd.Series) -> pd.Series | None:
    """A text column as `pd.to_numeric` types it (int64 when every value is a whole number and
    none is missing, else float64), cast by pyarrow, which parses numbers as the pandas path's
    reader does; None when pyarrow refuses a value (pandas then decides)."""
    values = pa.array(text.array, from_pandas=True)
    try:
        whole = pc.cast(values, pa.int64())
        if whole.null_count == 0:
            return pd.Series(whole.to_numpy(), index=text.index, name=text.name)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:
        floats = pc.cast(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pd.Series(floats.to_numpy(zero_copy_only=False), index=text.index, name=text.name)


def _to_number(text: pd.Series) -> pd.Series:
    """A text column as numbers; ValueError or TypeError when some value is no number."""
    if isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow":
        numbers = _arrow_numbers(text)
        if numbers is not None:
            return numbers
    return pd.to_numeric(text)


def _typed(raw: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    """Text columns read from CSV as numbers where the contract declares numbers (and for the
    target), as the pandas path's typed reader gives them; a column with any text that is no
    number stays text, so the validation names those values."""
    numbers = [c for c in raw.columns if contract.rule_for(c).dtype in ("int", "float")]
    if contract.target in raw.columns:
        numbers.append(contract.target)
    converted = {}
    for column in dict.fromkeys(numbers):
        if raw[column].dtype != object and not pd.api.types.is_string_dtype(raw[column]):
            continue
        try:
            converted[column] = _to_number(raw[column])
        except (ValueError, TypeError):
            continue
    return raw.assign(**converted)


def _validate_partition(
    raw: pd.DataFrame,
    contract: DatasetContract,
    salt: str | None,
    source: str,
    labelled: bool,
    n_partitions: int,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """One partition validated, typed and PII-treated; an error names the partition when the
    table has several (its row numbers count from that partition's first row)."""
    try:
        validated = validate_raw(
            _typed(raw, contract), contract, source, labelled=labelled, whole_table=False
        )
        return treat_pii(validated, contract, salt)
    except DataContractViolation as error:
        if n_partitions > 1 and partition_info and partition_info.get("number") is not None:
            number = partition_info["number"]
            raise DataContractViolation(
                f"{error} (partition {number} of '{source}'; rows counted from its first row)"
            ) from None
        raise


def _validated(
    raw: dd.DataFrame, contract: DatasetContract, salt: str | None, source: str, labelled: bool
) -> dd.DataFrame:
    """Every partition validated; the first rows in the driver first (a bad file fails fast)."""
    first = sample_of(raw)
    if first.empty and raw.npartitions == 1:
        raise DataContractViolation(f"Dataset '{source}' has no rows; expected at least one.")
    n_parts = raw.npartitions
    return map_rows(
        raw, _validate_partition, contract, salt, source, labelled, n_parts, sample=first
    )


def validate_raw_reference(
    raw: dd.DataFrame, contract: DatasetContract, pii_salt: str | None
) -> dd.DataFrame:
    """`validate_raw_reference`, partition by partition."""
    return _validated(raw, contract, pii_salt, "raw_reference", labelled=True)


def validate_raw_current(
    raw: dd.DataFrame, contract: DatasetContract, pii_salt: str | None
) -> dd.DataFrame:
    """`validate_raw_current`, partition by partition."""
    return _validated(raw, contract, pii_salt, "raw_current", labelled=False)


def _with_order(
    part: pd.DataFrame, from_current: bool, partition_info: dict[str, Any] | None = None
) -> pd.DataFrame:
    """A partition with its side and each row's place in the input."""
    number = (partition_info or {}).get("number", 0) or 0
    order = (int(from_current) << 62) + (number << _ROW_BITS) + pd.RangeIndex(len(part))
    return part.assign(**{_FROM_CURRENT: from_current, _ORDER: order.to_numpy(dtype="int64")})


def _latest_in_partition(part: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    """The latest row of each id among the rows of one id-hashed partition (every row of an id
    is in the same one): by event time, then input order, as `latest_per_id` decides."""
    ordered = part.sort_values(_ORDER, kind="stable")
    if contract.event_time_column is not None:
        ordered = ordered.sort_values(contract.event_time_column, kind="stable")
    latest = ordered.drop_duplicates(subset=contract.id_column, keep="last")
    return latest.sort_values(_ORDER, kind="stable")


# Above this many repeated ids, the rows are shuffled by id instead of gathered in the driver.
MAX_GATHERED_REPEATS = 1_000_000


def _id_hashes(part: pd.DataFrame, contract: DatasetContract) -> pd.Series:
    """A 64-bit hash of each row's id (equal ids, equal hashes; a rare collision only makes a
    row a candidate, which its id then clears)."""
    ids = part[str(contract.id_column)].astype(str)
    return pd.util.hash_pandas_object(ids, index=False)


def _candidates(
    part: pd.DataFrame, contract: DatasetContract, repeated: frozenset[int]
) -> pd.DataFrame:
    """The rows of a partition whose id hash occurs more than once: their id, time and place."""
    keep = _id_hashes(part, contract).isin(repeated).to_numpy()
    columns = [str(contract.id_column), _ORDER]
    if contract.event_time_column is not None:
        columns.append(contract.event_time_column)
    return part.loc[keep, columns]


def _superseded(candidates: pd.DataFrame, contract: DatasetContract) -> frozenset[int]:
    """The places of the rows an id's later row replaces (`latest_per_id`'s rule)."""
    latest = _latest_in_partition(candidates, contract)
    return frozenset(set(candidates[_ORDER].tolist()) - set(latest[_ORDER].tolist()))


def _without(part: pd.DataFrame, superseded: frozenset[int]) -> pd.DataFrame:
    """A partition without the rows another row of their id replaces."""
    return part[~part[_ORDER].isin(superseded).to_numpy()]


def _latest_per_id(union: dd.DataFrame, contract: DatasetContract) -> dd.DataFrame:
    """The latest row of each id, without moving rows between workers when ids repeat rarely:
    the ids' hashes are counted, only the rows of repeated ones are gathered and resolved, and
    each partition drops the rows they supersede. Many repeated ids: a shuffle by id."""
    hashes = union.map_partitions(_id_hashes, contract, meta=("id_hash", "uint64"))
    counts = hashes.value_counts(split_out=max(1, union.npartitions // 8))
    repeated = frozenset(int(h) for h in counts[counts > 1].index.compute())
    if not repeated:
        return union
    if len(repeated) > MAX_GATHERED_REPEATS:
        return union.shuffle(on=contract.id_column).map_partitions(
            _latest_in_partition, contract, meta=union._meta
        )
    candidates = union.map_partitions(_candidates, contract, repeated).compute()
    return union.map_partitions(_without, _superseded(candidates, contract), meta=union._meta)


def _row_hash_sum(part: pd.DataFrame) -> int:
    """An order-free fingerprint of a partition's rows (sum of row hashes, modulo 2**64)."""
    hashes = pd.util.hash_pandas_object(part.astype(str), index=False).to_numpy()
    return int(hashes.sum(dtype="uint64"))


def _same_rows(reference: dd.DataFrame, current: dd.DataFrame) -> bool:
    """Whether both inputs hold the same rows: same columns, count and row fingerprint."""
    if list(reference.columns) != list(current.columns):
        return False
    n_ref, n_cur = dask.compute(reference.shape[0], current.shape[0])
    if n_ref != n_cur:
        return False
    sums = [sum(gather(frame, _row_hash_sum)) % 2**64 for frame in (reference, current)]
    return sums[0] == sums[1]


def _is_current(part: pd.DataFrame, contract: DatasetContract, split: IngestionSplit) -> pd.Series:
    """Which rows of a partition are current, by the declared split mode."""
    if split.mode == "files":
        return part[_FROM_CURRENT].astype(bool)
    if split.mode == "event_time":
        times = part[contract.event_time_column]
        return _at_or_after(times, str(split.current_from), contract.time_zone)
    return _hashed_share(part.drop(columns=[_FROM_CURRENT, _ORDER]), contract, split)


def _side(
    part: pd.DataFrame, contract: DatasetContract, split: IngestionSplit, current: bool
) -> pd.DataFrame:
    """The rows of one side of the split, without the helper columns."""
    keep = _is_current(part, contract, split).to_numpy() == current
    return part[keep].drop(columns=[_FROM_CURRENT, _ORDER]).reset_index(drop=True)


def split_reference_current(
    reference: dd.DataFrame,
    current: dd.DataFrame,
    contract: DatasetContract,
    split: IngestionSplit,
) -> tuple[dd.DataFrame, dd.DataFrame]:
    """`split_reference_current` partition by partition; the checks of the split's sides run in
    `report_ingestion`, on the written tables, before anything is published."""
    same = _same_rows(reference, current)
    refuse_same_files(same, split)
    parts = [reference.map_partitions(_with_order, False)]
    if not same:
        parts.append(current.map_partitions(_with_order, True))
    union = dd.concat(parts) if len(parts) > 1 else parts[0]
    if contract.id_column is not None:
        union = _latest_per_id(union, contract)
    ref = union.map_partitions(_side, contract, split, False, meta=reference._meta)
    cur = union.map_partitions(_side, contract, split, True, meta=reference._meta)
    return ref, cur


def _empty_features(validated: dd.DataFrame, contract: DatasetContract) -> list[str]:
    """Feature columns of a table without a single value."""
    features = [c for c in contract.features.all if c in validated.columns]
    counts = validated[features].count().compute() if features else pd.Series(dtype="int64")
    return [column for column in features if counts[column] == 0]


def _check_sides(
    validated_reference: dd.DataFrame,
    reference: dd.DataFrame,
    n_ref: int,
    n_cur: int,
    contract: DatasetContract,
    split: IngestionSplit,
) -> None:
    """The pandas path's whole-table checks, from counts: features, both sides, the classes."""
    empty = _empty_features(validated_reference, contract)
    if empty:
        raise empty_features_error(empty, row_count(validated_reference), "raw_reference")
    counts = f"{n_ref} reference row(s), {n_cur} current row(s)"
    if n_ref == 0:
        raise DataContractViolation(
            f"No reference rows left after the split ({split.describe()}): {counts}; "
            f"check ingestion.split in {INGESTION_FILE}."
        )
    labels = reference[contract.target].dropna().unique().compute()
    _check_target_classes(pd.DataFrame({contract.target: labels}), contract, "the reference rows")
    if n_cur == 0:
        raise DataContractViolation(
            f"No current rows left after the split ({split.describe()}): {counts}; the drift "
            f"report needs a current batch: check ingestion.split in {INGESTION_FILE}."
        )


def report_ingestion(
    validated_reference: dd.DataFrame,
    validated_current: dd.DataFrame,
    reference: dd.DataFrame,
    current: dd.DataFrame,
    contract: DatasetContract,
    split: IngestionSplit,
) -> dict[str, Any]:
    """`report_ingestion` from per-partition counts, after the split's checks."""
    n_raw_ref, n_raw_cur, n_ref, n_cur = dask.compute(
        validated_reference.shape[0],
        validated_current.shape[0],
        reference.shape[0],
        current.shape[0],
    )
    _check_sides(validated_reference, reference, n_ref, n_cur, contract, split)
    logger.info(
        "Split (%s): %d reference row(s), %d current row(s).", split.describe(), n_ref, n_cur
    )
    same = _same_rows(validated_reference, validated_current)
    beyond = {}
    for side, frame in (("reference", reference), ("current", current)):
        per_part = gather(frame, out_of_range_counts, contract)
        columns = dict.fromkeys(column for part in per_part for column in part)
        beyond[side] = {c: int(sum(part.get(c, 0) for part in per_part)) for c in columns}
    rows = (n_raw_ref, n_raw_cur, n_ref, n_cur)
    return ingestion_summary(split, contract, same, rows, beyond)

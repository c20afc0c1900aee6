"""Ingestion nodes: validate raw data against the contract and treat its PII in the same step
(so no raw PII value is ever written past 01_raw), then split reference/current."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import pandas as pd

from cirrus.contract import DataContractViolation, DatasetContract
from cirrus.dask.dispatch import on_dask
from cirrus.parameters import INGESTION_FILE, IngestionSplit
from cirrus.validation import (
    naive_in_zone,
    out_of_range_counts,
    time_in_zone,
    treat_pii,
    validate_raw,
)

logger = logging.getLogger(__name__)
# Marks, in the union of both inputs, the rows that came from raw_current.
_FROM_CURRENT = "_from_current"


@on_dask("cirrus.pipelines.ingestion.on_dask:validate_raw_reference")
def validate_raw_reference(
    raw: pd.DataFrame, contract: DatasetContract, pii_salt: str | None
) -> pd.DataFrame:
    """Validate the labelled reference data (dataset `raw_reference`) and treat its PII."""
    validated = validate_raw(raw, contract, source="raw_reference", labelled=True)
    return treat_pii(validated, contract, pii_salt)


@on_dask("cirrus.pipelines.ingestion.on_dask:validate_raw_current")
def validate_raw_current(
    raw: pd.DataFrame, contract: DatasetContract, pii_salt: str | None
) -> pd.DataFrame:
    """Validate the current batch (dataset `raw_current`), whose labels may be unknown yet, and
    treat its PII."""
    validated = validate_raw(raw, contract, source="raw_current", labelled=False)
    return treat_pii(validated, contract, pii_salt)


def latest_per_id(frame: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    """Keep the latest row of each id (by event time when declared, then file order):
    corrections win. Without an id column, every row is kept."""
    if contract.id_column is None:
        return frame.reset_index(drop=True)
    ordered = frame
    if contract.event_time_column is not None:
        ordered = frame.sort_values(contract.event_time_column, kind="stable")
    latest = ordered.drop_duplicates(subset=contract.id_column, keep="last")
    return latest.sort_index().reset_index(drop=True)


def _check_target_classes(frame: pd.DataFrame, contract: DatasetContract, source: str) -> None:
    """Fail when a classification target has too few classes to learn from."""
    if contract.task == "regression":
        return
    classes = sorted(frame[contract.target].dropna().unique().tolist())
    if contract.task == "binary" and len(classes) != 2:
        expected = "exactly 2"
    elif contract.task == "multiclass" and len(classes) < 3:
        expected = "at least 3 (use task 'binary' for two)"
    else:
        expected = None
    if expected:
        raise DataContractViolation(
            f"Target '{contract.target}' in {source} has {len(classes)} class(es) {classes}; "
            f"task '{contract.task}' needs {expected}."
        )
    if contract.positive_class is not None and str(contract.positive_class) not in classes:
        raise DataContractViolation(
            f"positive_class '{contract.positive_class}' is not among the classes {classes} "
            f"of target '{contract.target}' in {source}."
        )


def _same_rows(reference: pd.DataFrame, current: pd.DataFrame) -> bool:
    """Whether both inputs hold the same rows (one file behind both raw entries)."""
    return reference.shape == current.shape and reference.equals(current)


def _hashed_share(frame: pd.DataFrame, contract: DatasetContract, split: IngestionSplit):
    """Which rows are current in mode `fraction`: those whose salted hash (of the id, or of the
    whole row without an id column) falls in the declared share. The same id always lands on the
    same side, whatever other rows the file holds; copies of a row (without an id) too."""
    keys = frame[[contract.id_column]] if contract.id_column else frame
    salt = hashlib.sha256(f"cirrus-split-{split.seed}".encode()).hexdigest()[:16]
    hashes = pd.util.hash_pandas_object(keys.astype(str), index=False, hash_key=salt)
    return pd.Series(hashes.to_numpy() / 2.0**64 < split.current_share, index=frame.index)


def _at_or_after(times: pd.Series, current_from: str, zone: str) -> pd.Series:
    """Rows at or after the cut, both compared as naive times in the contract's zone (a cut
    written with an offset is converted to it, one without is read in it)."""
    return naive_in_zone(times, zone) >= time_in_zone(current_from, zone)


SAME_DATA_ADVICE = (
    "For one file behind both raw entries, set ingestion.split.mode to 'fraction' (with "
    "current_share, e.g. 0.2: a share of the rows, chosen by id) or 'event_time' (with "
    f"current_from: rows at or after it are current) in {INGESTION_FILE}."
)


def refuse_same_files(same: bool, split: IngestionSplit) -> None:
    """Both raw entries holding the same rows cannot be split by file."""
    if same and split.mode == "files":
        raise DataContractViolation(
            "raw_reference and raw_current hold the same rows, but ingestion.split.mode is "
            "'files': every duplicated id resolves to the current copy, so no reference row "
            f"would be left. {SAME_DATA_ADVICE}"
        )


@on_dask("cirrus.pipelines.ingestion.on_dask:split_reference_current")
def split_reference_current(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    contract: DatasetContract,
    split: IngestionSplit,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop duplicate ids and split rows into reference (training) and current.

    Both inputs are validated tables whose PII is already treated. When both hold the same
    rows (one file behind both raw entries, modes `event_time` and `fraction`), one copy is
    split. Refused before training: a split that leaves no reference or no current row.
    """
    same = _same_rows(reference, current)
    refuse_same_files(same, split)
    parts = [reference.assign(**{_FROM_CURRENT: False})]
    if not same:
        parts.append(current.assign(**{_FROM_CURRENT: True}))
    union = pd.concat(parts, ignore_index=True)
    # One rule for every mode: the latest record of an id wins, wherever it came from.
    n_rows = len(union)
    union = latest_per_id(union, contract)
    dropped = n_rows - len(union)
    if dropped:
        logger.info(
            "Dropped %d row(s) of %d with a duplicated id '%s' (the latest of each id is kept).",
            dropped,
            n_rows,
            contract.id_column,
        )
    if split.mode == "files":
        is_current = union.pop(_FROM_CURRENT)
    else:
        union = union.drop(columns=_FROM_CURRENT)
        if split.mode == "event_time":
            is_current = _at_or_after(
                union[contract.event_time_column], str(split.current_from), contract.time_zone
            )
        else:
            is_current = _hashed_share(union, contract, split)
    ref = union[~is_current].reset_index(drop=True)
    cur = union[is_current].reset_index(drop=True)
    counts = f"{len(ref)} reference row(s), {len(cur)} current row(s)"
    if ref.empty:
        why = (
            " (every id of raw_reference is also in raw_current, whose copy wins: do both "
            "entries read the same data?)"
            if split.mode == "files" and len(reference)
            else ""
        )
        advice = f" {SAME_DATA_ADVICE}" if why else ""
        raise DataContractViolation(
            f"No reference rows left after the split ({split.describe()}): {counts}{why}; "
            f"check ingestion.split in {INGESTION_FILE}.{advice}"
        )
    _check_target_classes(ref, contract, "the reference rows")
    if cur.empty:
        raise DataContractViolation(
            f"No current rows left after the split ({split.describe()}): {counts}; the drift "
            f"report needs a current batch: check ingestion.split in {INGESTION_FILE}."
        )
    logger.info("Split (%s): %s.", split.describe(), counts)
    return ref, cur


@on_dask("cirrus.pipelines.ingestion.on_dask:report_ingestion")
def report_ingestion(
    validated_reference: pd.DataFrame,
    validated_current: pd.DataFrame,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    contract: DatasetContract,
    split: IngestionSplit,
) -> dict[str, Any]:
    """Row counts of ingestion: rows read, duplicate-id rows dropped, reference and current;
    and, per side of the split, how many values of each column lie outside its expected range
    (scored all the same, but worth a look: the model has not seen such values)."""
    same = _same_rows(validated_reference, validated_current)
    beyond = {
        "reference": out_of_range_counts(reference, contract),
        "current": out_of_range_counts(current, contract),
    }
    rows = (len(validated_reference), len(validated_current), len(reference), len(current))
    return ingestion_summary(split, contract, same, rows, beyond)


def ingestion_summary(
    split: IngestionSplit,
    contract: DatasetContract,
    same: bool,
    rows: tuple[int, int, int, int],
    beyond: dict[str, dict[str, int]],
) -> dict[str, Any]:
    """The ingestion report from its counts (rows read from each raw input, rows on each side
    of the split, values beyond the expected ranges), warning about the latter."""
    for side, counts in beyond.items():
        outside = {column: n for column, n in counts.items() if n}
        if outside:
            logger.warning(
                "Values outside the expected range (contract.columns.<column>.expected_min/max) "
                "in the %s rows, scored all the same: %s.",
                side,
                ", ".join(f"{column}: {n}" for column, n in outside.items()),
            )
    raw_reference, raw_current, n_reference, n_current = (int(n) for n in rows)
    n_read = raw_reference + (0 if same else raw_current)
    return {
        "split": split.model_dump(exclude_none=True),
        "raw_reference_rows": raw_reference,
        "raw_current_rows": raw_current,
        "same_rows_in_both": same,
        "id_column": contract.id_column,
        "duplicate_id_rows_dropped": n_read - n_reference - n_current,
        "reference_rows": n_reference,
        "current_rows": n_current,
        "out_of_expected_range": beyond,
    }

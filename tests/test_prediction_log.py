"""Tests of the prediction log: atomic appends, date partitions, windows and retention."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cirrus.prediction_log import (
    RECEIVED_AT,
    REQUEST_ID,
    TEMPORARY_PREFIX,
    PredictionLog,
    PredictionLogDataset,
)


def rows_at(*stamps: str, request: str = "r") -> pd.DataFrame:
    """Minimal log rows received at the given UTC times."""
    return pd.DataFrame(
        {
            REQUEST_ID: [f"{request}{i}" for i in range(len(stamps))],
            RECEIVED_AT: pd.DatetimeIndex(stamps, tz="UTC"),
            "score": [0.1 * i for i in range(len(stamps))],
        }
    )


@pytest.fixture
def log(tmp_path: Path) -> PredictionLog:
    """An empty log in a temporary folder."""
    return PredictionLog(fsspec.filesystem("file"), str(tmp_path / "log"))


def test_an_append_writes_one_new_file_per_date_and_never_rewrites(log: PredictionLog) -> None:
    first = log.append(rows_at("2026-03-01T10:00", "2026-03-02T09:00"))
    second = log.append(rows_at("2026-03-02T11:00", request="s"))

    assert sorted(p.split("/")[-2] for p in first) == ["date=2026-03-01", "date=2026-03-02"]
    assert set(first).isdisjoint(second)
    assert list(log.partitions()) == [date(2026, 3, 1), date(2026, 3, 2)]
    assert log.read()[REQUEST_ID].tolist() == ["r0", "r1", "s0"]


def test_a_file_a_killed_writer_left_half_written_is_never_read(log: PredictionLog) -> None:
    log.append(rows_at("2026-03-01T10:00"))
    folder = Path(log.partitions()[date(2026, 3, 1)])
    (folder / f"{TEMPORARY_PREFIX}dead-part.parquet").write_bytes(b"PAR1 cut short")

    assert log.read()[REQUEST_ID].tolist() == ["r0"]
    assert not [
        p for p in folder.iterdir() if p.name.startswith(TEMPORARY_PREFIX) and "dead" not in p.name
    ]


def test_the_window_counts_back_from_the_newest_row(log: PredictionLog) -> None:
    log.append(rows_at("2026-03-01T10:00", "2026-03-06T10:00", "2026-03-08T09:00"))

    assert log.window(days=3)[REQUEST_ID].tolist() == ["r1", "r2"]
    assert log.window(days=1)[REQUEST_ID].tolist() == ["r2"]
    until = datetime(2026, 3, 7, tzinfo=UTC)
    assert log.window(days=2, until=until)[REQUEST_ID].tolist() == ["r1"]


def test_an_empty_log_reads_as_no_rows(log: PredictionLog) -> None:
    assert log.read().empty and log.window(days=7).empty and log.partitions() == {}


def test_partitions_older_than_the_retention_are_deleted_on_write(tmp_path: Path) -> None:
    log = PredictionLog(fsspec.filesystem("file"), str(tmp_path / "log"), retention_days=30)
    today = datetime.now(UTC)
    old, recent = today - timedelta(days=40), today - timedelta(days=2)
    log.append(rows_at(old.isoformat(), recent.isoformat()))

    assert list(log.partitions()) == [recent.date()]


def test_the_dataset_appends_a_new_part_and_loads_the_log(tmp_path: Path) -> None:
    dataset = PredictionLogDataset(filepath=str(tmp_path / "log"))
    assert not dataset.exists()

    dataset.save(rows_at(datetime.now(UTC).isoformat()))
    PredictionLogDataset(filepath=str(tmp_path / "log")).save(
        rows_at(datetime.now(UTC).isoformat(), request="s")
    )

    assert dataset.exists()
    assert sorted(dataset.load().read()[REQUEST_ID]) == ["r0", "s0"]


def test_a_batch_without_text_values_is_written_with_the_same_schema(log: PredictionLog) -> None:
    # Arrange: one batch with a categorical value, a row id and an unseen level; one without
    full = rows_at("2026-03-01T10:00:00").assign(
        row_id=["a"], channel=["web"], unknown_columns=[["channel"]], out_of_range=[["age"]]
    )
    empty = rows_at("2026-03-01T11:00:00").assign(
        row_id=[None], channel=[None], unknown_columns=[[]], out_of_range=[[]]
    )

    # Act
    files = log.append(full) + log.append(empty)

    # Assert
    schemas = set()
    for path in files:
        with log.fs.open(path, "rb") as handle:
            schemas.add(str(pq.read_schema(handle).remove_metadata()))
    assert len(schemas) == 1, schemas
    assert pd.isna(log.read()["channel"].iloc[1])

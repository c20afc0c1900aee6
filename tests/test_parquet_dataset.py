"""Tests of cirrus.datasets.ParquetDataset: within a run, a load after a save gives the frame
that was saved (equal, dtypes included, to what the file gives back), never the same object, and
the file is read whenever it is no longer that frame."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.pipeline import node, pipeline
from kedro.runner import SequentialRunner
from kedro_datasets.pandas import ParquetDataset as PandasParquetDataset
from kedro_datasets.pandas import parquet_dataset

from cirrus.datasets import ParquetDataset


def _frame(n: int = 50) -> pd.DataFrame:
    """A frame with each kind of column the pipelines persist, nulls included."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": pd.array([f"A{i}" for i in range(n)], dtype="string"),
            "when": pd.date_range("2025-01-01", periods=n, freq="h"),
            "count": pd.array([i if i % 7 else None for i in range(n)], dtype="Int64"),
            "amount": rng.normal(size=n),
            "level": pd.Categorical(rng.choice(["a", "b", "__other__"], size=n)),
            "flag": rng.integers(0, 2, size=n).astype("int8"),
        },
        index=pd.RangeIndex(10, 10 + n),
    )


def test_a_load_after_a_save_equals_the_file_and_is_a_copy(tmp_path: Path) -> None:
    # Arrange
    path = str(tmp_path / "t.parquet")
    dataset, frame = ParquetDataset(filepath=path), _frame()

    # Act
    dataset.save(frame)
    kept = dataset.load()
    from_file = PandasParquetDataset(filepath=path).load()

    # Assert: the same values, dtypes and index as the file; a node's edit stays its own
    pd.testing.assert_frame_equal(kept, from_file)
    assert kept is not frame
    kept.loc[kept.index[0], "amount"] = 99.0
    assert dataset.load()["amount"].iloc[0] == frame["amount"].iloc[0] != 99.0


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    # Arrange: another writer replaces the file after the save
    path = str(tmp_path / "t.parquet")
    dataset = ParquetDataset(filepath=path)
    dataset.save(_frame(50))
    time.sleep(0.01)
    _frame(20).to_parquet(path)

    # Act / Assert
    assert len(dataset.load()) == 20


def test_a_deleted_file_is_not_served_from_memory(tmp_path: Path) -> None:
    # Arrange
    path = tmp_path / "t.parquet"
    dataset = ParquetDataset(filepath=str(path))
    dataset.save(_frame())
    path.unlink()

    # Act / Assert: the load fails as pandas.ParquetDataset's does
    with pytest.raises(Exception, match=r"t\.parquet"):
        dataset.load()


def test_release_forgets_the_frame(tmp_path: Path) -> None:
    # Arrange
    dataset = ParquetDataset(filepath=str(tmp_path / "t.parquet"))
    dataset.save(_frame())

    # Act
    dataset.release()

    # Assert: the next load reads the file
    assert dataset._saved is None
    pd.testing.assert_frame_equal(dataset.load(), _frame())


def test_column_selecting_load_args_read_the_file(tmp_path: Path) -> None:
    # Arrange
    dataset = ParquetDataset(filepath=str(tmp_path / "t.parquet"), load_args={"columns": ["id"]})

    # Act
    dataset.save(_frame())

    # Assert
    assert list(dataset.load().columns) == ["id"]


def test_on_object_storage_a_load_after_a_save_equals_the_stored_object() -> None:
    # Arrange: fsspec's in-memory store stands for a bucket
    url = f"memory://cirrus-test-{uuid.uuid4().hex}/t.parquet"
    dataset, frame = ParquetDataset(filepath=url), _frame()

    # Act
    dataset.save(frame)

    # Assert
    pd.testing.assert_frame_equal(dataset.load(), PandasParquetDataset(filepath=url).load())


def test_in_a_kedro_run_the_frame_is_released_after_its_last_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: one producer, two readers of its output; file reads are counted
    dataset = ParquetDataset(filepath=str(tmp_path / "t.parquet"))
    seen: list[bool] = []
    reads: list[str] = []
    read_parquet = pd.read_parquet
    monkeypatch.setattr(
        parquet_dataset.pd,
        "read_parquet",
        lambda path, **kw: reads.append(path) or read_parquet(path, **kw),
    )

    def readers_see(frame: pd.DataFrame) -> int:
        seen.append(dataset._saved is not None)
        return len(frame)

    catalog = DataCatalog(datasets={"table": dataset})
    flow = pipeline(
        [
            node(_frame, None, "table", name="make"),
            node(readers_see, "table", "n1", name="read1"),
            node(readers_see, "table", "n2", name="read2"),
        ]
    )

    # Act
    SequentialRunner().run(flow, catalog)

    # Assert: both readers were served from memory, and nothing is held after the run
    assert seen == [True, True]
    assert reads == []
    assert dataset._saved is None

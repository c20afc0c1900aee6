"""Tests of background Parquet writes: a run does not wait for its files, yet publishes only
whole ones, and a write that fails fails the run and changes no output."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.io.core import DatasetError
from kedro.pipeline import node, pipeline
from kedro.runner import SequentialRunner

from cirrus.datasets import ParquetDataset
from cirrus.hooks import AllOrNothingHooks
from cirrus.runs import writes


@pytest.fixture
def background() -> Iterator[None]:
    """Background writes on, as during a run; always finished afterwards."""
    writes.start()
    yield
    writes.finish(raise_errors=False)


def _hold_the_writer() -> threading.Event:
    """Queue a write that waits for the returned event, so later writes wait behind it."""
    release = threading.Event()
    writes.submit(release.wait, "a held write")
    return release


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"id": pd.array(["a", "b", "c"], dtype="string"), "x": [1.0, 2.0, 3.0]})


def test_a_save_in_a_run_returns_before_the_file_is_written(tmp_path: Path, background) -> None:
    # Arrange
    path = tmp_path / "t.parquet"
    dataset, frame = ParquetDataset(filepath=str(path)), _frame()
    release = _hold_the_writer()

    # Act
    dataset.save(frame)
    while_writing = dataset.load()
    existed_before = path.exists()
    release.set()
    writes.finish()

    # Assert: the next node got the frame at once; the file is whole after finish()
    assert not existed_before
    pd.testing.assert_frame_equal(while_writing, frame)
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)
    pd.testing.assert_frame_equal(dataset.load(), frame)


def test_outside_a_run_a_save_writes_at_once(tmp_path: Path) -> None:
    # Arrange
    path = tmp_path / "t.parquet"

    # Act
    ParquetDataset(filepath=str(path)).save(_frame())

    # Assert
    assert not writes.active()
    pd.testing.assert_frame_equal(pd.read_parquet(path), _frame())


def test_a_failed_background_write_is_raised_naming_the_file(tmp_path: Path, background) -> None:
    # Arrange: the file's folder cannot be made, because a file has its name
    (tmp_path / "blocked").write_text("not a folder")
    path = tmp_path / "blocked" / "t.parquet"
    dataset = ParquetDataset(filepath=str(path))

    # Act
    dataset.save(_frame())

    # Assert: waiting raises it, and so does reading the dataset
    with pytest.raises(DatasetError, match=r"Writing .*blocked/t\.parquet failed"):
        writes.wait()
    with pytest.raises(DatasetError, match=r"blocked/t\.parquet"):
        dataset.load()


def _mixed_types() -> pd.DataFrame:
    """A frame pyarrow cannot write: one column holds numbers and texts."""
    return pd.DataFrame({"value": pd.Series([1, "two", 3.0], dtype=object)})


@pytest.mark.parametrize("noticed", ["when publishing", "when the file is read"])
def test_a_run_whose_background_write_fails_fails_and_changes_no_output(
    tmp_path: Path, noticed: str
) -> None:
    # Arrange: a data root holding a good output from an earlier run
    root = tmp_path / "data"
    root.mkdir()
    good = _frame()
    good.to_parquet(root / "table.parquet")
    catalog = DataCatalog(
        datasets={
            "table": ParquetDataset(filepath=str(root / "table.parquet")),
            "count": ParquetDataset(filepath=str(root / "count.parquet")),
        }
    )
    hold = threading.Event()

    def count(table: pd.DataFrame) -> pd.DataFrame:
        hold.set()  # the held write may go on now that this node has its input
        return pd.DataFrame({"n": [len(table)]})

    flow = pipeline(
        [
            node(_mixed_types, None, "table", name="make"),
            node(count, "table", "count", name="count"),
        ]
    )
    hooks = AllOrNothingHooks()
    # The parts of Kedro's context the hook reads, and the order KedroSession.run calls it in.
    hooks.after_context_created(
        SimpleNamespace(config_loader={"globals": {"data_root": str(root)}}, project_path=tmp_path)
    )

    def run() -> None:
        hooks.before_pipeline_run(flow, catalog)
        if noticed == "when publishing":
            writes.submit(hold.wait, "a held write")  # the reader runs before the write
        try:
            SequentialRunner().run(flow, catalog)
        except Exception as error:
            hooks.on_pipeline_error(error)
            raise
        hooks.after_pipeline_run(catalog)

    # Act
    with pytest.raises(DatasetError, match=r"table\.parquet"):
        run()

    # Assert: the earlier output is untouched and the run's other output was not published
    pd.testing.assert_frame_equal(pd.read_parquet(root / "table.parquet"), good)
    assert not (root / "count.parquet").exists()
    assert not writes.active()

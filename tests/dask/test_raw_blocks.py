"""The dask environment's raw CSV reader: blocks read as text by pyarrow, pandas' C engine
where pyarrow cannot, and numbers typed as the pandas path's reader types them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask")

from cirrus.dask.datasets import PartitionedCSVDataset
from cirrus.datasets import CheckedCSVDataset
from cirrus.pipelines.ingestion.on_dask import _to_number

ROWS = 3000


def _table(n: int = ROWS) -> pd.DataFrame:
    """A raw table with ids, numbers (some missing), text with commas and quotes, and dates."""
    rng = np.random.default_rng(7)
    income = rng.normal(50_000, 9_000, n).round(2).astype(object)
    income[::97] = None
    return pd.DataFrame(
        {
            "id": [f"A-{i:05d}" for i in range(n)],
            "age": rng.integers(18, 90, n),
            "income": income,
            "note": [f'say "hi", {i}' if i % 5 == 0 else "" for i in range(n)],
            "seen": pd.date_range("2025-01-01", periods=n, freq="min").astype(str),
        }
    )


def _blocks(path: Path, blocksize: int) -> pd.DataFrame:
    """The file through the dask dataset, computed (the synchronous scheduler)."""
    frame = PartitionedCSVDataset(filepath=str(path), load_args={"blocksize": blocksize}).load()
    return frame, frame.compute(scheduler="sync").reset_index(drop=True)


def test_blocks_give_the_rows_of_the_whole_file_as_text(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    _table().to_csv(path, index=False)
    frame, rows = _blocks(path, 16_000)
    assert frame.npartitions > 5  # cut into blocks, each read with the header prepended
    expected = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    assert list(rows.columns) == list(expected.columns)
    assert all(isinstance(t, pd.StringDtype) for t in rows.dtypes)
    pd.testing.assert_frame_equal(rows.astype(object), expected.astype(object).fillna(pd.NA))


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + _table(50).to_csv(index=False).encode())
    _, rows = _blocks(path, 1_000)
    assert rows.columns[0] == "id"
    assert len(rows) == 50


def test_a_row_with_extra_fields_gets_pandas_error(tmp_path: Path) -> None:
    path = tmp_path / "extra.csv"
    text = _table().to_csv(index=False).splitlines()
    text[120] += ",surplus"  # far from the end: the file's own checks look at its last 64 KiB
    path.write_text("\n".join(text) + "\n")
    frame = PartitionedCSVDataset(filepath=str(path), load_args={"blocksize": 4_000}).load()
    with pytest.raises(pd.errors.ParserError, match="Expected 5 fields"):
        frame.compute(scheduler="sync")


def test_repeated_header_names_are_read_as_pandas_names_them(tmp_path: Path) -> None:
    path = tmp_path / "repeated.csv"
    path.write_text("a,a,b\n1,2,3\n4,5,6\n")
    _, rows = _blocks(path, 1_000)
    assert list(rows.columns) == ["a", "a.1", "b"]


@pytest.mark.parametrize(
    "values",
    [
        ["1", "2", "3"],
        ["1", None, "3"],
        ["1.5", "2", "-3e2", ".5", "5."],
        ["0.1", "2.675", "1e-7", "123456789.123456789"],
        ["inf", "-inf", "1"],
        ["0x10", "1"],
        [" 5", "6"],
        ["1,5"],
        ["abc", "1"],
    ],
)
def test_numbers_are_the_values_pandas_reads(values: list[str | None], tmp_path: Path) -> None:
    """Each column typed from text holds the numbers the pandas path's reader gives the same
    cells, or stays text where that reader finds some value is no number."""
    path = tmp_path / "n.csv"
    pd.DataFrame({"x": values}).to_csv(path, index=False)
    read = CheckedCSVDataset(filepath=str(path)).load()["x"]
    text = pd.Series(values, dtype=pd.StringDtype("pyarrow"), name="x")
    if pd.api.types.is_numeric_dtype(read):
        typed = _to_number(text)
        np.testing.assert_array_equal(typed.to_numpy("float64", na_value=np.nan), read.to_numpy())
    else:
        with pytest.raises((ValueError, TypeError)):
            _to_number(text)

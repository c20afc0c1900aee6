"""Tests of the raw-file datasets: a CSV that is empty, cut off or damaged is refused, naming the
file and the line; a whole file loads exactly as kedro-datasets' pandas.CSVDataset loads it."""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.io.core import DatasetError
from kedro_datasets.pandas import CSVDataset

from cirrus.datasets import TAIL_BYTES, CheckedCSVDataset, first_damage

HEADER = "id,name,amount,when"


def _rows(n: int) -> list[str]:
    return [f"A{i},name {i},{i}.5,2025-01-01 10:00:00" for i in range(n)]


def _write(path: Path, lines: list[str], end: str = "\n") -> Path:
    path.write_text("\n".join(lines) + end)
    return path


def _load_error(path: Path | str, **kwargs) -> str:
    """The message of the DatasetError that loading the file must raise."""
    with pytest.raises(DatasetError) as excinfo:
        CheckedCSVDataset(filepath=str(path), **kwargs).load()
    return str(excinfo.value)


def test_a_whole_file_loads_as_pandas_csv_dataset_loads_it(tmp_path: Path) -> None:
    # Arrange: a quoted field with the delimiter and a line break in it, load_args in use
    path = _write(tmp_path / "raw.csv", [HEADER, *_rows(3), 'A9,"Lee, Ann\nJr",1.0,'])
    load_args = {"dtype": {"id": "string"}, "parse_dates": ["when"]}

    # Act
    checked = CheckedCSVDataset(filepath=str(path), load_args=load_args).load()
    plain = CSVDataset(filepath=str(path), load_args=load_args).load()

    # Assert
    pd.testing.assert_frame_equal(checked, plain)
    assert checked["name"].iloc[-1] == "Lee, Ann\nJr"


def test_a_last_line_cut_short_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    # Arrange: the last row lost its last two fields (pandas would fill them with NaN)
    path = _write(tmp_path / "raw.csv", [HEADER, *_rows(5), "A5,name 5"], end="")

    # Act
    message = _load_error(path)

    # Assert
    assert f"Damaged CSV file '{path}', line 7:" in message
    assert "the row has 2 field(s), the header has 4" in message
    assert "cut off" in message


def test_an_unterminated_quote_is_refused_naming_the_line_it_opens_on(tmp_path: Path) -> None:
    # Arrange: a multi-line record first, so rows and lines differ
    lines = [HEADER, 'A0,"two\nlines",1.5,', *_rows(2), 'A7,"Ann Lee']
    path = _write(tmp_path / "raw.csv", lines, end="")

    # Act
    message = _load_error(path)

    # Assert: the header is line 1, the two-line record lines 2-3, then lines 4-5
    assert f"'{path}', line 6: a quoted field starting on this line is never closed" in message


def test_a_row_with_too_many_fields_names_its_line(tmp_path: Path) -> None:
    # Arrange
    lines = [HEADER, *_rows(3), "A3,name,1.0,2025-01-01,extra", *_rows(2)]
    path = _write(tmp_path / "raw.csv", lines)

    # Act
    message = _load_error(path)

    # Assert
    assert f"'{path}', line 5: the row has 5 field(s), the header has 4" in message


def test_a_cut_line_at_the_end_of_a_large_file_is_found(tmp_path: Path) -> None:
    # Arrange: larger than the window read at the end of the file
    rows = _rows(4000)
    path = _write(tmp_path / "raw.csv", [HEADER, *rows, "A4000,name 4000,1"], end="")
    assert path.stat().st_size > 2 * TAIL_BYTES

    # Act
    message = _load_error(path)

    # Assert
    assert f"line {len(rows) + 2}: the row has 3 field(s), the header has 4" in message


def test_a_quoted_field_across_the_window_start_is_no_false_alarm(tmp_path: Path) -> None:
    # Arrange: a long quoted field with many line breaks, whose lines look like short rows
    # from inside the window read at the end of the file
    long_field = "\n".join(f"note {i}, more" for i in range(TAIL_BYTES // 10))
    lines = [HEADER, *_rows(100), f'A100,"{long_field}",1.0,2025-01-01', *_rows(3)]
    path = _write(tmp_path / "raw.csv", lines)

    # Act
    frame = CheckedCSVDataset(filepath=str(path)).load()

    # Assert
    assert len(frame) == 104
    assert frame["name"].iloc[100] == long_field


def test_an_empty_file_says_empty_file_with_the_dataset_and_path(tmp_path: Path) -> None:
    # Arrange
    path = tmp_path / "raw.csv"
    path.write_bytes(b"")
    catalog = DataCatalog(datasets={"raw_current": CheckedCSVDataset(filepath=str(path))})

    # Act
    with pytest.raises(DatasetError) as excinfo:
        catalog.load("raw_current")

    # Assert
    message = str(excinfo.value)
    assert message.startswith(f"raw_current: '{path}' is an empty file (0 bytes)")
    assert "No columns to parse" not in message


def test_a_file_of_blank_lines_is_an_empty_file(tmp_path: Path) -> None:
    # Arrange
    path = tmp_path / "raw.csv"
    path.write_text("\n\n\n")

    # Act
    message = _load_error(path)

    # Assert
    assert f"'{path}' is an empty file: only blank lines, no header line" in message


def test_load_args_set_the_dialect_of_the_check(tmp_path: Path) -> None:
    # Arrange: semicolons, and a comma inside a field that is not a delimiter here
    path = tmp_path / "raw.csv"
    path.write_text("id;name;amount\nA0;Lee, Ann;1.5\nA1;Bo")

    # Act
    message = _load_error(path, load_args={"sep": ";"})

    # Assert
    assert "line 3: the row has 2 field(s), the header has 3" in message


def test_a_cut_file_on_object_storage_is_named_by_its_url() -> None:
    # Arrange: fsspec's in-memory filesystem stands for a bucket
    key = f"/bucket-{uuid.uuid4().hex}/raw.csv"
    fsspec.filesystem("memory").pipe(key, b"id,amount\nA0,1.5\nA1,2.5\nA2")

    # Act
    with pytest.raises(DatasetError) as excinfo:
        CheckedCSVDataset(filepath=f"memory://{key}").load()

    # Assert
    message = str(excinfo.value)
    assert f"Damaged CSV file 'memory://{key}', line 4: the row has 1 field(s)" in message


def test_saving_and_loading_round_trip(tmp_path: Path) -> None:
    # Arrange
    frame = pd.DataFrame({"id": ["A0", "A1"], "note": ['say "hi"', "a,b"]})
    dataset = CheckedCSVDataset(filepath=str(tmp_path / "raw.csv"))

    # Act
    dataset.save(frame)

    # Assert: the same values (text read back as Arrow-backed strings)
    pd.testing.assert_frame_equal(_as_pandas_text(dataset.load()), _as_pandas_text(frame))


def test_first_damage_counts_physical_lines_and_skips_blank_ones() -> None:
    # Arrange
    text = 'a,b\n\n1,"x\ny"\n2\n'

    # Act
    damage = first_damage(text.splitlines(keepends=True), {"delimiter": ","})

    # Assert
    assert damage == (5, "the row has 1 field(s), the header has 2")


# --- the pyarrow read ---------------------------------------------------------------------------

MIXED = [
    "id,when,day,amount,count,flag,label,empty,note",
    "A1,2025-01-01 10:00:00,2025-01-01,1.5,3,True,yes,,plain",
    "A2,2025-01-02 11:30:00,2025-01-02,,4,False,NA,,n/a",
    "A3,,2025-01-03,-inf,,True,no,,null",
    'A4,2025-01-04 09:15:00,,1e-3,7,False,"yes",,"quoted, with comma"',
]


def _as_pandas_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as one string dtype, so both readers' frames compare by value."""
    text = [
        c
        for c in frame.columns
        if frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype)
    ]
    return frame.astype({c: "string" for c in text})


def test_the_pyarrow_read_types_every_column_as_pandas_does(tmp_path: Path) -> None:
    # Arrange: ISO times and dates, floats with -inf and gaps, ints with gaps, booleans, NA texts
    path = _write(tmp_path / "mixed.csv", MIXED)

    # Act: pandas with an empty cell as the one missing text, as the checked dataset reads
    ours = CheckedCSVDataset(filepath=str(path)).load()
    only_empty = {"keep_default_na": False, "na_values": [""]}
    pandas = CSVDataset(filepath=str(path), load_args=only_empty).load()

    # Assert: same columns, numeric dtypes and values; dates stay text; text is Arrow-backed
    assert ours["id"].dtype == pd.StringDtype("pyarrow")
    assert ours["when"].dtype == pd.StringDtype("pyarrow")
    assert ours["empty"].dtype == pandas["empty"].dtype == "float64"
    numeric = ["amount", "count", "flag"]
    assert (ours[numeric].dtypes == pandas[numeric].dtypes).all()
    pd.testing.assert_frame_equal(_as_pandas_text(ours), _as_pandas_text(pandas))


def test_only_an_empty_cell_is_read_as_missing_and_na_texts_stay_text(tmp_path: Path) -> None:
    # Arrange: texts pandas would turn into nulls on its own
    path = _write(tmp_path / "na.csv", ["code,amount", "NA,1.5", "n/a,", "null,2.0", ",3.0"])

    # Act
    frame = CheckedCSVDataset(filepath=str(path)).load()

    # Assert: what means missing is the contract's `missing_values`, applied by validation
    assert frame["code"].tolist()[:3] == ["NA", "n/a", "null"] and pd.isna(frame["code"][3])
    assert frame["amount"].isna().tolist() == [False, True, False, False]


@pytest.mark.parametrize(
    "lines",
    [
        ["id,id,amount", "A1,A2,1.0"],  # a repeated header name
        ["id,,amount", "A1,x,1.0"],  # a blank header name
    ],
    ids=["repeated-name", "blank-name"],
)
def test_what_pyarrow_reads_differently_is_read_by_pandas(tmp_path: Path, lines: list[str]) -> None:
    # Arrange
    path = _write(tmp_path / "odd.csv", lines)

    # Act / Assert: exactly what pandas gives
    pd.testing.assert_frame_equal(
        CheckedCSVDataset(filepath=str(path)).load(), CSVDataset(filepath=str(path)).load()
    )


def test_a_quoted_line_break_is_read_as_pandas_reads_it(tmp_path: Path) -> None:
    # Arrange: enough rows for several of pyarrow's blocks, line breaks inside quotes throughout
    rows = [f'A{i},"Lee\nAnn {i}",{i}.5,2025-01-01 10:00:00' for i in range(40_000)]
    path = _write(tmp_path / "breaks.csv", [HEADER, *rows])

    # Act / Assert
    pd.testing.assert_frame_equal(
        _as_pandas_text(CheckedCSVDataset(filepath=str(path)).load()),
        _as_pandas_text(CSVDataset(filepath=str(path)).load()),
    )


def test_a_type_that_changes_after_the_first_block_is_read_by_pandas(tmp_path: Path) -> None:
    # Arrange: integers for well over pyarrow's first block, then a fraction
    rows = [f"A{i},{i}" for i in range(300_000)] + ["B1,0.5"]
    path = _write(tmp_path / "late.csv", ["id,amount", *rows])

    # Act
    frame = CheckedCSVDataset(filepath=str(path)).load()

    # Assert
    assert frame["amount"].dtype == "float64" and frame["amount"].iloc[-1] == 0.5
    assert len(frame) == 300_001

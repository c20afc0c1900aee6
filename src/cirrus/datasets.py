"""Dataset classes for raw files.

`CheckedCSVDataset` is kedro-datasets' `pandas.CSVDataset` (same arguments, same `load_args`)
that refuses a file pandas would read wrongly or explain badly:

- an empty (0-byte) file: "... is an empty file", not pandas' "No columns to parse from file";
- a row with too few fields (a last line cut short): pandas pads it with NaN silently;
- a quoted field never closed, or a row with too many fields: pandas' ParserError, reworded.

Each error names the file and the line. The field counts are checked on the last 64 KiB of the
file (where a cut transfer ends), so the check costs two small reads; only when something there
looks wrong, or pandas failed, is the whole file scanned to find the first damaged line.

Without `load_args`, the file is read by pyarrow's multithreaded CSV reader (3x faster than
pandas' C engine at 1M rows), typed as the C engine types it: the same numbers, the same missing
values, dates and times left as text for the contract to parse; text columns come as Arrow-backed
strings. Whatever pyarrow cannot read that way (a row with another number of fields, a type
that changes after the first block, repeated or blank header names) is read by the C engine,
which gives the errors above.

`OptionalCSVDataset` is the same for a file that may not exist yet (outcomes reported later): it
loads as None until it does.

`ParquetDataset` is kedro-datasets' `pandas.ParquetDataset` that, within one run, hands the
next node a copy of the frame it has just written instead of reading the file back; during a
run on local storage the file is written by a background thread (`cirrus.runs.writes`).
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import PurePosixPath
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from kedro.io import AbstractDataset
from kedro.io.core import (
    PROTOCOL_DELIMITER,
    DatasetError,
    get_filepath_str,
    get_protocol_and_path,
)
from kedro_datasets._typing import PlotlyPreview
from kedro_datasets.pandas import CSVDataset
from kedro_datasets.pandas import ParquetDataset as _PandasParquetDataset

from cirrus.pandas_options import ARROW_TEXT
from cirrus.runs import writes

TAIL_BYTES = 64 * 1024
# `load_args` under which the lines of the file are not the rows of the table (or pandas is
# told to tolerate bad lines): the field counts are then left unchecked.
_UNCHECKED_ARGS = (
    "chunksize",
    "comment",
    "delim_whitespace",
    "dialect",
    "iterator",
    "lineterminator",
    "nrows",
    "skipfooter",
    "skiprows",
)
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")
# Only an empty cell is read as missing: the texts that also mean missing ('NA', 'N/A'...) are
# the contract's `missing_values`, which validation applies; pandas' longer default list would
# decide that silently (and turn a level such as 'NA', Namibia, into a null).
_NULL_TEXT = [""]
_NULL_ARGS = {"keep_default_na": False, "na_values": _NULL_TEXT}
# Quoted line breaks are read as pandas reads them (at no measurable cost at 1M rows).
_PARSE = pacsv.ParseOptions(newlines_in_values=True)


def _arrow_options(as_text: dict[str, pa.DataType] | None = None) -> pacsv.ConvertOptions:
    """pyarrow's conversion, an empty cell as the one missing text (some columns kept as text)."""
    return pacsv.ConvertOptions(
        null_values=_NULL_TEXT,
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        column_types=as_text or {},
    )


def _typed_as_pandas(field: pa.Field) -> bool:
    """Whether pandas' C engine would give this pyarrow column the same values."""
    kind = field.type
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_string(kind)
        or pa.types.is_null(kind)
    )


def read_csv_with_pyarrow(file: Any) -> pd.DataFrame | None:
    """A CSV file typed as pandas' C engine types it, read by pyarrow; None where they differ.

    pyarrow infers each column's type from the first block and would read ISO dates as
    timestamps: a first look at that block finds those columns, which are then read as text.
    """
    try:
        schema = pacsv.open_csv(file, parse_options=_PARSE, convert_options=_arrow_options()).schema
        names = schema.names
        if len(set(names)) != len(names) or not all(names):
            return None  # pandas renames these ('a.1', 'Unnamed: 0')
        as_text = {f.name: pa.string() for f in schema if pa.types.is_temporal(f.type)}
        file.seek(0)
        table = pacsv.read_csv(file, parse_options=_PARSE, convert_options=_arrow_options(as_text))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if not all(_typed_as_pandas(field) for field in table.schema):
        return None
    frame = table.to_pandas(types_mapper={pa.string(): ARROW_TEXT}.get)
    empty = [f.name for f in table.schema if pa.types.is_null(f.type)]
    # An all-empty column: the C engine makes it float NaN, pyarrow a column of None.
    return frame.assign(**{name: np.full(len(frame), np.nan) for name in empty})


def read_csv_text(data: bytes, names: list[str]) -> pd.DataFrame | None:
    """CSV bytes (header line first) with every column as Arrow-backed text, an empty cell as
    missing, read by pyarrow on the calling thread; None where pyarrow cannot read them (the
    caller then reads them with pandas, for its errors)."""
    options = _arrow_options(dict.fromkeys(names, pa.string()))
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=_PARSE,
            convert_options=options,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if table.schema.names != names:
        return None
    return table.to_pandas(types_mapper={pa.string(): ARROW_TEXT}.get)


def first_damage(lines: Iterable[str], dialect: dict[str, Any]) -> tuple[int, str] | None:
    """The first damaged line of CSV text and what is wrong with it, or None.

    The first non-blank row (the header) sets the number of fields every row must have. Line
    numbers are those of the file (1 = the first line), where the damaged row starts.
    """
    reader = csv.reader(lines, strict=True, **dialect)
    expected: int | None = None
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return None
        except csv.Error as error:
            if "unexpected end of data" in str(error):
                return line, "a quoted field starting on this line is never closed"
            return line, f"it cannot be read as CSV ({error})"
        if not row:  # a blank line: pandas skips it
            continue
        if expected is None:
            expected = len(row)
        elif len(row) != expected:
            return line, f"the row has {len(row)} field(s), the header has {expected}"


def _rows(text: str, dialect: dict[str, Any]) -> list[list[str]]:
    """The non-blank rows of a piece of CSV text (raises csv.Error on broken quoting)."""
    return [row for row in csv.reader(io.StringIO(text, newline=""), strict=True, **dialect) if row]


class CheckedCSVDataset(CSVDataset):
    """A CSV file refused, naming the file and line, when it is empty, cut off or damaged; only
    an empty cell is read as missing unless `load_args` set `na_values` or `keep_default_na`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._asked_args = dict(self._load_args)  # what the catalog entry asked for
        if not {"na_values", "keep_default_na"} & set(self._load_args):
            self._load_args = {**self._load_args, **_NULL_ARGS}

    def load(self) -> pd.DataFrame:
        """Load like `pandas.CSVDataset`, after checking the file is whole."""
        path = get_filepath_str(self._get_load_path(), self._protocol)
        self.refuse_zero_bytes(path)
        frame = self._fast_load(path)
        try:
            frame = super().load() if frame is None else frame
        except DatasetError as error:
            cause = error.__cause__
            if isinstance(cause, pd.errors.EmptyDataError):
                raise DatasetError(self.blank_file_message(path)) from None
            if isinstance(cause, pd.errors.ParserError):
                raise DatasetError(self._parser_error(path, cause)) from None
            raise
        self.refuse_damaged_tail(path)
        return frame

    def refuse_zero_bytes(self, path: str) -> None:
        """An empty file (0 bytes) is named."""
        if self._fs.exists(path) and self._fs.size(path) == 0:
            raise DatasetError(
                f"{self._where(path)} is an empty file (0 bytes): expected a header line "
                "and at least one row"
            )

    def blank_file_message(self, path: str) -> str:
        """The error of a file of blank lines only."""
        return f"{self._where(path)} is an empty file: only blank lines, no header line"

    def refuse_damaged_tail(self, path: str) -> None:
        """A file that looks cut off at its end is scanned, and its damaged line named."""
        dialect = self._dialect(path)
        if dialect is not None and self._tail_looks_damaged(path, dialect):
            damage = self._scan(path, dialect)
            if damage is not None:
                raise DatasetError(self._damaged(path, *damage))

    def _fast_load(self, path: str) -> pd.DataFrame | None:
        """The file read by pyarrow when no `load_args` ask for pandas' options, else None."""
        if self._asked_args or path.lower().endswith(COMPRESSED_SUFFIXES):
            return None
        with self._fs.open(path, mode="rb") as file:
            return read_csv_with_pyarrow(file)

    def _where(self, path: str) -> str:
        """The file as a person finds it: its path, or its URL on object storage."""
        if self._protocol == "file":
            return f"'{path}'"
        return f"'{self._protocol}{PROTOCOL_DELIMITER}{path}'"

    def _damaged(self, path: str, line: int, problem: str) -> str:
        return (
            f"Damaged CSV file {self._where(path)}, line {line}: {problem}. The file looks cut "
            "off or corrupted; replace it with a complete copy"
        )

    def _parser_error(self, path: str, error: Exception) -> str:
        """pandas' parse error as the damaged line, when the file can be scanned to find it."""
        dialect = self._dialect(path)
        damage = self._scan(path, dialect) if dialect is not None else None
        if damage is not None:
            return self._damaged(path, *damage)
        return f"{self._where(path)} cannot be read as CSV: {error}"

    def _encoding(self) -> str:
        return self._load_args.get("encoding") or "utf-8"

    def _dialect(self, path: str) -> dict[str, Any] | None:
        """The csv-module dialect of pandas' `load_args`, or None when lines cannot be checked."""
        args = self._load_args
        if any(args.get(name) not in (None, False) for name in _UNCHECKED_ARGS):
            return None
        if args.get("on_bad_lines", "error") != "error":
            return None
        if args.get("header", "infer") not in ("infer", 0, None):
            return None
        compression = args.get("compression", "infer")
        if compression not in (None, "infer") or (
            compression == "infer" and path.lower().endswith(COMPRESSED_SUFFIXES)
        ):
            return None
        try:
            if "\n".encode(self._encoding()) != b"\n":  # UTF-16 and the like
                return None
        except LookupError:
            return None
        delimiter = args.get("sep", args.get("delimiter", ","))
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            return None  # None (sniffed) or a regular expression
        dialect: dict[str, Any] = {
            "delimiter": delimiter,
            "quotechar": args.get("quotechar", '"'),
            "doublequote": args.get("doublequote", True),
            "escapechar": args.get("escapechar"),
            "skipinitialspace": args.get("skipinitialspace", False),
        }
        if "quoting" in args:
            dialect["quoting"] = args["quoting"]
        return dialect

    def _tail_looks_damaged(self, path: str, dialect: dict[str, Any]) -> bool:
        """Whether a row near the end has another number of fields than the header.

        Cheap and cautious: a window starting inside a quoted field may look damaged when it
        is not, so a suspicion is always confirmed by a scan of the whole file.
        """
        size = self._fs.size(path)
        if not size:
            return False
        with self._fs.open(path, mode="rb") as file:
            head = file.read(min(size, TAIL_BYTES))
            start = max(0, size - TAIL_BYTES)
            file.seek(start)
            tail = file.read()
        if start > 0:  # drop the partial line the window starts in
            tail = tail[tail.find(b"\n") + 1 :] if b"\n" in tail else b""
        encoding = self._encoding()
        try:
            header = _rows(head.decode(encoding, errors="replace"), dialect)[:1]
            rows = _rows(tail.decode(encoding, errors="replace"), dialect)
        except csv.Error:
            return True
        if not header:
            return False
        return any(len(row) != len(header[0]) for row in rows)

    def _scan(self, path: str, dialect: dict[str, Any]) -> tuple[int, str] | None:
        """The first damaged line of the whole file, or None."""
        with self._fs.open(path, mode="rb") as raw:
            text = io.TextIOWrapper(
                raw,
                encoding=self._encoding(),
                errors=self._load_args.get("encoding_errors", "strict"),
                newline="",
            )
            return first_damage(text, dialect)


class OptionalCSVDataset(CheckedCSVDataset):
    """A checked CSV that may not exist yet (outcomes reported later): loads as None until then.

    It always counts as present, so a run that reads it does not stop for a missing input; a file
    that exists is checked exactly as `CheckedCSVDataset` checks it.
    """

    def load(self) -> pd.DataFrame | None:
        """The table, or None while the file does not exist."""
        path = get_filepath_str(self._get_load_path(), self._protocol)
        if not self._fs.exists(path):
            return None
        return super().load()

    def _exists(self) -> bool:
        """Present for the run's inputs check, file or not (see the class docstring)."""
        return True


# `load_args` that make a load differ from the saved frame (a subset of columns or rows): with
# any of them the file is read, as usual.
_RESHAPING_ARGS = ("columns", "filters", "dtype_backend", "engine", "use_nullable_dtypes")


class ParquetDataset(_PandasParquetDataset):
    """`pandas.ParquetDataset` that gives back, within one run, the frame it has just saved.

    Kedro's runner saves every output and reads it back for each node that needs it; at 1M
    rows the reads cost about as much as the nodes that produce the frames. The frame saved is
    kept in memory until the runner releases the dataset (after its last reader), and each
    load returns a copy of it, so a node that changes its input changes only its own copy,
    as with a frame read from the file. The file is read as usual when it has changed since the
    save (another size or modification time), when another path is loaded (a relocated or
    versioned dataset) or when `load_args` select columns or rows.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """The arguments of `pandas.ParquetDataset`."""
        super().__init__(*args, **kwargs)
        # (path, the write's future giving the file's stamp, the frame): see load().
        self._saved: tuple[str, Future, pd.DataFrame] | None = None

    def load(self) -> pd.DataFrame:
        """The frame saved in this run (a copy) while the file still holds it, else the file."""
        path = get_filepath_str(self._get_load_path(), self._protocol)
        if self._saved is not None:
            saved_path, written, frame = self._saved
            if saved_path == path and not written.done():
                return frame.copy()  # the file is still being written from this very frame
            whole = saved_path == path and written.exception() is None
            if whole and self._stamp(path) == written.result():
                return frame.copy()
            self._saved = None
        writes.wait()  # another dataset may be writing the file this one reads
        return super().load()

    def save(self, data: pd.DataFrame) -> None:
        """Write the file (in the background during a local run), and keep the frame for the
        loads of this run."""
        self._saved = None
        keep = not any(name in self._load_args for name in _RESHAPING_ARGS)
        path = get_filepath_str(self._get_save_path(), self._protocol)
        if keep and writes.active() and self._protocol == "file" and self._version is None:
            written = writes.submit(lambda: self._write(data, path), path)
        else:
            written = writes.done(self._write(data, path))
        if keep:
            self._saved = (path, written, data)

    def _write(self, data: pd.DataFrame, path: str) -> tuple[Any, Any] | None:
        """Write the file as `pandas.ParquetDataset` does; return its stamp."""
        _PandasParquetDataset.save(self, data)
        return self._stamp(path)

    def _stamp(self, path: str) -> tuple[Any, Any] | None:
        """The file's size and modification time (None when it is gone)."""
        try:
            info = self._fs.info(path)
        except FileNotFoundError:
            return None
        return info.get("size"), info.get(
            "mtime", info.get("LastModified", info.get("last_modified"))
        )

    def _release(self) -> None:
        """Forget the saved frame, as the runner is done with this dataset."""
        self._saved = None
        super()._release()


class PlotlyFiguresDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """A set of plotly figures by name: one plotly JSON file each, `<folder>/<name>.json`.

    A node returns only the figures that apply (the evaluation draws a task's own panels), so
    the catalog holds one entry, not one per figure a task may lack. Saving replaces the set:
    a figure the new set does not hold (from a run of another task) does not linger. Kedro-Viz
    previews the set as one figure with a panel each.
    """

    SUFFIX = ".json"
    PREVIEW_COLUMNS = 2

    def __init__(
        self,
        *,
        filepath: str,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Figures under the folder `filepath` (any fsspec URL)."""
        protocol, path = get_protocol_and_path(filepath)
        self._protocol = protocol
        self._filepath = PurePosixPath(path)
        self._fs = fsspec.filesystem(protocol, **(credentials or {}), **(fs_args or {}))
        self.metadata = metadata

    def _folder(self) -> str:
        return get_filepath_str(self._filepath, self._protocol)

    def _files(self) -> dict[str, str]:
        """The figure files in the folder, by figure name, sorted."""
        folder = self._folder()
        self._fs.invalidate_cache(folder)
        if not self._fs.isdir(folder):
            return {}
        paths = self._fs.glob(f"{folder}/*{self.SUFFIX}")
        return {posixpath.basename(p)[: -len(self.SUFFIX)]: p for p in sorted(paths)}

    def load(self) -> dict[str, Any]:
        """Every figure in the folder, by name."""
        import plotly.io as pio

        files = self._files()
        if not files:
            raise DatasetError(f"No plotly figures (*{self.SUFFIX}) in {self._folder()}")
        return {
            name: pio.from_json(self._fs.cat_file(path).decode()) for name, path in files.items()
        }

    def save(self, data: dict[str, Any]) -> None:
        """Write each figure as `<name>.json`, after removing the figures saved before."""
        folder = self._folder()
        for path in self._files().values():
            self._fs.rm(path)
        self._fs.makedirs(folder, exist_ok=True)
        for name, figure in data.items():
            self._fs.pipe_file(f"{folder}/{name}{self.SUFFIX}", figure.to_json().encode())
        self._fs.invalidate_cache(folder)

    def _exists(self) -> bool:
        return bool(self._files())

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol}

    def preview(self) -> PlotlyPreview:
        """The set as one figure for Kedro-Viz: a panel per figure, titled as the figure."""
        from plotly.subplots import make_subplots

        figures = self.load()
        columns = min(self.PREVIEW_COLUMNS, len(figures))
        rows = -(-len(figures) // columns)
        titles = [figure.layout.title.text or name for name, figure in figures.items()]
        grid = make_subplots(rows=rows, cols=columns, subplot_titles=titles)
        for index, figure in enumerate(figures.values()):
            place = {"row": index // columns + 1, "col": index % columns + 1}
            for trace in figure.data:
                if hasattr(trace, "showscale"):
                    trace.showscale = False  # a colour bar would sit over the next panel
                grid.add_trace(trace, **place)
            grid.update_xaxes(title_text=figure.layout.xaxis.title.text, **place)
            grid.update_yaxes(
                title_text=figure.layout.yaxis.title.text,
                autorange=figure.layout.yaxis.autorange,
                **place,
            )
        grid.update_layout(height=380 * rows, showlegend=False)
        return json.loads(grid.to_json())

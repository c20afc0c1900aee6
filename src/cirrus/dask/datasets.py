"""Partitioned tables as Dask DataFrames: a Parquet folder (written and read back by every
stage) and the raw CSV input (a file, a folder or a glob, read in blocks).

Both keep a dataset's location where the rest of Cirrus looks for it (`_filepath`, `_protocol`,
`_fs`; see `cirrus.catalog`), so all-or-nothing staging, the run lock and recovery treat a
partitioned output like any other: its folder is staged, then published whole.
"""

from __future__ import annotations

import csv
import io
from pathlib import PurePosixPath
from typing import Any

import dask.dataframe as dd
import fsspec
import pandas as pd
from dask.utils import parse_bytes
from fsspec.utils import read_block
from kedro.io import AbstractDataset, DatasetError
from kedro.io.core import get_filepath_str, get_protocol_and_path

from cirrus.dask.cluster import current_settings
from cirrus.datasets import COMPRESSED_SUFFIXES, CheckedCSVDataset, read_csv_text
from cirrus.pandas_options import ARROW_TEXT

_BOM = b"\xef\xbb\xbf"
_HEADER_BYTES = 1 << 20  # a header line longer than this is read by pandas' own block reader


class _Located:
    """A dataset at a path or URL, with the storage options its filesystem is opened with."""

    def _locate(self, filepath: str, credentials: dict | None, fs_args: dict | None) -> None:
        protocol, path = get_protocol_and_path(filepath)
        self._protocol = protocol
        self._filepath = PurePosixPath(path)
        self._storage_options = {**(credentials or {}), **(fs_args or {})}
        self._fs = fsspec.filesystem(self._protocol, **self._storage_options)

    def _url(self) -> str:
        """The path as Dask opens it (with the protocol for object storage)."""
        return get_filepath_str(self._filepath, self._protocol)


class PartitionedParquetDataset(_Located, AbstractDataset[Any, dd.DataFrame]):
    """A folder of Parquet files, loaded as a Dask DataFrame (one partition per file)."""

    def __init__(
        self,
        filepath: str,
        credentials: dict[str, Any] | None = None,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._locate(filepath, credentials, fs_args)
        self._load_args = dict(load_args or {})
        self._save_args = dict(save_args or {})
        self.metadata = metadata

    def load(self) -> dd.DataFrame:
        """The folder's files as one Dask DataFrame, read lazily."""
        return dd.read_parquet(
            self._url(), storage_options=self._storage_options, **self._load_args
        )

    def save(self, data: Any) -> None:
        """Write every partition (computing them on the cluster); a pandas frame is split first."""
        if isinstance(data, pd.DataFrame):
            rows = current_settings().partition_rows
            data = dd.from_pandas(data, npartitions=max(1, -(-len(data) // rows)), sort=False)
        if not isinstance(data, dd.DataFrame):
            raise DatasetError(
                f"{self._url()}: expected a Dask or pandas DataFrame, got {type(data).__name__}."
            )
        data.to_parquet(
            self._url(),
            write_index=False,
            storage_options=self._storage_options,
            **self._save_args,
        )

    def _exists(self) -> bool:
        return self._fs.exists(str(self._filepath))

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._url(), "load_args": self._load_args}


def _header_line(fs: Any, path: str) -> bytes | None:
    """A file's first line (with its line break), or None when it is blank or very long."""
    with fs.open(path, mode="rb") as file:
        head = file.read(_HEADER_BYTES)
    line, found, _ = head.partition(b"\n")
    if not found or not line.strip():
        return None
    return line + b"\n"


def _names(header: bytes) -> list[str] | None:
    """The column names of a header line, or None when pandas would rename some (repeated or
    blank names become 'a.1', 'Unnamed: 0')."""
    try:
        names = next(csv.reader([header.removeprefix(_BOM).decode("utf-8")]))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return None
    if not names or len(set(names)) != len(names) or not all(n.strip() for n in names):
        return None
    return names


def text_block(
    block: tuple[str, int, int], header: bytes, names: list[str], storage_options: dict
) -> pd.DataFrame:
    """One block of a CSV file (url, offset, length; cut at line breaks) as text columns: by
    pyarrow, or by pandas' C engine where pyarrow cannot read it (and then with its errors)."""
    url, offset, length = block
    with fsspec.open(url, mode="rb", **storage_options) as file:
        data = read_block(file, offset, length, delimiter=b"\n")
    data = data if offset == 0 else header + data
    frame = read_csv_text(data.removeprefix(_BOM), names)
    if frame is None:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_values=[""])
        frame = frame.astype(ARROW_TEXT)
    return frame


class PartitionedCSVDataset(_Located, AbstractDataset[None, dd.DataFrame]):
    """Raw CSV (a file, a folder of files or a glob) read in blocks of `blocksize` bytes, every
    column as text: the contract types each partition alike (`cirrus.dask.validation`), where
    Dask's own guess from the first block could differ from a later one's. Each file is checked
    as `cirrus.datasets.CheckedCSVDataset` checks it (empty, blank, cut off), with its messages."""

    def __init__(
        self,
        filepath: str,
        credentials: dict[str, Any] | None = None,
        load_args: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._locate(filepath, credentials, fs_args)
        self._credentials = credentials
        self._load_args = {"blocksize": "64MB", **(load_args or {})}
        self.metadata = metadata

    def _files(self) -> list[str]:
        """The CSV files behind the dataset: the file, the folder's *.csv, or the glob's."""
        target = str(self._filepath)
        if self._fs.isdir(target):
            return sorted(self._fs.glob(f"{target.rstrip('/')}/*.csv"))
        return sorted(self._fs.glob(target)) if any(c in target for c in "*?[") else [target]

    def _checker(self, path: str) -> CheckedCSVDataset:
        """The pandas path's dataset for one file, used for its checks only."""
        url = path if self._protocol == "file" else f"{self._protocol}://{path}"
        return CheckedCSVDataset(filepath=url, credentials=self._credentials)

    def _blocks(self, files: list[str]) -> list[tuple[str, int, int]]:
        """Each file's blocks of `blocksize` bytes: (url, offset, length)."""
        size = self._load_args["blocksize"]
        blocksize = parse_bytes(size) if isinstance(size, str) else size
        blocks = []
        for path, url in zip(files, self._urls(files), strict=True):
            total = self._fs.size(path)
            step = blocksize or total or 1
            blocks += [(url, offset, step) for offset in range(0, max(total, 1), step)]
        return blocks

    def _urls(self, files: list[str]) -> list[str]:
        """The files as Dask and fsspec open them."""
        return [
            path if self._protocol == "file" else f"{self._protocol}://{path}" for path in files
        ]

    def _read_by_blocks(self, files: list[str]) -> dd.DataFrame | None:
        """The files' blocks read as text by pyarrow (`text_block`), or None where pandas' own
        block reader must read them: other `load_args`, compressed files, a header pandas would
        rename or files whose headers differ."""
        if set(self._load_args) - {"blocksize"} or any(
            f.lower().endswith(COMPRESSED_SUFFIXES) for f in files
        ):
            return None
        headers = {_header_line(self._fs, path) for path in files}
        header = headers.pop() if len(headers) == 1 else None
        names = _names(header) if header else None
        if names is None:
            return None
        meta = pd.DataFrame({name: pd.Series(dtype=ARROW_TEXT) for name in names})
        return dd.from_map(
            text_block,
            self._blocks(files),
            header=header,
            names=names,
            storage_options=self._storage_options,
            meta=meta,
            label="read-csv-text",
            enforce_metadata=False,
        )

    def load(self) -> dd.DataFrame:
        """The rows as text columns, partitioned by block, after each file's checks."""
        files = self._files()
        if not files or not all(self._fs.exists(path) for path in files):
            raise DatasetError(f"{self._url()}: no CSV file found.")
        for path in files:
            checker = self._checker(path)
            checker.refuse_zero_bytes(path)
            checker.refuse_damaged_tail(path)
        by_blocks = self._read_by_blocks(files)
        if by_blocks is not None:
            return by_blocks
        urls = self._urls(files)
        try:
            return dd.read_csv(
                urls,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                storage_options=self._storage_options,
                **self._load_args,
            )
        except pd.errors.EmptyDataError:
            raise DatasetError(self._checker(files[0]).blank_file_message(files[0])) from None

    def save(self, data: Any) -> None:
        """Write the rows as one CSV file (the demo-data generator's output)."""
        if isinstance(data, pd.DataFrame):
            data = dd.from_pandas(data, npartitions=1)
        data.to_csv(
            self._url(), index=False, single_file=True, storage_options=self._storage_options
        )

    def _exists(self) -> bool:
        return bool(self._files()) and all(self._fs.exists(path) for path in self._files())

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._url(), "load_args": self._load_args}

"""The prediction log: every scored row, from batch scoring and from the API, in one schema.

Parquet files partitioned by date, `<root>/date=YYYY-MM-DD/part-<time>-<id>.parquet`. A write
never changes an existing file: it adds a new one, written under a temporary name and renamed
into place (on object storage one PUT), so a reader or a killed writer never sees half a file.
Partitions older than the retention are deleted on write.
"""

from __future__ import annotations

import logging
import posixpath
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

import cirrus.pandas_options  # noqa: F401  (text as Arrow-backed strings)
from cirrus.feature_spec import FeatureSpec
from cirrus.modeling import PREDICTION
from cirrus.scoring import Scorer, score_columns

logger = logging.getLogger(__name__)
REQUEST_ID = "request_id"
RECEIVED_AT = "received_at"
MODEL_VERSION = "model_version"
FEATURE_SPEC_HASH = "feature_spec_hash"
SOURCE = "source"
ROW_ID = "row_id"
UNKNOWN_COLUMNS = "unknown_columns"
# The columns whose value lay outside the contract's expected range (scored all the same).
OUT_OF_RANGE = "out_of_range"
# The columns every log row has, before the feature values and the prediction.
HEADER = (
    REQUEST_ID,
    RECEIVED_AT,
    MODEL_VERSION,
    FEATURE_SPEC_HASH,
    SOURCE,
    ROW_ID,
    UNKNOWN_COLUMNS,
    OUT_OF_RANGE,
)
PARTITION_PREFIX = "date="
TEMPORARY_PREFIX = ".tmp-"


def log_identity(
    request_id: str, received_at: datetime, scorer: Scorer, source: str
) -> dict[str, str]:
    """Who asked and when, which model and feature spec answered, through what (batch or API):
    the identity of a scoring, the same for batch scoring and the API (`log_rows`)."""
    return {
        REQUEST_ID: request_id,
        RECEIVED_AT: received_at.isoformat(),
        MODEL_VERSION: scorer.model_version,
        FEATURE_SPEC_HASH: scorer.feature_spec_hash,
        SOURCE: source,
    }


def log_rows(
    features: pd.DataFrame,
    predictions: pd.DataFrame,
    unknown: list[list[str]],
    spec: FeatureSpec,
    identity: dict[str, str],
    row_ids: pd.Series | None,
    out_of_range: list[list[str]] | None = None,
) -> pd.DataFrame:
    """Log rows for scored rows: who scored them when, the feature values used, the prediction.

    `identity` holds request_id, received_at (ISO), model_version, feature_spec_hash and source
    (`log_identity`). `out_of_range` lists, per row, the columns outside their expected range
    (`cirrus.validation.out_of_range_columns`); unset: none.
    """
    n = len(features)
    received = pd.Timestamp(identity[RECEIVED_AT]).tz_convert("UTC")
    columns: dict[str, Any] = {
        REQUEST_ID: [identity[REQUEST_ID]] * n,
        RECEIVED_AT: pd.DatetimeIndex([received] * n, tz="UTC"),
        MODEL_VERSION: [identity[MODEL_VERSION]] * n,
        FEATURE_SPEC_HASH: [identity[FEATURE_SPEC_HASH]] * n,
        SOURCE: [identity[SOURCE]] * n,
        ROW_ID: (
            [None] * n
            if row_ids is None
            else [None if pd.isna(v) else str(v) for v in row_ids.to_numpy()]
        ),
        UNKNOWN_COLUMNS: unknown,
        OUT_OF_RANGE: out_of_range if out_of_range is not None else [[] for _ in range(n)],
    }
    for column in spec.feature_columns:
        values = features[column].reset_index(drop=True)
        if column in spec.categories:
            columns[column] = values.astype("string").to_numpy(dtype=object, na_value=None)
        else:
            columns[column] = values.astype("float64").to_numpy()
    for column in [*score_columns(spec), PREDICTION]:
        columns[column] = predictions[column].to_numpy()
    return pd.DataFrame(columns)


def _partition_date(name: str) -> date | None:
    """The date a partition folder holds, or None for anything else under the root."""
    if not name.startswith(PARTITION_PREFIX):
        return None
    try:
        return date.fromisoformat(name.removeprefix(PARTITION_PREFIX))
    except ValueError:
        return None


class PredictionLog:
    """Append-only, date-partitioned Parquet on any fsspec filesystem."""

    def __init__(self, fs: Any, root: str, retention_days: int | None = None) -> None:
        self.fs, self.root, self.retention_days = fs, root.rstrip("/"), retention_days

    def partitions(self) -> dict[date, str]:
        """Each date partition and its folder."""
        try:
            entries = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return {}
        found = {}
        for entry in entries:
            day = _partition_date(posixpath.basename(entry.rstrip("/")))
            if day is not None:
                found[day] = entry.rstrip("/")
        return dict(sorted(found.items()))

    def file_for(self, day: date) -> str:
        """A new, unique file name in a date's partition."""
        stamp = datetime.now(UTC).strftime("%H%M%S%f")
        part = f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
        return f"{self.root}/{PARTITION_PREFIX}{day.isoformat()}/{part}"

    def append(self, rows: pd.DataFrame) -> list[str]:
        """Add rows as new files, one per date of `received_at`; returns the files written."""
        if rows.empty:
            return []
        days = pd.DatetimeIndex(rows[RECEIVED_AT]).tz_convert("UTC").date
        written = []
        for day in sorted(set(days)):
            path = self.file_for(day)
            write_parquet(self.fs, rows[days == day].reset_index(drop=True), path)
            written.append(path)
        self.prune()
        return written

    def prune(self, today: date | None = None) -> list[str]:
        """Delete partitions older than the retention; returns the folders deleted."""
        if not self.retention_days:
            return []
        oldest = (today or datetime.now(UTC).date()) - timedelta(days=self.retention_days)
        old = [folder for day, folder in self.partitions().items() if day < oldest]
        for folder in old:
            self.fs.rm(folder, recursive=True)
        return old

    def read(self, since: date | None = None, until: date | None = None) -> pd.DataFrame:
        """Every logged row in the partitions from `since` to `until` (inclusive), oldest first."""
        frames = []
        for day, folder in self.partitions().items():
            if (since and day < since) or (until and day > until):
                continue
            files = sorted(
                f
                for f in self.fs.ls(folder, detail=False)
                if f.endswith(".parquet") and not posixpath.basename(f).startswith(".")
            )
            for path in files:
                with self.fs.open(path, "rb") as handle:
                    frames.append(pq.read_table(handle).to_pandas())
        if not frames:
            return pd.DataFrame(columns=list(HEADER))
        rows = pd.concat(frames, ignore_index=True)
        return rows.sort_values(RECEIVED_AT, kind="stable").reset_index(drop=True)

    def request_ids(self) -> set[str]:
        """Every request id in the log (read from that column alone)."""
        found: set[str] = set()
        for folder in self.partitions().values():
            for path in self.fs.ls(folder, detail=False):
                if path.endswith(".parquet") and not posixpath.basename(path).startswith("."):
                    with self.fs.open(path, "rb") as handle:
                        column = pq.read_table(handle, columns=[REQUEST_ID]).column(0)
                    found.update(column.to_pylist())
        return found

    def window(self, days: int, until: datetime | None = None) -> pd.DataFrame:
        """The rows received in the `days` days up to `until` (default: the newest row)."""
        if until is None:
            newest = self.partitions()
            if not newest:
                return self.read()
            last = self.read(since=max(newest))
            until = pd.Timestamp(last[RECEIVED_AT].max()).to_pydatetime()
        start = until - timedelta(days=days)
        rows = self.read(since=start.date(), until=until.date())
        received = pd.DatetimeIndex(rows[RECEIVED_AT]).tz_convert("UTC")
        keep = (received > pd.Timestamp(start)) & (received <= pd.Timestamp(until))
        return rows[keep].reset_index(drop=True)


def _text_where_untyped(data_type: pa.DataType) -> pa.DataType:
    """Text in place of Arrow's `null` type, also inside lists."""
    if pa.types.is_null(data_type):
        return pa.string()
    if pa.types.is_list(data_type) and pa.types.is_null(data_type.value_type):
        return pa.list_(pa.string())
    return data_type


def log_table(frame: pd.DataFrame) -> pa.Table:
    """Log rows as an Arrow table whose types do not depend on the values in this batch.

    A text column with no value in a batch (a categorical feature nobody sent, `row_id` without
    ids) and `unknown_columns` or `out_of_range` holding only empty lists would be inferred as
    `null` and `list<null>`: every file of the log must have the same schema, so they are text.
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    schema = pa.schema(
        [field.with_type(_text_where_untyped(field.type)) for field in table.schema],
        metadata=table.schema.metadata,
    )
    return table.cast(schema)


def write_parquet(fs: Any, frame: pd.DataFrame, path: str) -> None:
    """Write a Parquet file whole: under a temporary name in its folder, then renamed."""
    folder = posixpath.dirname(path)
    fs.makedirs(folder, exist_ok=True)
    temporary = f"{folder}/{TEMPORARY_PREFIX}{uuid.uuid4().hex[:8]}-{posixpath.basename(path)}"
    table = log_table(frame)
    with fs.open(temporary, "wb") as handle:
        pq.write_table(table, handle)
    fs.mv(temporary, path)


class PredictionLogDataset(AbstractDataset[pd.DataFrame, PredictionLog]):
    """The prediction log as a catalog entry: loads as a `PredictionLog`, saves by appending.

    `filepath` is the log's root folder. A save writes one new file (today's partition), so the
    run's all-or-nothing staging moves that file alone into place when the run succeeds.
    """

    def __init__(
        self,
        filepath: str,
        retention_days: int | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **(credentials or {}), **(fs_args or {}))
        self._root = path.rstrip("/")
        self._retention_days = retention_days
        self.metadata = metadata
        # The file the next save writes: a new part of today's partition.
        self._filepath = self.log().file_for(datetime.now(UTC).date())

    def log(self) -> PredictionLog:
        """The log behind this entry."""
        return PredictionLog(self._fs, self._root, self._retention_days)

    def load(self) -> PredictionLog:
        """The log, to read a window of (reading nothing yet)."""
        return self.log()

    def save(self, data: pd.DataFrame) -> None:
        """Append scored rows as one new file, then apply the retention."""
        if data.empty:
            raise DatasetError("No rows to append to the prediction log.")
        batches = set(data[REQUEST_ID])
        if batches <= self.log().request_ids():
            # The same input scored by the same model again (`batch_id`): logged once.
            logger.info(
                "Prediction log: %s is already logged (the same rows, the same model); "
                "not appended again.",
                ", ".join(sorted(batches)),
            )
            return
        write_parquet(self._fs, data, str(self._filepath))
        self.log().prune()

    def _exists(self) -> bool:
        """Whether anything was logged yet."""
        return bool(self.log().partitions())

    def _describe(self) -> dict[str, Any]:
        return {"root": self._root, "protocol": self._protocol}

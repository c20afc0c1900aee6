"""The API's side of the prediction log: answered rows are buffered in memory and appended in
batches, so a request never waits for storage.

The buffer is written when it holds `max_rows` rows, when its oldest row has waited
`max_seconds`, and on a graceful shutdown. The log rows are built and written by a writer
process: building them (pandas, Arrow) holds Python's lock for tens of milliseconds per batch,
which in the serving process would stall every request that arrives meanwhile. Each write is one
new Parquet file put in place whole (`PredictionLog.append`), so a killed server loses at most
the rows not yet written and never leaves a broken file.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cirrus.contract import DatasetContract
from cirrus.feature_spec import FeatureSpec
from cirrus.prediction_log import (
    FEATURE_SPEC_HASH,
    MODEL_VERSION,
    RECEIVED_AT,
    REQUEST_ID,
    SOURCE,
    PredictionLog,
    log_rows,
)
from cirrus.validation import salted_hash

logger = logging.getLogger(__name__)
API_SOURCE = "api"
IDENTITY = (REQUEST_ID, RECEIVED_AT, MODEL_VERSION, FEATURE_SPEC_HASH)
# Rows kept for a retry while the log cannot be written; beyond that the oldest are dropped.
MAX_PENDING_ROWS = 1_000_000


@dataclass(frozen=True)
class Answered:
    """One answered request as scored: what its log rows are made of."""

    matrix: np.ndarray  # the model input (`Scorer.score_matrix`)
    predictions: dict[str, np.ndarray]
    unknown: list[list[str]]
    spec: FeatureSpec
    identity: dict[str, str]
    row_ids: list[Any] | None
    out_of_range: list[list[str]] | None = None  # per row: columns beyond the expected range

    @property
    def rows(self) -> int:
        """How many rows the request held."""
        return len(self.matrix)


def matrix_features(matrix: np.ndarray, spec: FeatureSpec) -> pd.DataFrame:
    """The feature columns of the model-input table, rebuilt from the model-input matrix
    (level codes back to their levels): the values `log_rows` logs, as batch scoring has them."""
    columns: dict[str, Any] = {}
    for index, column in enumerate(spec.feature_columns):
        values = matrix[:, index]
        if column in spec.categories:
            codes = np.where(np.isnan(values), -1, values).astype("int64")
            columns[column] = pd.Categorical.from_codes(codes, categories=spec.levels(column))
        else:
            columns[column] = values
    return pd.DataFrame(columns)


def logged_ids(ids: list[Any], contract: DatasetContract, salt: str | None) -> pd.Series | None:
    """The ids as the log may hold them: hashed if the id is a hashed PII column, none if
    it is a dropped one."""
    treatment = contract.pii.get(contract.id_column or "")
    if treatment == "drop":
        return None
    values = pd.Series(ids, dtype="object")
    return salted_hash(values, salt or "") if treatment == "hash" else values


@dataclass(frozen=True)
class Packed:
    """Answered requests scored with one feature spec, as a few arrays: cheap to hand to the
    writer process (a list of requests would take milliseconds to pickle)."""

    spec: FeatureSpec
    matrix: np.ndarray
    predictions: dict[str, np.ndarray]
    unknown: list[list[str]]
    identities: list[dict[str, str]]
    rows: list[int]  # rows of each request, in order
    row_ids: list[Any] | None
    out_of_range: list[list[str]] | None = None


def pack(taken: list[Answered]) -> list[Packed]:
    """Answered requests grouped by feature spec (a swap may change the columns), in order."""
    groups: dict[str, list[Answered]] = {}
    for answered in taken:
        groups.setdefault(answered.identity[FEATURE_SPEC_HASH], []).append(answered)
    return [
        Packed(
            spec=batch[0].spec,
            matrix=np.vstack([a.matrix for a in batch]),
            predictions={
                c: np.concatenate([a.predictions[c] for a in batch]) for c in batch[0].predictions
            },
            unknown=[columns for a in batch for columns in a.unknown],
            identities=[a.identity for a in batch],
            rows=[a.rows for a in batch],
            row_ids=[i for a in batch for i in (a.row_ids or [None] * a.rows)],
            out_of_range=[columns for a in batch for columns in (a.out_of_range or [[]] * a.rows)],
        )
        for batch in groups.values()
    ]


def log_frame(packed: Packed, contract: DatasetContract, salt: str | None) -> pd.DataFrame:
    """The log rows of answered requests scored with one feature spec, in answer order.

    One `log_rows` call for the whole batch, then each row's own request identity: building
    the log table per request would cost more than scoring it.
    """
    spec = packed.spec
    features = matrix_features(packed.matrix, spec)
    predictions = pd.DataFrame(packed.predictions)
    ids = None
    if contract.id_column is not None:
        ids = logged_ids(packed.row_ids or [], contract, salt)
    identity = {**packed.identities[0], SOURCE: API_SOURCE}
    rows = log_rows(features, predictions, packed.unknown, spec, identity, ids, packed.out_of_range)
    each = list(zip(packed.identities, packed.rows, strict=True))
    for key in (REQUEST_ID, MODEL_VERSION, FEATURE_SPEC_HASH):
        rows[key] = [who[key] for who, n in each for _ in range(n)]
    # As log_rows types received_at: UTC timestamps.
    received = [pd.Timestamp(who[RECEIVED_AT]).tz_convert("UTC") for who, _ in each]
    stamps = [stamp for stamp, (_, n) in zip(received, each, strict=True) for _ in range(n)]
    rows[RECEIVED_AT] = pd.DatetimeIndex(stamps, tz="UTC")
    return rows


def append_packed(
    batches: list[Packed], log: PredictionLog, contract: DatasetContract, salt: str | None
) -> int:
    """Append packed answered requests, one file per feature spec; returns the rows written."""
    frames = [log_frame(packed, contract, salt) for packed in batches]
    for frame in frames:
        log.append(frame)
    return sum(len(frame) for frame in frames)


# What the writer process appends to, set once when it starts; held while it writes.
_WRITER: dict[str, Any] = {}
_WRITING = threading.Lock()
PARENT_CHECK_SECONDS = 1.0


def _start_writer(
    log: PredictionLog, contract: DatasetContract, salt: str | None, server: int
) -> None:
    """Set up the writer process. It ignores SIGINT and SIGTERM: the server that started it
    stops it after its last write, which a signal to the whole process group must not cut."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _WRITER.update(log=log, contract=contract, salt=salt)
    threading.Thread(target=_end_with, args=(server,), daemon=True).start()


def _end_with(server: int) -> None:
    """End the writer process once the server is gone (killed, it cannot stop the writer),
    after the write under way."""
    while os.getppid() == server:
        time.sleep(PARENT_CHECK_SECONDS)
    with _WRITING:
        os._exit(0)


def _write_in_writer(batches: list[Packed]) -> int:
    """Append packed answered requests from inside the writer process."""
    with _WRITING:
        return append_packed(batches, _WRITER["log"], _WRITER["contract"], _WRITER["salt"])


class LogBuffer:
    """Answered requests waiting to be appended to the prediction log."""

    def __init__(
        self,
        log: PredictionLog,
        contract: DatasetContract,
        salt: str | None,
        max_rows: int,
        max_seconds: float,
    ) -> None:
        self.log, self.contract, self.salt = log, contract, salt
        self.max_rows, self.max_seconds = max_rows, max_seconds
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # one append at a time, in order
        self._pending: list[Answered] = []
        self._rows = 0
        self._oldest: float | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: ProcessPoolExecutor | None = None  # None: written in this process
        self.rows_written = 0
        self.rows_lost = 0  # answered rows that could not be logged (each one reported)

    def add(self, answered: Answered) -> None:
        """Buffer an answered request (cheap: its log rows are built by the writer process)."""
        with self._lock:
            self._pending.append(answered)
            self._rows += answered.rows
            if self._oldest is None:
                self._oldest = time.monotonic()
            full = self._rows >= self.max_rows
        if full:
            self._wake.set()

    def _take(self) -> list[Answered]:
        """Everything buffered, emptying the buffer."""
        with self._lock:
            taken, self._pending, self._rows, self._oldest = self._pending, [], 0, None
        return taken

    def _give_back(self, taken: list[Answered]) -> None:
        """Put rows that could not be written back in front, for the next try (bounded)."""
        with self._lock:
            self._pending = taken + self._pending
            self._rows = sum(a.rows for a in self._pending)
            while self._rows > MAX_PENDING_ROWS and len(self._pending) > 1:
                dropped = self._pending.pop(0)
                self._rows -= dropped.rows
                logger.error("Prediction log unwritable: dropped request %s.", dropped.identity)
            self._oldest = self._oldest or time.monotonic()

    def flush(self) -> int:
        """Append everything buffered to the log now; returns the rows written.

        When the batch fails, each request is tried alone: those that fail while others are
        written are bad (they could never be written) and are dropped, each reported; when
        every one fails, the log itself is unwritable and all are kept for the next flush.
        """
        with self._write_lock:
            taken = self._take()
            if not taken:
                return 0
            try:
                written = self._write(taken)
            except Exception as error:
                written, failed = self._write_each(taken)
                if not written:
                    logger.error(
                        "The prediction log could not be written (%s: %s); %d request(s) kept "
                        "for the next try.",
                        type(error).__name__,
                        error,
                        len(taken),
                    )
                    self._give_back(taken)
                    return 0
                self._drop(failed)
            self.rows_written += written
            return written

    def _write_each(self, taken: list[Answered]) -> tuple[int, list[tuple[Answered, str]]]:
        """Write requests one by one: the rows written and each failed one with its reason."""
        written, failed = 0, []
        for answered in taken:
            try:
                written += self._write([answered])
            except Exception as error:
                failed.append((answered, f"{type(error).__name__}: {error}"))
        return written, failed

    def _drop(self, failed: list[tuple[Answered, str]]) -> None:
        """Give up on requests whose rows cannot be logged, saying which and why."""
        for answered, reason in failed:
            self.rows_lost += answered.rows
            logger.error(
                "Prediction log: %d row(s) of request %s cannot be logged and were dropped: %s",
                answered.rows,
                answered.identity.get(REQUEST_ID),
                reason,
            )

    def _write(self, taken: list[Answered]) -> int:
        """Append answered requests: in the writer process when there is one."""
        batches = pack(taken)
        if self._writer is None:
            return append_packed(batches, self.log, self.contract, self.salt)
        try:
            return self._writer.submit(_write_in_writer, batches).result()
        except BrokenProcessPool:
            logger.error("The prediction log writer process died; starting another one.")
            self._writer = self._new_writer()
            raise

    def _due(self) -> bool:
        """Whether the buffer is full or its oldest row has waited long enough."""
        with self._lock:
            if self._rows >= self.max_rows:
                return True
            return self._oldest is not None and time.monotonic() - self._oldest >= self.max_seconds

    def _run(self) -> None:
        """Write whenever the buffer is due, until stopped."""
        tick = min(self.max_seconds, 0.5) / 2
        while not self._stop.is_set():
            self._wake.wait(tick)
            self._wake.clear()
            if self._due():
                self.flush()

    def _new_writer(self) -> ProcessPoolExecutor:
        """A writer process (spawned: forking a process with threads is not safe)."""
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_writer,
            initargs=(self.log, self.contract, self.salt, os.getpid()),
        )

    def start(self) -> None:
        """Start the writer process and the thread that hands it the due rows."""
        self._writer = self._new_writer()
        self._writer.submit(int).result()  # started and ready before the first request
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def stop(self) -> int:
        """Write what is left, then stop the thread and the writer; returns the rows written
        last."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        written = self.flush()
        left = self._take()
        if left:  # the log stayed unwritable to the end: say exactly what is lost
            lost = sum(answered.rows for answered in left)
            self.rows_lost += lost
            logger.error(
                "Prediction log: %d answered row(s) of %d request(s) were not written at "
                "shutdown (the log could not be written; see the errors above).",
                lost,
                len(left),
            )
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        return written

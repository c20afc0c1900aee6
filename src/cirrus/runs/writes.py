"""Writes that go on beside the next node: a run's Parquet files are written by one thread.

At 1M rows, writing a table to Parquet takes about a second, most of it in pyarrow's encoder,
which does not hold the GIL. The frame written stays in memory anyway (the next node reads a
copy of it, see `cirrus.datasets.ParquetDataset`), so the run need not wait for the file: one
writer thread writes while the next node computes on the other core.

Only a run writes in the background, and only in the process that started it: the run's hook
calls `start()` once its outputs are staged, and `finish()` before it publishes them, which
waits for every write and raises the first failure, so a run whose file was not written fails
and publishes nothing. Anywhere else (a notebook, a worker process of another runner) a save
writes at once, as before.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from kedro.io.core import DatasetError

_lock = threading.Lock()
_state: dict[str, Any] = {"pid": None, "executor": None, "pending": []}


def start() -> None:
    """Let saves in this process write in the background, until `finish()`."""
    with _lock:
        if _state["executor"] is None:
            _state["executor"] = ThreadPoolExecutor(1, thread_name_prefix="cirrus-writer")
        _state["pid"] = os.getpid()


def active() -> bool:
    """Whether a save here may write in the background (a run of this process is on)."""
    return _state["pid"] == os.getpid() and _state["executor"] is not None


def submit(write: Callable[[], Any], what: str) -> Future:
    """Queue a write (in order, one at a time); its future gives the write's result.

    At most one write waits behind the one in progress: a queued write holds its frame, which
    the run would otherwise have freed, so a longer queue would raise the run's peak memory.
    """
    with _lock:
        earlier = [future for _, future in _state["pending"][:-1]]
    for future in earlier:
        future.exception()  # waits for it (its failure is raised by wait())
    with _lock:
        future = _state["executor"].submit(write)
        _state["pending"].append((what, future))
    return future


def done(value: Any = None) -> Future:
    """A future that already holds a result: a write made at once."""
    future: Future = Future()
    future.set_result(value)
    return future


def wait() -> None:
    """Wait for every queued write; then raise the first failure, naming what was written."""
    with _lock:
        pending = list(_state["pending"])
    failures = [(what, future.exception()) for what, future in pending]  # waits for each
    for what, error in failures:
        if error is not None:
            raise DatasetError(f"Writing {what} failed: {error}") from error


def finish(raise_errors: bool = True) -> None:
    """Wait for every write of the run and stop writing in the background; then raise the
    first failure (unless the run has failed already)."""
    try:
        wait()
    except DatasetError:
        if raise_errors:
            raise
    finally:
        with _lock:
            _state["pid"] = None
            _state["pending"] = []

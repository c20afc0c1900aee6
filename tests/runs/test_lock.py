"""The data root's lock: a second writer refuses at once, a dead holder's lock is taken over."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import fsspec
import pytest

from cirrus.runs.lock import Holder, RunLock, RunLockError, lock_path

HOLD = """
import sys, time, fsspec
from cirrus.runs.lock import RunLock
RunLock(fsspec.filesystem("file"), sys.argv[1], "holder").acquire()
print("held", flush=True)
time.sleep(600)
"""


def _holding_process(root: str) -> subprocess.Popen:
    """Another process that takes the lock and keeps it."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, root], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    # Arrange
    root = (tmp_path / "data").as_posix()
    holder = _holding_process(root)
    try:
        # Act
        with pytest.raises(RunLockError) as refused:
            RunLock(fsspec.filesystem("file"), root, "second").acquire()
    finally:
        holder.kill()
        holder.wait()

    # Assert
    message = str(refused.value)
    assert f"pid {holder.pid}" in message and socket.gethostname() in message
    assert "run holder" in message and "since " in message and root in message


def test_the_lock_of_a_killed_run_is_taken_over_saying_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    root = (tmp_path / "data").as_posix()
    holder = _holding_process(root)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()

    # Act
    with caplog.at_level("WARNING"):
        lock = RunLock(fsspec.filesystem("file"), root, "next").acquire()
    lock.release()

    # Assert
    assert lock.took_over is not None and lock.took_over.pid == holder.pid
    assert f"pid {holder.pid}" in caplog.text and "no longer running" in caplog.text


def test_a_released_lock_is_free_and_records_nobody(tmp_path: Path) -> None:
    # Arrange
    fs, root = fsspec.filesystem("file"), (tmp_path / "data").as_posix()

    # Act
    with RunLock(fs, root, "first"):
        recorded = json.loads(Path(lock_path(fs, root)).read_text())
    second = RunLock(fs, root, "second").acquire()
    second.release()

    # Assert
    assert recorded["run_id"] == "first" and recorded["pid"] == os.getpid()
    assert second.took_over is None
    assert Path(lock_path(fs, root)).read_text() == ""


@pytest.fixture
def bucket():
    """A path on fsspec's in-memory object store (no conditional writes: the fallback path)."""
    fs = fsspec.filesystem("memory")
    root = f"/locks-{time.monotonic_ns()}/data"
    yield fs, root
    if fs.exists(root.rsplit("/", 1)[0]):
        fs.rm(root.rsplit("/", 1)[0], recursive=True)


def test_object_store_lock_refuses_a_live_holder_and_frees_on_release(bucket) -> None:
    # Arrange
    fs, root = bucket
    first = RunLock(fs, root, "first").acquire()

    # Act
    with pytest.raises(RunLockError, match="run first"):
        RunLock(fs, root, "second").acquire()
    first.release()
    third = RunLock(fs, root, "third").acquire()

    # Assert
    assert third.took_over is None
    third.release()
    assert not fs.exists(lock_path(fs, root))


def test_object_store_lock_of_a_dead_or_long_expired_holder_is_taken_over(bucket) -> None:
    # Arrange
    fs, root = bucket
    dead = Holder("dead", 2**22 + 7, socket.gethostname(), "2026-01-01T00:00:00+00:00")
    fs.pipe_file(lock_path(fs, root), json.dumps(vars(dead)).encode())

    # Act
    taken = RunLock(fs, root, "next").acquire()
    taken.release()
    elsewhere = Holder("far", 1, "another-host", "2020-01-01T00:00:00+00:00")
    fs.pipe_file(lock_path(fs, root), json.dumps(vars(elsewhere)).encode())
    old = RunLock(fs, root, "later").acquire()

    # Assert
    assert taken.took_over == dead
    assert old.took_over == elsewhere

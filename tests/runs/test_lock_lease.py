"""The object-storage lock is a lease: a killed run's lock is taken over by a retry on another
host within one lease, a live run elsewhere keeps it, and a run that lost its lease publishes
nothing. Real processes on the moto S3 server, each host named by CIRRUS_HOST_NAME."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import s3fs

from cirrus.runs.lock import (
    Holder,
    LockSettingError,
    RunLock,
    RunLockError,
    lease_seconds,
    lock_path,
)
from tests.emulators.servers import create_s3_bucket, s3_server, s3_test_credentials

BUCKET = "cirrus-locks"
LEASE = 1.0  # seconds: short, so a whole takeover takes a second or two

HOLD = """
import sys, time, s3fs, json
from cirrus.runs.lock import RunLock
fs = s3fs.S3FileSystem(**json.loads(sys.argv[2]))
RunLock(fs, sys.argv[1], "on-vm-a").acquire()
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A moto S3 server with one bucket; yields s3fs settings for it."""
    with s3_server(tmp_path_factory.mktemp("moto")) as server:
        create_s3_bucket(server.endpoint, BUCKET)
        yield s3_test_credentials(server.endpoint)


@pytest.fixture
def root(s3: dict, request: pytest.FixtureRequest) -> str:
    """A data root of its own on the bucket."""
    return f"{BUCKET}/{request.node.name}/data"


def _fs(settings: dict) -> s3fs.S3FileSystem:
    """A fresh s3fs client (no listing cache shared between hosts)."""
    return s3fs.S3FileSystem(skip_instance_cache=True, **settings)


def _holder_on_vm_a(root: str, settings: dict) -> subprocess.Popen:
    """Another process, on host 'vm-a', that takes the lock and keeps renewing its lease."""
    env = {**os.environ, "CIRRUS_HOST_NAME": "vm-a", "CIRRUS_LOCK_LEASE_SECONDS": str(LEASE)}
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, root, json.dumps(settings)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


@pytest.fixture
def on_vm_b(monkeypatch: pytest.MonkeyPatch) -> None:
    """This test process is another host, with the same short lease."""
    monkeypatch.setenv("CIRRUS_HOST_NAME", "vm-b")
    monkeypatch.setenv("CIRRUS_LOCK_LEASE_SECONDS", str(LEASE))


@pytest.mark.usefixtures("on_vm_b")
def test_a_retry_on_another_host_takes_over_a_killed_runs_lease_within_one_lease(
    s3: dict, root: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    holder = _holder_on_vm_a(root, s3)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()

    # Act
    started = time.monotonic()
    with caplog.at_level("WARNING"):
        retry = RunLock(_fs(s3), root, "retry").acquire()
    waited = time.monotonic() - started
    record = json.loads(_fs(s3).cat_file(lock_path(None, root)))
    retry.release()

    # Assert
    assert retry.took_over is not None and retry.took_over.host == "vm-a"
    assert retry.took_over.pid == holder.pid
    assert waited < LEASE + 1.0  # within one lease (the old rule: 24 hours)
    assert record["run_id"] == "retry" and record["host"] == "vm-b"
    assert "no longer running" in caplog.text and "on vm-a" in caplog.text


@pytest.mark.usefixtures("on_vm_b")
def test_a_live_run_on_another_host_keeps_its_lease(s3: dict, root: str) -> None:
    # Arrange
    holder = _holder_on_vm_a(root, s3)
    try:
        # Act
        started = time.monotonic()
        with pytest.raises(RunLockError) as refused:
            RunLock(_fs(s3), root, "second").acquire()
        waited = time.monotonic() - started
        still = json.loads(_fs(s3).cat_file(lock_path(None, root)))
    finally:
        holder.kill()
        holder.wait()

    # Assert
    assert "run on-vm-a" in str(refused.value) and "lease is being renewed" in str(refused.value)
    assert waited < LEASE  # refused at the holder's first renewal, not after the whole lease
    assert still["run_id"] == "on-vm-a" and still["renewed"] > still["started"]


@pytest.mark.usefixtures("on_vm_b")
def test_a_lock_whose_renewal_is_long_past_is_taken_over_at_once(s3: dict, root: str) -> None:
    # Arrange
    fs = _fs(s3)
    old = Holder("far", 1, "another-host", "2026-01-01T00:00:00+00:00", None, 60.0)
    fs.pipe_file(lock_path(fs, root), json.dumps(vars(old)).encode())

    # Act
    started = time.monotonic()
    taken = RunLock(fs, root, "next").acquire()
    taken.release()

    # Assert
    assert taken.took_over == old
    assert time.monotonic() - started < LEASE  # no waiting: expired by two leases and more


@pytest.mark.usefixtures("on_vm_b")
def test_a_run_whose_lease_was_taken_over_refuses_to_publish(s3: dict, root: str) -> None:
    # Arrange
    fs = _fs(s3)
    stalled = RunLock(fs, root, "stalled").acquire()
    other = Holder("other", 1, "vm-c", "2026-12-07T00:00:00+00:00", None, LEASE)
    fs.pipe_file(lock_path(fs, root), json.dumps(vars(other)).encode())

    # Act
    time.sleep(LEASE)  # past a renewal, which finds the record is not its own
    with pytest.raises(RunLockError) as refused:
        stalled.ensure_held()
    stalled.release()

    # Assert
    assert "lost the lock" in str(refused.value) and "run other" in str(refused.value)
    assert "nothing was published" in str(refused.value)
    assert json.loads(fs.cat_file(lock_path(fs, root)))["run_id"] == "other"  # left to its owner


@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_a_lease_setting_that_is_not_a_positive_number_is_refused_by_name(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange
    monkeypatch.setenv("CIRRUS_LOCK_LEASE_SECONDS", value)

    # Act
    with pytest.raises(LockSettingError) as refused:
        lease_seconds()

    # Assert
    assert "CIRRUS_LOCK_LEASE_SECONDS" in str(refused.value) and repr(value) in str(refused.value)


def test_the_lease_record_of_an_older_version_still_reads(tmp_path: Path) -> None:
    # Arrange
    record = {"run_id": "old", "pid": 1, "host": "h", "started": "2026-01-01T00:00:00+00:00"}

    # Act
    holder = Holder(**record)

    # Assert
    assert holder.lease() == 60.0 and holder.long_expired()

"""One writer at a time: a lock on the data root, held for the whole run.

Locally the lock is `fcntl.flock` on `<root>/.cirrus/lock`: the kernel releases it when the
holding process dies, even under `kill -9`, so a stale lock can never block a run; the file
records who holds it (pid, host, start time, run id) for the message a second run gets. On
object storage the lock is an object created only if absent (a conditional write); a lock whose
holder is gone (same host, dead pid) or that is older than `CIRRUS_LOCK_STALE_HOURS` (default
24) is taken over, saying so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cirrus.errors import CirrusError

logger = logging.getLogger(__name__)
STATE_DIR = ".cirrus"  # under the data root: the lock, run journals and staging
LOCK_NAME = "lock"
STALE_HOURS_ENV = "CIRRUS_LOCK_STALE_HOURS"
DEFAULT_STALE_HOURS = 24.0


class RunLockError(CirrusError, RuntimeError):
    """Another run holds the lock on the data root: the message names the holder and since when."""

    hint = "Wait for that run to finish (a lock left by a killed run is taken over by the next)."


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a lock."""

    run_id: str
    pid: int
    host: str
    started: str  # ISO 8601, UTC

    @classmethod
    def of_this_process(cls, run_id: str) -> Holder:
        """This process, now."""
        return cls(run_id, os.getpid(), socket.gethostname(), datetime.now(UTC).isoformat())

    def describe(self) -> str:
        """One phrase naming the holder and since when."""
        return f"run {self.run_id} (pid {self.pid} on {self.host}, since {self.started})"

    def is_alive(self) -> bool:
        """Whether the holder may still run: always assumed on another host."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, owned by another user
            return True
        return True

    def age(self) -> timedelta:
        """How long ago the holder started."""
        return datetime.now(UTC) - datetime.fromisoformat(self.started)


def _holder_from(text: str) -> Holder | None:
    """The holder recorded in a lock file, or None when it is empty or unreadable."""
    try:
        return Holder(**json.loads(text))
    except (ValueError, TypeError):
        return None


def lock_path(fs: Any, root: str) -> str:
    """Where the lock of a data root lives."""
    return f"{root}/{STATE_DIR}/{LOCK_NAME}"


def _is_local(fs: Any) -> bool:
    """Whether an fsspec filesystem is the local disk."""
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


class RunLock:
    """The lock of one data root; `acquire` refuses at once when another live run holds it."""

    def __init__(self, fs: Any, root: str, run_id: str) -> None:
        self.fs, self.root, self.path = fs, root, lock_path(fs, root)
        self.holder = Holder.of_this_process(run_id)
        self._fd: int | None = None
        self.took_over: Holder | None = None

    def acquire(self) -> RunLock:
        """Take the lock or raise RunLockError naming the holder."""
        if _is_local(self.fs):
            self._acquire_local()
        else:
            self._acquire_remote()
        if self.took_over is not None:
            logger.warning(
                "Took over the lock on %s left by %s, which is no longer running.",
                self.root,
                self.took_over.describe(),
            )
        return self

    def _refuse(self, holder: Holder | None) -> RunLockError:
        """The error a second run gets."""
        who = holder.describe() if holder else "another run"
        return RunLockError(
            f"The data root {self.root} is locked by {who}: one run writes to it at a time. "
            f"Wait for that run to finish (or stop it); the lock is {self.path}."
        )

    def _acquire_local(self) -> None:
        """flock the lock file; the kernel frees it when the holder dies."""
        import fcntl

        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            previous = _holder_from(os.pread(fd, 4096, 0).decode(errors="replace"))
            os.close(fd)
            raise self._refuse(previous) from None
        # Acquired: a holder still recorded in the file died without releasing it.
        self.took_over = _holder_from(os.pread(fd, 4096, 0).decode(errors="replace"))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(self.holder)).encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def _stale(self, holder: Holder | None) -> bool:
        """Whether a remote lock's holder is gone: dead here, or older than the stale age."""
        if holder is None:
            return True
        hours = float(os.environ.get(STALE_HOURS_ENV, DEFAULT_STALE_HOURS))
        return not holder.is_alive() or holder.age() > timedelta(hours=hours)

    def _acquire_remote(self) -> None:
        """Create the lock object only if absent; take over a stale one."""
        body = json.dumps(asdict(self.holder)).encode()
        for _ in range(2):
            try:
                self._create_exclusive(body)
                return
            except FileExistsError:
                self.fs.invalidate_cache()
                try:
                    previous = _holder_from(self.fs.cat_file(self.path).decode(errors="replace"))
                except FileNotFoundError:
                    continue  # released meanwhile: try again
                if not self._stale(previous):
                    raise self._refuse(previous) from None
                self.took_over = previous
                self.fs.rm(self.path)
        raise self._refuse(None)

    def _create_exclusive(self, body: bytes) -> None:
        """Write the lock object only if none exists (FileExistsError otherwise)."""
        try:
            with self.fs.open(self.path, "xb") as handle:
                handle.write(body)
        except (ValueError, NotImplementedError):
            # A store without conditional writes: check, then write (a narrow race remains).
            if self.fs.exists(self.path):
                raise FileExistsError(self.path) from None
            self.fs.pipe_file(self.path, body)

    def release(self) -> None:
        """Give the lock back (clearing the holder record)."""
        if self._fd is not None:
            import fcntl

            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        elif not _is_local(self.fs):
            with contextlib.suppress(FileNotFoundError):
                self.fs.invalidate_cache()
                current = _holder_from(self.fs.cat_file(self.path).decode(errors="replace"))
                if current is not None and current.run_id == self.holder.run_id:
                    self.fs.rm(self.path)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

"""One writer at a time: a lock on the data root, held for the whole run.

Locally the lock is `fcntl.flock` on `<root>/.cirrus/lock`: the kernel releases it when the
holding process dies, even under `kill -9`, so a stale lock can never block a run; the file
records who holds it (pid, host, start time, run id) for the message a second run gets. On
object storage the lock is an object created only if absent (a conditional write), held as a
lease: the holder rewrites it every quarter of `CIRRUS_LOCK_LEASE_SECONDS` (60 by default) while
it runs. A lock whose holder is gone is taken over, saying so: at once when the holder ran on this
host and its pid is dead, or when its last renewal is more than two leases old; otherwise (a pod
killed on another host, retried elsewhere) after watching the record go unrenewed for one whole
lease on this host's own monotonic clock, so clocks that disagree between hosts cannot hand over
a live lock. A run that finds its lease taken (it stalled longer than a lease) publishes nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cirrus.errors import CirrusError

logger = logging.getLogger(__name__)
STATE_DIR = ".cirrus"  # under the data root: the lock, run journals and staging
LOCK_NAME = "lock"
LEASE_SECONDS_ENV = "CIRRUS_LOCK_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 60.0
# Names this host in the lock record; a pod's hostname by default (set it where one host name
# is shared by several machines).
HOST_NAME_ENV = "CIRRUS_HOST_NAME"
RENEWALS_PER_LEASE = 4  # a lease survives three failed renewals in a row


class RunLockError(CirrusError, RuntimeError):
    """Another run holds the lock on the data root: the message names the holder and since when."""

    hint = "Wait for that run to finish (a lock left by a killed run is taken over by the next)."


class LockSettingError(CirrusError, ValueError):
    """A lock setting from the environment is not a positive number."""

    hint = f"Set {LEASE_SECONDS_ENV} to a number of seconds, e.g. 60, or unset it."


def lease_seconds() -> float:
    """The lease a run declares on an object-storage lock, from the environment."""
    raw = os.environ.get(LEASE_SECONDS_ENV)
    if raw is None:
        return DEFAULT_LEASE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise LockSettingError(f"{LEASE_SECONDS_ENV}={raw!r}: expected seconds above 0.")
    return value


def host_name() -> str:
    """This host's name in lock records."""
    return os.environ.get(HOST_NAME_ENV) or socket.gethostname()


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a lock."""

    run_id: str
    pid: int
    host: str
    started: str  # ISO 8601, UTC
    renewed: str | None = None  # last lease renewal (ISO 8601, UTC); None: never renewed
    lease_seconds: float | None = None  # None: a record written before leases (the default)

    @classmethod
    def of_this_process(cls, run_id: str, lease: float | None = None) -> Holder:
        """This process, now."""
        now = datetime.now(UTC).isoformat()
        return cls(run_id, os.getpid(), host_name(), now, now, lease)

    def lease(self) -> float:
        """The lease the holder declared, in seconds."""
        return self.lease_seconds or DEFAULT_LEASE_SECONDS

    def renewed_at(self) -> datetime:
        """When the holder last said it was alive."""
        return datetime.fromisoformat(self.renewed or self.started)

    def describe(self) -> str:
        """One phrase naming the holder and since when."""
        return f"run {self.run_id} (pid {self.pid} on {self.host}, since {self.started})"

    def is_alive(self) -> bool:
        """Whether the holder may still run: always assumed on another host."""
        if self.host != host_name():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, owned by another user
            return True
        return True

    def long_expired(self) -> bool:
        """Whether its last renewal is over two leases old by this host's clock (one lease of
        tolerance for clocks that disagree)."""
        return datetime.now(UTC) - self.renewed_at() > timedelta(seconds=2 * self.lease())


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
    """The lock of one data root; `acquire` refuses when another live run holds it."""

    def __init__(self, fs: Any, root: str, run_id: str) -> None:
        self.fs, self.root, self.path = fs, root, lock_path(fs, root)
        self.holder = Holder.of_this_process(run_id)
        self._fd: int | None = None
        self.took_over: Holder | None = None
        self.lost_to: Holder | None = None  # set when another run took this lease over
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

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

    def _refuse(self, holder: Holder | None, why: str = "") -> RunLockError:
        """The error a second run gets."""
        who = holder.describe() if holder else "another run"
        return RunLockError(
            f"The data root {self.root} is locked by {who}{why}: one run writes to it at a "
            f"time. Wait for that run to finish (or stop it); the lock is {self.path}."
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

    def _read(self) -> Holder | None:
        """The record in the lock object now (FileNotFoundError when there is none)."""
        self.fs.invalidate_cache()
        return _holder_from(self.fs.cat_file(self.path).decode(errors="replace"))

    def _gone_unwatched(self, holder: Holder | None) -> bool:
        """Whether a holder is gone without watching it: unreadable, dead here, or long expired."""
        return holder is None or not holder.is_alive() or holder.long_expired()

    def _outlived(self, holder: Holder) -> bool:
        """Watch a holder for one lease on this host's clock: True when it never renewed.

        Raises RunLockError as soon as it renews (it is alive) or another run replaces it.
        """
        logger.warning(
            "The lock on %s is held by %s; waiting up to %.0f s for it to renew its lease "
            "(a killed run's lease is taken over once it expires).",
            self.root,
            holder.describe(),
            holder.lease(),
        )
        deadline = time.monotonic() + holder.lease()
        poll = holder.lease() / RENEWALS_PER_LEASE / 2
        while time.monotonic() < deadline:
            time.sleep(min(poll, max(deadline - time.monotonic(), 0.0)))
            try:
                now = self._read()
            except FileNotFoundError:
                return True  # released meanwhile: free
            if now != holder:
                raise self._refuse(now, " (its lease is being renewed)")
        return True

    def _acquire_remote(self) -> None:
        """Create the lock object only if absent; take over a holder whose lease ran out."""
        self.holder = replace(self.holder, lease_seconds=lease_seconds())
        body = json.dumps(asdict(self.holder)).encode()
        for _ in range(3):
            try:
                self._create_exclusive(body)
                self._start_heartbeat()
                return
            except FileExistsError:
                try:
                    previous = self._read()
                except FileNotFoundError:
                    continue  # released meanwhile: try again
                if not self._gone_unwatched(previous):
                    if previous.host == host_name():
                        raise self._refuse(previous) from None  # alive on this very host
                    self._outlived(previous)
                self.took_over = previous
                with contextlib.suppress(FileNotFoundError):
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

    def _start_heartbeat(self) -> None:
        """Renew the lease in the background until release."""
        self._heartbeat = threading.Thread(
            target=self._renew_until_stopped, name="cirrus-lock-lease", daemon=True
        )
        self._heartbeat.start()

    def _renew_until_stopped(self) -> None:
        """Rewrite the record with a fresh renewal time, each quarter lease."""
        interval = self.holder.lease() / RENEWALS_PER_LEASE
        while not self._stop.wait(interval):
            try:
                current = self._read()
                if current is None or current.run_id != self.holder.run_id:
                    self.lost_to = current
                    logger.error(
                        "Run %s lost its lock on %s to %s: it will publish nothing.",
                        self.holder.run_id,
                        self.root,
                        current.describe() if current else "nobody (the record was removed)",
                    )
                    return
                renewed = replace(self.holder, renewed=datetime.now(UTC).isoformat())
                self.fs.pipe_file(self.path, json.dumps(asdict(renewed)).encode())
                self.holder = renewed
            except FileNotFoundError:
                self.lost_to = None
                logger.error("Run %s: its lock on %s was removed.", self.holder.run_id, self.root)
                return
            except Exception as error:  # a store hiccup: the next renewal tries again
                logger.warning("Could not renew the lock on %s: %s", self.root, error)

    def ensure_held(self) -> None:
        """Raise RunLockError when this run's lease was taken over (before publishing)."""
        if (
            self._heartbeat is not None
            and not self._heartbeat.is_alive()
            and not self._stop.is_set()
        ):
            who = self.lost_to.describe() if self.lost_to else "nobody (its record was removed)"
            raise RunLockError(
                f"Run {self.holder.run_id} lost the lock on {self.root} to {who} while it ran "
                "(it stalled for longer than a lease): nothing was published."
            )

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
            self._stop.set()
            if self._heartbeat is not None:
                self._heartbeat.join()
            with contextlib.suppress(FileNotFoundError):
                current = self._read()
                if current is not None and current.run_id == self.holder.run_id:
                    self.fs.rm(self.path)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

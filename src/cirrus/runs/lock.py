"""One writer at a time: a lock on the data root, held for the whole run."""

from __future__ import annotations


class RunLockError(RuntimeError):
    """Another run holds the lock on the data root: the message names the holder and since when."""

"""Progress of long work, reported at a bounded rate so that CI logs are not flooded."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Long work says how far it got at most this often; a short one stays quiet.
PROGRESS_SECONDS = 15.0


class Throttled:
    """Passes a message on to `report` at most once every `every_seconds` (thread-safe)."""

    def __init__(self, report: Callable[[str], None], every_seconds: float | None = None) -> None:
        """Report through `report`, the first time once `every_seconds` have passed.

        None: PROGRESS_SECONDS as it is when the throttle is made.
        """
        self._report = report
        self._every = PROGRESS_SECONDS if every_seconds is None else every_seconds
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, message: Callable[[], str]) -> None:
        """Report `message()` if the interval has passed; the message is built only then."""
        with self._lock:
            now = time.monotonic()
            if now - self._last < self._every:
                return
            self._last = now
            self._report(message())


class Counter:
    """Counts finished items of a known total and reports `label: k of n` through a throttle."""

    def __init__(self, total: int, label: str, throttled: Throttled) -> None:
        """Count towards `total`, reporting as `label`."""
        self._total, self._label, self._throttled = total, label, throttled
        self._done = 0
        self._lock = threading.Lock()

    def step(self) -> None:
        """One more item is done."""
        with self._lock:
            self._done += 1
            done = self._done
        self._throttled(lambda: f"{self._label}: {done} of {self._total}")

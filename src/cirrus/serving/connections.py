"""Connections the server can afford: idle ones time out, and their number stays below the file
descriptor limit.

uvicorn closes a kept-alive connection a few seconds after its last response, but a connection
that never sends a complete request is held forever, and every held connection costs a file
descriptor: about 20,000 idle sockets exhausted the process's limit, after which `/healthz`
failed and the model watcher could not open the model. This protocol closes a connection that has
not sent a request's headers within `header_timeout` seconds, and keeps the number of open
connections at `max_connections`: at the cap, the connection idle the longest gives way to the new
one; when none is idle, the new one gets a 503 at once and is closed.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any, ClassVar

from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)
# File descriptors kept free for what the server opens itself: the model, its log files, the
# prediction log, the watcher, the listening socket.
RESERVED_DESCRIPTORS = 256
OVERLOADED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n"
    b"content-length: 38\r\nconnection: close\r\n\r\nToo many open connections; try again.\n"
)


def default_max_connections() -> int:
    """The connection cap this process can afford: its descriptor limit minus a reserve."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 65536
    return max(soft - RESERVED_DESCRIPTORS, 16)


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header timeout and a cap on open connections."""

    header_timeout: ClassVar[float] = 10.0
    max_connections: ClassVar[int] = 1024

    @classmethod
    def configure(cls, header_timeout: float, max_connections: int | None) -> None:
        """Set the bounds of every connection this process accepts from now on."""
        cls.header_timeout = header_timeout
        cls.max_connections = max_connections or default_max_connections()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_active = time.monotonic()
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Accept the connection within the cap, and give it `header_timeout` to send a request."""
        super().connection_made(transport)
        if len(self.connections) > self.max_connections and not self._evict_one_idle():
            self.connections.discard(self)
            transport.write(OVERLOADED)
            transport.close()
            return
        self._header_timer = self.loop.call_later(self.header_timeout, self._close_if_silent)

    def data_received(self, data: bytes) -> None:
        """Note the activity, then parse as uvicorn does."""
        self.last_active = time.monotonic()
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the timer with the connection."""
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def is_idle(self) -> bool:
        """Whether no request is being read or answered on this connection."""
        return self.cycle is None or self.cycle.response_complete

    def _close_if_silent(self) -> None:
        """Close the connection if no request's headers arrived in time."""
        self._header_timer = None
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()

    def _evict_one_idle(self) -> bool:
        """Close the connection idle the longest (not this one); False when none is idle."""
        idle = [
            other
            for other in self.connections
            if other is not self
            and isinstance(other, BoundedH11Protocol)
            and other.is_idle()
            and not other.transport.is_closing()
        ]
        if not idle:
            logger.warning(
                "All %d connections are busy: a new one was answered 503.", self.max_connections
            )
            return False
        oldest = min(idle, key=lambda other: other.last_active)
        oldest.transport.close()
        oldest.connections.discard(oldest)
        return True

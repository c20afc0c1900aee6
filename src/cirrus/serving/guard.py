"""What every request passes before the app sees it: the bearer token and the body size.

A plain ASGI middleware, so a request without the token is refused before its body is read or
parsed, and a body larger than the largest valid request is refused before it is buffered whole.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BEARER = "bearer"


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            return token.strip() if scheme.lower() == BEARER and token.strip() else None
    return None


def token_matches(given: str | None, expected: str) -> bool:
    """Whether the token sent is the API token (in constant time)."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def content_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    """The declared body size, if the request declares a valid one."""
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Answer a request with a JSON body."""
    content = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


def too_large(size: int, limit: int, max_rows: int) -> dict[str, Any]:
    """The 422 body of a request larger than any valid one."""
    message = (
        f"body: {size} bytes or more, but at most {limit} bytes are accepted (a request holds "
        f"at most {max_rows} rows); send fewer rows per request"
    )
    problem = {"type": "body_too_large", "loc": ["body"], "msg": message, "ctx": {}}
    return {"detail": [problem], "message": message}


class Guard:
    """Refuse requests without the token (401) and bodies over the limit (422)."""

    def __init__(
        self,
        app: ASGIApp,
        token: str | None,
        open_paths: frozenset[str],
        limited_paths: frozenset[str],
        body_limit: int,
        max_rows: int,
    ) -> None:
        self.app, self.token = app, token
        self.open_paths, self.limited_paths = open_paths, limited_paths
        self.body_limit, self.max_rows = body_limit, max_rows

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        if self.token is not None and scope["path"] not in self.open_paths:
            given = bearer_token(headers)
            if not token_matches(given, self.token):
                await self._unauthorized(send, given is not None)
                return
        if scope["path"] in self.limited_paths:
            declared = content_length(headers)
            if declared is not None and declared > self.body_limit:
                await send_json(send, 422, too_large(declared, self.body_limit, self.max_rows))
                return
            body = await self._read_body(receive)
            if body is None:
                await send_json(
                    send, 422, too_large(self.body_limit + 1, self.body_limit, self.max_rows)
                )
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it grows over the limit (a streamed body)."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app sees an empty body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.body_limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _unauthorized(self, send: Send, sent_one: bool) -> None:
        """401 with the challenge RFC 6750 asks for."""
        challenge = b'Bearer error="invalid_token"' if sent_one else b"Bearer"
        detail = (
            "The bearer token is not the API token."
            if sent_one
            else "Send the API token as 'Authorization: Bearer <token>'."
        )
        await send_json(send, 401, {"detail": detail}, [(b"www-authenticate", challenge)])


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the already-read body once, then waits on the client as before."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay

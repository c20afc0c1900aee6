"""What `kedro cirrus serve` was asked for, and the checks before a server may start."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cirrus.parameters import ConfigError

TOKEN_ENV = "CIRRUS_API_TOKEN"
TOKEN_KEY = "api_token"  # in conf/<env>/credentials.yml
# uvicorn's worker processes build their own app: they read the options from this variable.
OPTIONS_ENV = "CIRRUS_SERVE_OPTIONS"
LOOPBACK_NAMES = ("localhost",)
MIN_TOKEN_LENGTH = 32  # characters; secrets.token_urlsafe(32) gives 43


class ServeError(ConfigError):
    """The server cannot start as asked: the message says why and what to do instead."""

    hint = "`kedro cirrus serve --help` lists the options."


@dataclass(frozen=True)
class ServeOptions:
    """The options of one `kedro cirrus serve`."""

    project_path: str
    env: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    auth: bool = True
    max_rows: int = 1000
    reload_interval: float = 5.0
    flush_rows: int = 1000  # the prediction log buffer is written when it holds this many rows
    flush_seconds: float = 2.0  # ... or when its oldest row is this old
    access_log: bool = False
    header_timeout: float = 10.0  # seconds a new connection has to send a request's headers
    max_connections: int | None = None  # open connections at most; None: the fd limit - 256

    def to_env(self) -> str:
        """The options as the JSON text of OPTIONS_ENV."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServeOptions:
        """The options a parent `kedro cirrus serve` left in OPTIONS_ENV."""
        text = (os.environ if environ is None else environ).get(OPTIONS_ENV)
        if not text:
            raise ServeError(
                f"{OPTIONS_ENV} is not set: start the server with `kedro cirrus serve`"
            )
        return cls(**json.loads(text))


def resolve_token(
    credentials: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The API token: CIRRUS_API_TOKEN (wins), else `api_token` in the credentials."""
    token = (os.environ if environ is None else environ).get(TOKEN_ENV) or (
        (credentials or {}).get(TOKEN_KEY)
    )
    return str(token) if token else None


def is_loopback(host: str) -> bool:
    """Whether a host only accepts connections from this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def check_auth(options: ServeOptions, token: str | None) -> None:
    """Refuse to serve without a token, unless asked to with --no-auth on a loopback host."""
    if not options.auth:
        if not is_loopback(options.host):
            raise ServeError(
                f"--no-auth is refused with --host {options.host}: that address accepts "
                "connections from other machines, which would reach the API without a token. "
                f"Set {TOKEN_ENV} (or {TOKEN_KEY} in conf/local/credentials.yml), or serve "
                "--no-auth on --host 127.0.0.1"
            )
        return
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise ServeError(
            f"The API token ({TOKEN_ENV} or {TOKEN_KEY}) has {len(token)} character(s); at "
            f"least {MIN_TOKEN_LENGTH} are required, so that it cannot be guessed. Make one "
            'with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    if not token:
        raise ServeError(
            f"No API token: set {TOKEN_ENV} or put '{TOKEN_KEY}: <random string>' in "
            "conf/local/credentials.yml (conf/<env>/credentials.yml with --env); clients send "
            "it as 'Authorization: Bearer <token>'. For a trial on this machine only, use "
            "--no-auth with --host 127.0.0.1"
        )

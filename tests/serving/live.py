"""A real `kedro cirrus serve` process for the tests (own process group, stopped by a signal),
a client for it, and request rows made from the project's validated tables."""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

TOKEN = "serving-test-token-0123456789abcdef"  # 32+ characters, as serve requires
START_SECONDS = 90


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_env(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The environment of a served project: the API token, no telemetry, wide log lines."""
    merged = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "true",
        "CIRRUS_API_TOKEN": TOKEN,
        "COLUMNS": "250",
        **(extra or {}),
    }
    return {key: value for key, value in merged.items() if value is not None}


def kedro_command(*args: str) -> list[str]:
    """The Kedro CLI of this virtual environment."""
    return [str(Path(sys.executable).with_name("kedro")), *args]


@dataclass
class LiveServer:
    """A running server and where its output goes."""

    project: Path
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, token: str | None = TOKEN, **options: Any) -> httpx.Client:
        """An HTTP client for the server, sending `token` as the bearer token."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **options)

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Send `sig` to the server's process group; wait for it to exit; its exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        return self.process.wait(timeout=timeout)


def start_server(
    project: Path,
    *args: str,
    env: Mapping[str, str | None] | None = None,
    ready: bool = True,
    wrap: tuple[str, ...] = (),
) -> LiveServer:
    """Start `kedro cirrus serve` on a free loopback port (behind a `wrap` command, if any);
    return once /healthz answers (and /readyz, with `ready`)."""
    port = free_port()
    log_path = project / f"serve-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*wrap, *kedro_command("cirrus", "serve", "--port", str(port), *args)],
            cwd=project,
            env=serve_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a signal reaches every worker
        )
    server = LiveServer(project, port, process, log_path)
    deadline = time.monotonic() + START_SECONDS
    path = "/readyz" if ready else "/healthz"
    with server.client() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(
                    f"the server exited with {process.returncode}:\n{server.log()}"
                )
            try:
                if client.get(path).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise AssertionError(f"the server did not answer {path} in {START_SECONDS}s:\n{server.log()}")


def run_serve(
    project: Path, *args: str, env: Mapping[str, str | None] | None = None
) -> subprocess.CompletedProcess:
    """Run `kedro cirrus serve` expecting it to refuse to start (bounded in time)."""
    return subprocess.run(
        kedro_command("cirrus", "serve", "--port", str(free_port()), *args),
        cwd=project,
        env=serve_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def json_value(value: Any) -> Any:
    """A table value as JSON sends it: missing as null, times as ISO text, numbers as numbers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def request_rows(table: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Request rows holding `columns` of a validated table, in its order."""
    return [
        {column: json_value(value) for column, value in zip(columns, values, strict=True)}
        for values in table[columns].itertuples(index=False, name=None)
    ]

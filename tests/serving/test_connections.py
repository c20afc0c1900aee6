"""The server bounds what clients can hold: connections that send nothing are closed, idle ones
give way at the cap (which stays under the open-file limit), so /healthz keeps answering while
thousands of idle sockets are held; a token too short to be secret is refused at start."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cirrus.serving.config import MIN_TOKEN_LENGTH, ServeError, ServeOptions, check_auth
from tests.serving.live import LiveServer, run_serve, start_server

OPEN_FILES = 1024  # the server's descriptor limit in these tests (the machine's is 20,000)
IDLE_CONNECTIONS = 1500  # more than the server could ever hold open at that limit
LOW_LIMIT = ("sh", "-c", f'ulimit -n {OPEN_FILES} && exec "$@"', "sh")


@pytest.fixture(scope="module")
def bounded_server(serving_project: Path) -> Iterator[LiveServer]:
    """The served project with a 1,024 open-file limit and a 1-second header timeout."""
    server = start_server(serving_project, "--header-timeout", "1", wrap=LOW_LIMIT)
    yield server
    server.stop(signal.SIGTERM)


def _idle_sockets(port: int, count: int) -> list[socket.socket]:
    """Connections that are opened and then say nothing."""
    held = []
    for _ in range(count):
        held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    return held


def test_healthz_answers_while_more_idle_connections_are_held_than_the_server_has_files(
    bounded_server: LiveServer,
) -> None:
    # Arrange
    held = _idle_sockets(bounded_server.port, IDLE_CONNECTIONS)
    try:
        # Act
        answers = [
            httpx.get(f"{bounded_server.url}/healthz", timeout=5).status_code for _ in range(20)
        ]
        with bounded_server.client() as client:
            ready = client.get("/readyz").status_code
    finally:
        for connection in held:
            connection.close()

    # Assert
    assert answers == [200] * 20 and ready == 200
    assert "Too many open files" not in bounded_server.log()


@pytest.mark.parametrize("sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"])
def test_a_connection_that_sends_no_whole_request_is_closed_after_the_header_timeout(
    bounded_server: LiveServer, sent: bytes
) -> None:
    # Arrange
    connection = socket.create_connection(("127.0.0.1", bounded_server.port), timeout=10)
    connection.sendall(sent)
    started = time.monotonic()

    # Act
    received = connection.recv(1024)  # b"" once the server closes it
    waited = time.monotonic() - started
    connection.close()

    # Assert
    assert received == b""
    assert 0.5 < waited < 5


def test_a_token_shorter_than_32_characters_is_refused_before_serving() -> None:
    # Arrange
    options = ServeOptions(project_path=".")

    # Act
    with pytest.raises(ServeError) as refused:
        check_auth(options, "change-me")
    check_auth(options, "x" * MIN_TOKEN_LENGTH)  # long enough: accepted

    # Assert
    assert "9 character(s)" in str(refused.value) and "at least 32" in str(refused.value)
    assert "token_urlsafe" in str(refused.value)


def test_serve_with_a_short_token_exits_with_the_reason(serving_project: Path) -> None:
    # Act
    result = run_serve(serving_project, env={"CIRRUS_API_TOKEN": "short-token"})

    # Assert
    assert result.returncode != 0
    assert "Error: The API token (CIRRUS_API_TOKEN or api_token) has 11 character(s)" in (
        result.stderr
    )

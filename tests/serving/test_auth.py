"""The bearer token: every endpoint but /healthz needs it, and the server will not start
without one unless told to, on this machine only."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.serving.live import LiveServer, run_serve

PROTECTED = [
    ("POST", "/v1/predict"),
    ("GET", "/v1/model"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_token_is_401_with_a_bearer_challenge(server: LiveServer, method: str, path: str):
    with server.client(token=None) as client:
        answer = client.request(method, path, json={"rows": []})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in answer.json()["detail"]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_a_wrong_token_is_401(server: LiveServer, method: str, path: str):
    with server.client(token="not-the-token") as client:
        answer = client.request(method, path, json={"rows": []})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_another_scheme_is_401(server: LiveServer):
    with server.client(token=None) as client:
        answer = client.get("/v1/model", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert answer.status_code == 401


def test_the_token_opens_every_endpoint(server: LiveServer):
    with server.client() as client:
        assert client.get("/readyz").status_code == 200
        assert client.get("/v1/model").status_code == 200
        assert client.get("/openapi.json").status_code == 200


def test_healthz_needs_no_token(server: LiveServer):
    with server.client(token=None) as client:
        answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_no_auth_on_a_public_address_is_refused(serving_project: Path):
    result = run_serve(serving_project, "--no-auth", "--host", "0.0.0.0")
    assert result.returncode != 0
    assert "Error: --no-auth is refused with --host 0.0.0.0" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_token_is_refused_unless_no_auth(serving_project: Path):
    result = run_serve(serving_project, env={"CIRRUS_API_TOKEN": None})
    assert result.returncode != 0
    assert "Error: No API token: set CIRRUS_API_TOKEN" in result.stderr
    assert "--no-auth" in result.stderr

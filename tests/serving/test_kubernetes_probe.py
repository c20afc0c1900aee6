"""The readiness probe of the exported Kubernetes manifests, run against the real server: the
exec command asks /readyz with the token from the environment, as kubelet would run it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cirrus.deploy.kubernetes_serving import ready_probe
from tests.serving.live import TOKEN, LiveServer


def run_probe(server: LiveServer, token: str) -> int:
    """The probe's exit code (0: ready) with this token in the container environment."""
    command = ready_probe(server.port)["exec"]["command"]
    assert command[0] == "python"
    env = {**os.environ, "CIRRUS_API_TOKEN": token}
    result = subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, timeout=30
    )
    return result.returncode


def test_the_probe_passes_on_a_ready_server_with_the_token(server: LiveServer) -> None:
    assert run_probe(server, TOKEN) == 0


@pytest.mark.parametrize("token", ["not-the-token", ""])
def test_the_probe_fails_without_the_right_token(server: LiveServer, token: str) -> None:
    assert run_probe(server, token) != 0

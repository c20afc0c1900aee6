"""Kedro-Viz serves the five lifecycle pipelines of the project."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cirrus.pipeline_registry import LIFECYCLE


def _free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_json(url: str, server: subprocess.Popen, log: Path, deadline_seconds: float):
    """Poll a URL until it answers JSON; fail with the server's log if it dies or times out."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"Kedro-Viz did not answer:\n{log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.5)


def test_kedro_viz_lists_the_five_pipelines_and_their_nodes(
    trained_project: Path, tmp_path: Path
) -> None:
    port = _free_port()
    log = tmp_path / "viz.log"
    kedro_bin = Path(sys.executable).with_name("kedro")
    # Its own process group: stopping only `kedro` would leave the server child on the port.
    server = subprocess.Popen(
        [str(kedro_bin), "viz", "run", "--no-browser", "--host", "127.0.0.1", "--port", str(port)],
        cwd=trained_project,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/main"
        graph = _wait_for_json(url, server, log, deadline_seconds=240)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    pipeline_ids = {p["id"] for p in graph["pipelines"]}
    node_names = {n["name"] for n in graph["nodes"]}
    assert set(LIFECYCLE) <= pipeline_ids
    assert {"train_lightgbm_model", "run_evidently_drift_report", "check_quality_gate"} <= {
        name.replace(" ", "_").lower() for name in node_names
    }

"""`kedro jupyter lab` serves JupyterLab with the project's Kedro kernel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.emulators.servers import free_port

TOKEN = "cirrus-test-token"


def _get(url: str) -> dict:
    """GET a Jupyter API URL with the test token."""
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_kedro_jupyter_lab_serves_the_project_kernel(trained_project: Path, tmp_path: Path):
    port = free_port()
    log = tmp_path / "jupyter.log"
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("kedro")),
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={TOKEN}",
            "--allow-root",  # CI runs as root
        ],
        cwd=trained_project,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "JUPYTER_RUNTIME_DIR": str(tmp_path)},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                specs = _get(f"http://127.0.0.1:{port}/api/kernelspecs")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"JupyterLab did not start:\n{log.read_text()}") from None
                time.sleep(0.5)
        lab = urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={TOKEN}", timeout=10)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    kedro_kernels = [name for name in specs["kernelspecs"] if name.startswith("kedro")]
    assert kedro_kernels, specs["kernelspecs"].keys()
    argv = specs["kernelspecs"][kedro_kernels[0]]["spec"]["argv"]
    assert any("kedro" in part for part in argv)
    assert lab.status == 200

"""Several worker processes: each loads the model and buffers its own log rows, and a graceful
stop of the server writes them all. Served --no-auth on loopback: no token needed there."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import fsspec
import pandas as pd
import pytest

from cirrus.prediction_log import PredictionLog
from tests.serving.live import request_rows, start_server


def test_two_workers_answer_and_log_every_row(
    serving_project: Path,
    tmp_path_factory: pytest.TempPathFactory,
    test_rows: pd.DataFrame,
    columns: list[str],
):
    project = tmp_path_factory.mktemp("workers") / "project"
    log_root = project / "data/07_model_output/prediction_log"
    shutil.copytree(serving_project, project, ignore=shutil.ignore_patterns("serve-*.log"))
    shutil.rmtree(log_root, ignore_errors=True)
    server = start_server(project, "--workers", "2", "--no-auth", env={"CIRRUS_API_TOKEN": None})
    try:
        deadline = time.monotonic() + 60  # /readyz answered from one worker; wait for both
        while server.log().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.2)
        rows = request_rows(test_rows.head(40), columns)
        with server.client(token=None) as client:
            answers = [client.post("/v1/predict", json={"rows": [row]}) for row in rows]
            assert client.get("/v1/model").status_code == 200
    finally:
        server.stop(signal.SIGTERM)
    assert {answer.status_code for answer in answers} == {200}
    logged = PredictionLog(fsspec.filesystem("file"), str(log_root)).read()
    assert sorted(logged["request_id"]) == sorted(a.json()["request_id"] for a in answers)
    assert server.log().count("Serving model") == 2  # each worker loaded its own

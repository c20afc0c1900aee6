"""Model updates without downtime, told as the life of one deployment on its own project copy:
a broken model stops the start with the reason; a good one is served; a retraining while
requests flow is swapped in with no failed request; broken models (truncated, an edited header,
another spec's) are refused before LightGBM parses them while the served one keeps answering;
a graceful stop leaves every answered row in the prediction log, and a kill -9 loses at most the
rows still buffered (and leaves no process behind). The tests run in file order on one server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from cirrus.prediction_log import PredictionLog
from cirrus.scoring import content_version
from tests.conftest import kedro
from tests.serving.live import LiveServer, request_rows, run_serve, start_server

MODEL = "data/06_models/model.txt"
BUNDLE = "data/06_models/model_bundle.json"
LOG_ROOT = "data/07_model_output/prediction_log"
RELOAD = "0.3"  # seconds between the server's checks for a new model
WAIT = 30  # seconds a change may take to show


@dataclass
class Deployment:
    """The project copy, its server, the good model text and bundle, every request answered."""

    project: Path
    server: LiveServer
    good_model: str
    good_bundle: str
    answered: list[dict[str, Any]] = field(default_factory=list)


def write_atomically(path: Path, text: str) -> None:
    """Replace a file whole (a temporary file renamed over it), as a publish does."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def wait_for(check: Any, what: str) -> Any:
    """Poll `check()` until it returns something truthy, failing after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {WAIT}s")


def model_report(deployment: Deployment) -> dict[str, Any]:
    """GET /v1/model."""
    with deployment.server.client() as client:
        return client.get("/v1/model").json()


@pytest.fixture(scope="module")
def deployment(
    serving_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """A copy of the trained project, served."""
    project = tmp_path_factory.mktemp("swap") / "project"
    shutil.copytree(serving_project, project, ignore=shutil.ignore_patterns("serve-*.log"))
    shutil.rmtree(project / LOG_ROOT, ignore_errors=True)
    good, good_bundle = (project / MODEL).read_text(), (project / BUNDLE).read_text()
    server = start_server(project, "--reload-interval", RELOAD)
    yield Deployment(project, server, good, good_bundle)
    server.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def rows(test_rows: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Request rows to send, one per request."""
    return request_rows(test_rows.head(100), columns)


class Traffic:
    """One-row requests sent back to back from a thread, each answer recorded."""

    def __init__(self, deployment: Deployment, rows: list[dict[str, Any]]) -> None:
        self.deployment, self.rows = deployment, rows
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._send)

    def _send(self) -> None:
        with self.deployment.server.client() as client:
            index = 0
            while not self.stop.is_set():
                row = self.rows[index % len(self.rows)]
                answer = client.post("/v1/predict", json={"rows": [row]})
                body = answer.json()
                self.deployment.answered.append({"status": answer.status_code, **body})
                index += 1

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        self.thread.join()

    def versions(self) -> list[str]:
        """The model version of each answer, in order."""
        return [a.get("model_version") for a in self.deployment.answered]


@pytest.mark.parametrize("kept", [0.5, 0.999])
def test_a_truncated_model_at_start_stops_the_start_with_the_reason(
    serving_project: Path, tmp_path: Path, kept: float
):
    project = tmp_path / "project"
    shutil.copytree(serving_project, project, ignore=shutil.ignore_patterns("serve-*.log"))
    good = (project / MODEL).read_text()
    write_atomically(project / MODEL, good[: int(len(good) * kept)])

    result = run_serve(project)

    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1, output[-2000:]  # not 134: LightGBM never parsed it here
    assert "Error: The model cannot be served: the model is refused before loading:" in output
    assert "cut short" in output and "Uvicorn running" not in output


def test_the_good_model_is_served(deployment: Deployment):
    with deployment.server.client() as client:
        assert client.get("/readyz").status_code == 200
    report = model_report(deployment)
    assert report["model_version"] == content_version(deployment.good_model)
    assert report["refused"] is None
    assert report["held_out_metrics"]["roc_auc"] > 0.5
    assert report["trained_at"] and report["loaded_at"]


def bundle(deployment: Deployment) -> dict[str, Any]:
    """The model bundle on storage."""
    return json.loads((deployment.project / BUNDLE).read_text())


def retrain(deployment: Deployment, pipelines: str, params: str) -> None:
    """`kedro run --pipelines <pipelines> --params <params>` in the deployment's project."""
    result = kedro(deployment.project, "run", "--pipelines", pipelines, "--params", params)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_a_model_trained_alone_is_not_half_applied(deployment: Deployment, rows):
    served = model_report(deployment)
    # Training alone publishes a model its bundle does not name: never served.
    retrain(deployment, "training", "training.lgbm_params.num_leaves=5")
    new = content_version((deployment.project / MODEL).read_text())
    assert new != served["model_version"]

    def refusal() -> dict[str, Any] | None:
        refused = model_report(deployment)["refused"]
        return refused if refused and refused["model_version"] == new else None

    reason = wait_for(refusal, "the refusal")["reason"]
    assert "does not match what is stored beside it" in reason
    assert f"the model file is version {new}" in reason
    with Traffic(deployment, rows) as traffic:
        wait_for(lambda: len(traffic.versions()) > 5, "answers")
    assert set(traffic.versions()) == {served["model_version"]}
    assert {a["bundle_version"] for a in deployment.answered} == {served["bundle_version"]}


def test_a_promoted_bundle_is_swapped_whole_while_requests_flow(deployment: Deployment, rows):
    old = model_report(deployment)
    assert old["threshold"] == 0.5  # the committed evaluation.threshold
    start = len(deployment.answered)
    with Traffic(deployment, rows) as traffic:
        wait_for(lambda: len(traffic.versions()) > start + 20, "answers before the retraining")
        # A new model *and* a new decision threshold, published together by one run.
        retrain(
            deployment,
            "training,evaluation",
            "training.lgbm_params.num_leaves=7,evaluation.threshold=0.15",
        )
        published = bundle(deployment)
        assert published["decision_threshold"] == {"value": 0.15, "rule": None}
        new = published["version"]
        wait_for(lambda: deployment.answered[-1].get("bundle_version") == new, "the new bundle")
        settled = len(deployment.answered)
        wait_for(lambda: len(deployment.answered) > settled + 20, "requests after the swap")
    answered = deployment.answered[start:]
    assert {answer["status"] for answer in answered} == {200}
    thresholds = {old["bundle_version"]: 0.5, new: 0.15}
    models = {old["bundle_version"]: old["model_version"], new: published["model_version"]}
    for answer in answered:
        # Each answer names one bundle, and its model and threshold are that bundle's.
        version = answer["bundle_version"]
        assert answer["model_version"] == models[version]
        (prediction,) = answer["predictions"]
        assert prediction["prediction"] == str(int(prediction["score"] >= thresholds[version]))
    between = [a for a in answered if 0.15 <= a["predictions"][0]["score"] < 0.5]
    # Rows the two thresholds label differently were answered by the new bundle as positive.
    assert {a["predictions"][0]["prediction"] for a in between if a["bundle_version"] == new} == {
        "1"
    }
    versions = [answer["bundle_version"] for answer in answered]
    switch = versions.index(new)
    assert set(versions[:switch]) == {old["bundle_version"]} and set(versions[switch:]) == {new}
    report = model_report(deployment)
    assert (report["bundle_version"], report["threshold"]) == (new, 0.15)
    assert report["held_out_metrics"] == published["held_out"]["metrics"]


def test_a_bundle_that_changes_the_request_schema_needs_a_restart(deployment: Deployment):
    served = model_report(deployment)
    original = (deployment.project / BUNDLE).read_text()
    changed = bundle(deployment)
    changed["contract"]["features"]["numeric"].remove("employment_years")
    del changed["contract"]["columns"]["employment_years"]
    changed["contract_hash"] = "edited000000"
    write_atomically(deployment.project / BUNDLE, json.dumps(changed))

    def refusal() -> dict[str, Any] | None:
        refused = model_report(deployment)["refused"]
        return refused if refused and "request schema" in refused["reason"] else None

    reason = wait_for(refusal, "the refusal")["reason"]
    assert "edited000000" in reason and "employment_years" in reason
    assert "restart the server" in reason
    assert model_report(deployment)["bundle_version"] == served["bundle_version"]
    write_atomically(deployment.project / BUNDLE, original)  # later tests start from it


def tiny_model(n_features: int) -> str:
    """A valid LightGBM model of the wrong shape for the feature spec."""
    rng = np.random.default_rng(0)
    data = lgb.Dataset(rng.random((200, n_features)), label=rng.integers(0, 2, 200))
    booster = lgb.train({"objective": "binary", "verbose": -1}, data, num_boost_round=2)
    return booster.model_to_string()


def damaged(deployment: Deployment, how: str) -> str:
    """The served model's text, cut short or with an edited header."""
    good = deployment.good_model
    if how == "truncated":
        return good[: len(good) // 2]
    return good.replace("num_class=1\n", "num_class=3\n", 1)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("tree\nversion=v4\nnot really\n", "refused before loading: its header lacks"),
        (tiny_model(3), "its 3 features are not the feature spec's"),
        ("truncated", "the model is refused before loading: it holds no complete tree"),
        ("num_class", "num_class=3, but the binary task needs 1"),
    ],
    ids=["unparsable", "wrong-features", "truncated", "edited-header"],
)
def test_a_broken_model_is_refused_and_the_served_one_keeps_answering(
    deployment: Deployment, rows, text: str, reason: str
):
    if text in ("truncated", "num_class"):
        text = damaged(deployment, text)
    served = model_report(deployment)["model_version"]
    write_atomically(deployment.project / MODEL, text)

    def refusal() -> dict[str, Any] | None:
        refused = model_report(deployment)["refused"]
        return refused if refused and refused["model_version"] == content_version(text) else None

    assert reason in wait_for(refusal, "the refusal")["reason"]
    assert model_report(deployment)["model_version"] == served
    with Traffic(deployment, rows) as traffic:
        wait_for(lambda: len(traffic.versions()) > 5, "answers")
    assert set(traffic.versions()[-5:]) == {served}
    assert f"Refused model {content_version(text)}" in deployment.server.log()
    with deployment.server.client() as client:
        assert client.get("/readyz").status_code == 200


def group_alive(group: int) -> bool:
    """Whether any process of a process group still runs."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def logged_rows(project: Path) -> pd.DataFrame:
    """Every row of the project's prediction log."""
    return PredictionLog(fsspec.filesystem("file"), str(project / LOG_ROOT)).read()


def test_a_graceful_stop_logs_every_answered_row(deployment: Deployment):
    # uvicorn shuts down, then re-raises the signal so the exit status says what stopped it.
    assert deployment.server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in deployment.server.log()
    answered = [a["request_id"] for a in deployment.answered if a["status"] == 200]
    logged = logged_rows(deployment.project)
    assert sorted(logged["request_id"]) == sorted(answered)
    assert set(logged["source"]) == {"api"}
    assert logged["model_version"].nunique() == 2  # before and after the promoted bundle
    assert "row(s) written at shutdown" in deployment.server.log()


def test_a_kill_loses_at_most_the_buffered_rows(deployment: Deployment, rows):
    write_atomically(deployment.project / MODEL, deployment.good_model)
    write_atomically(deployment.project / BUNDLE, deployment.good_bundle)
    before = len(logged_rows(deployment.project))
    server = start_server(deployment.project)
    try:
        with server.client() as client:
            sent = [client.post("/v1/predict", json={"rows": [row]}) for row in rows[:30]]
            assert {answer.status_code for answer in sent} == {200}
            wait_for(lambda: len(logged_rows(deployment.project)) == before + 30, "a flush")
            client.post("/v1/predict", json={"rows": rows[:5]})  # buffered, then lost
    finally:
        os.kill(server.process.pid, signal.SIGKILL)  # the server alone: its writer must follow
        server.process.wait()
    wait_for(lambda: not group_alive(server.process.pid), "the writer process ending")
    logged = logged_rows(deployment.project)  # every file still reads whole
    assert len(logged) == before + 30
    ids = {answer.json()["request_id"] for answer in sent}
    assert ids <= set(logged["request_id"])

"""Kedro-Viz serves the five lifecycle pipelines of the project, each a collapsible stage."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from cirrus.catalog import LIFECYCLE
from tests.emulators.servers import free_port

VIZ_MAX_PORT = 49152  # Kedro-Viz refuses ports in the ephemeral range above 49151

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--virtual-time-budget=15000",  # let the app draw the graph before capturing
    "--window-size=1600,1000",
]
# Datasets Kedro-Viz previews (None: shown with its file path, here the Evidently HTML report).
PREVIEWS = {
    "evaluation_metrics": "JSONPreview",
    "evaluation_plots": "PlotlyPreview",
    "drift_summary": "JSONPreview",
    "drift_report": None,
}
# A node of each stage: hidden inside its collapsed stage in the default view.
STAGE_NODES = {
    "ingestion": "validate_raw_reference",
    "features": "fit_feature_spec_on_training_rows",
    "training": "train_lightgbm_model",
    "evaluation": "check_quality_gate",
    "drift": "run_evidently_drift_report",
}
# Datasets passed between stages, drawn between the collapsed stages.
STAGE_BOUNDARIES = ("reference_table", "feature_spec", "model", "test_predictions")


def chromium() -> str:
    """Debian's Chromium (installed by .ci/run), or a clear failure."""
    path = shutil.which("chromium")
    assert path, "chromium is not installed: apt-get install chromium (.ci/run does this)"
    return path


def render(url: str, workdir: Path) -> tuple[str, Path]:
    """The DOM of a page after its scripts ran, and a screenshot of it, from real Chromium."""
    dom = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={workdir / 'dom'}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout
    screenshot = workdir / "viz.png"
    subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={workdir / 'shot'}",
            f"--screenshot={screenshot}",
            url,
        ],
        capture_output=True,
        timeout=180,
    )
    return dom, screenshot


def drawn_node_labels(dom: str) -> set[str]:
    """Text of the graph's node labels in a rendered Kedro-Viz page."""
    return set(re.findall(r'class="pipeline-node__text"[^>]*>([^<]+)<', dom))


def drawn_kinds(dom: str) -> dict[str, int]:
    """How many graph nodes of each kind (task, data, modularPipeline...) the page draws."""
    kinds = re.findall(r'class="pipeline-node pipeline-node--([A-Za-z]+)', dom)
    return {kind: kinds.count(kind) for kind in set(kinds)}


def assert_collapsed_stages(dom: str) -> None:
    """The default view draws the five stages collapsed, with the datasets between them."""
    labels = drawn_node_labels(dom)
    assert set(LIFECYCLE) <= labels
    assert set(STAGE_BOUNDARIES) <= labels
    assert not set(STAGE_NODES.values()) & labels  # task nodes stay inside their stage
    kinds = drawn_kinds(dom)
    assert kinds.get("modularPipeline") == len(LIFECYCLE), kinds
    assert "task" not in kinds, kinds


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
    port = free_port(below=VIZ_MAX_PORT)
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
        ids = {n["name"]: n["id"] for n in graph["nodes"]}
        details = {
            name: _wait_for_json(f"http://127.0.0.1:{port}/api/nodes/{ids[name]}", server, log, 30)
            for name in PREVIEWS
        }
        dom, screenshot = render(f"http://127.0.0.1:{port}/", tmp_path)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    pipeline_ids = {p["id"] for p in graph["pipelines"]}
    node_names = {n["name"] for n in graph["nodes"]}
    assert set(LIFECYCLE) <= pipeline_ids
    assert {"train_lightgbm_model", "run_evidently_drift_report", "check_quality_gate"} <= {
        name.replace(" ", "_").lower() for name in node_names
    }
    stages = graph["modular_pipelines"]
    assert {"ingestion", "features", "training", "evaluation", "drift"} <= set(stages)
    for stage, node_name in STAGE_NODES.items():
        children = {child["id"] for child in stages[stage]["children"]}
        node_ids = {n["id"] for n in graph["nodes"] if n["name"] == node_name}
        assert node_ids and node_ids <= children, (stage, node_name)
    assert_collapsed_stages(dom)
    assert screenshot.stat().st_size > 20_000  # a drawn graph, not a blank page
    for name, preview_type in PREVIEWS.items():
        assert details[name].get("preview_type") == preview_type, name
    assert details["drift_report"]["filepath"].endswith("data/08_reporting/drift_report.html")
    # The binary task's figures in one preview, a panel each, and no regression panel.
    panels = [a["text"] for a in details["evaluation_plots"]["preview"]["layout"]["annotations"]]
    assert any(title.startswith("ROC curve") for title in panels), panels
    assert not any(title.startswith(("Residuals", "Predicted vs actual")) for title in panels)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static file handler that does not log every request."""

    def log_message(self, *args: object) -> None:
        """Stay quiet."""


def test_kedro_viz_build_makes_a_static_site_that_loads_the_pipeline(
    trained_project: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(trained_project, project)
    kedro_bin = Path(sys.executable).with_name("kedro")

    subprocess.run(
        [str(kedro_bin), "viz", "build"],
        cwd=project,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"},
        capture_output=True,
        timeout=600,
    )
    site = project / "build"
    graph = json.loads((site / "api" / "main").read_text())
    handler = lambda *a, **k: _QuietHandler(*a, directory=str(site), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dom, _ = render(f"http://127.0.0.1:{server.server_address[1]}/", tmp_path)
    finally:
        server.shutdown()

    assert set(LIFECYCLE) <= {p["id"] for p in graph["pipelines"]}
    assert_collapsed_stages(dom)

"""The run record: each node's own time, CPU, peak memory, rows and bytes; the steps of one cloud
workflow (separate `kedro run` processes sharing CIRRUS_RUN_ID) merged into one record."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cirrus.runs.record import (
    Machine,
    NodeRecord,
    Recorder,
    RunRecord,
    merged,
    reset_peak_memory,
)
from tests.conftest import kedro

RECORD = "data/08_reporting/run_record.json"
MIB = 2**20


def run_node(recorder: Recorder, name: str, work, inputs=None) -> None:
    """Measure `work()` as a node named `name`; its return value is the node's outputs."""
    recorder.node_started(name)
    outputs = work()
    recorder.node_finished(name, "stage", inputs or {}, outputs)


def test_each_node_reports_its_own_peak_memory_cpu_and_rows():
    if not reset_peak_memory():
        pytest.skip("this kernel cannot reset a process's peak memory (/proc/self/clear_refs)")
    recorder = Recorder()

    def big() -> dict:
        block = np.ones(300 * MIB // 8)  # 300 MiB, touched, then freed
        return {"total": float(block.sum())}

    def busy() -> dict:
        end = time.process_time() + 0.3
        while time.process_time() < end:
            pass
        return {"table": pd.DataFrame({"a": range(7)})}

    run_node(recorder, "big", big)
    run_node(recorder, "busy", busy, inputs={"rows": pd.DataFrame({"a": range(5)})})
    record = recorder.record("r1", ["stage"], lambda name: 0)

    first, second = record.nodes
    assert first.peak_rss_bytes - second.peak_rss_bytes > 250 * MIB
    assert second.cpu_seconds >= 0.3 and second.wall_seconds >= second.cpu_seconds * 0.8
    assert (second.rows_in, second.rows_out) == (5, 7)
    assert record.recording_seconds < 0.1


def test_bytes_read_and_written_are_the_sizes_of_the_nodes_datasets():
    recorder = Recorder()
    run_node(recorder, "n", lambda: {"out_a": 1, "out_b": 2}, inputs={"in_a": 0})
    sizes = {"in_a": 100, "out_a": 20, "out_b": 3}

    (node,) = recorder.record("r1", ["stage"], sizes.__getitem__).nodes

    assert (node.bytes_read, node.bytes_written) == (100, 23)


def record_of(run_id: str, steps: dict[str, float], start: str, end: str) -> RunRecord:
    """A record of one node per step, each taking the given seconds."""
    nodes = [
        NodeRecord(
            node=f"{step}.node",
            pipeline=step,
            run_id=run_id,
            started_at=start,
            wall_seconds=seconds,
            cpu_seconds=seconds,
            peak_rss_bytes=MIB,
            rows_in=1,
            rows_out=1,
            bytes_read=1,
            bytes_written=1,
        )
        for step, seconds in steps.items()
    ]
    return RunRecord(
        run_id=run_id,
        started_at=start,
        finished_at=end,
        wall_seconds=sum(steps.values()),
        pipelines=list(steps),
        machine=Machine(cores=2, memory_bytes=MIB, platform="p", python="3.11"),
        reference_rows=None,
        nodes=nodes,
        recording_seconds=0.001,
    )


def test_the_steps_of_one_workflow_run_merge_and_a_rerun_step_replaces_its_nodes():
    first = record_of(
        "wf", {"ingestion": 3.0}, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:03+00:00"
    )
    second = record_of(
        "wf", {"training": 5.0}, "2026-01-01T00:01:00+00:00", "2026-01-01T00:01:05+00:00"
    )
    again = record_of(
        "wf", {"training": 4.0}, "2026-01-01T00:02:00+00:00", "2026-01-01T00:02:04+00:00"
    )

    both = merged(merged(first, second), again)

    assert both.pipelines == ["ingestion", "training"]
    assert [(n.pipeline, n.wall_seconds) for n in both.nodes] == [
        ("ingestion", 3.0),
        ("training", 4.0),
    ]
    assert both.wall_seconds == 124.0  # first start to last finish


def test_a_later_run_of_other_steps_keeps_the_steps_it_did_not_run():
    full = record_of(
        "a",
        {"ingestion": 3.0, "training": 5.0},
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:00:08+00:00",
    )
    scoring = record_of(
        "b", {"inference": 1.0}, "2026-01-02T00:00:00+00:00", "2026-01-02T00:00:01+00:00"
    )

    latest = merged(full, scoring)

    assert latest.run_id == "b" and latest.wall_seconds == 1.0  # the latest run's own figures
    assert [(n.pipeline, n.run_id) for n in latest.nodes] == [
        ("ingestion", "a"),
        ("training", "a"),
        ("inference", "b"),
    ]
    assert latest.for_steps(["ingestion", "training"]).pipelines == ["ingestion", "training"]


def test_a_run_records_every_node_of_every_stage(trained_project: Path):
    record = RunRecord.model_validate_json((trained_project / RECORD).read_text())
    raw_rows = len(pd.read_csv(trained_project / "data/01_raw/credit_applications.csv"))

    assert record.pipelines == ["ingestion", "features", "training", "drift", "evaluation"]
    assert set(record.steps()) == set(record.pipelines)
    assert len({node.node for node in record.nodes}) == len(record.nodes) > 20
    assert {node.run_id for node in record.nodes} == {record.run_id}
    assert record.reference_rows == raw_rows
    model_writer = next(n for n in record.nodes if n.node == "training.train_lightgbm_model")
    model_size = (trained_project / "data/06_models/model.txt").stat().st_size
    assert model_writer.bytes_written >= model_size
    assert model_writer.rows_in > 0 and model_writer.cpu_seconds > 0
    assert record.recording_seconds < 0.01 * record.wall_seconds


def test_the_steps_of_a_cloud_workflow_share_one_record(trained_project: Path, tmp_path: Path):
    project = tmp_path / "project"
    shutil.copytree(trained_project, project)
    env = {"CIRRUS_RUN_ID": "workflow-7f3a"}

    for step in ("training", "evaluation"):  # two processes, as two cloud steps run
        result = kedro(project, "run", "--pipelines", step, env=env)
        assert result.returncode == 0, result.stderr[-2000:]

    record = RunRecord.model_validate_json((project / RECORD).read_text())
    assert record.run_id == "workflow-7f3a"
    by_run = {(node.pipeline, node.run_id) for node in record.nodes}
    assert {step for step, run in by_run if run == "workflow-7f3a"} == {"training", "evaluation"}
    assert {step for step, run in by_run if run != "workflow-7f3a"} == {
        "ingestion",
        "features",
        "drift",
    }  # as the earlier run left them
    steps = record.for_steps(["training", "evaluation"]).nodes
    assert record.wall_seconds >= sum(node.wall_seconds for node in steps)  # spans both steps

"""The run record: what each node of a run used (time, CPU, memory, rows, bytes) and on what.

Written by `RunRecordHooks` as `08_reporting/run_record.json` at the end of every successful run
(before its outputs are published); read by `kedro cirrus cost` and the model card. Bytes read
and written are the stored sizes of the datasets a node loads and saves; rows, those of its
tables.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field

from cirrus.deploy.run_id import RUN_ID_ENV, RUN_ID_FALLBACK_ENVS
from cirrus.results.base import Result


class Machine(Result):
    """The machine a run used."""

    cores: int = Field(ge=1)
    memory_bytes: int = Field(ge=0)
    platform: str
    python: str


class NodeRecord(Result):
    """What one node used: wall and CPU seconds, peak resident memory, rows and bytes."""

    node: str
    pipeline: str  # the deploy step the node belongs to (its Kedro pipeline), or "" if none
    run_id: str  # the run that ran it (a record keeps each step's latest run)
    started_at: str
    wall_seconds: float = Field(ge=0)
    cpu_seconds: float = Field(ge=0)
    # The process's peak resident memory while the node ran (the high-water mark is per process:
    # a node that does not raise it reports the peak reached before it).
    peak_rss_bytes: int = Field(ge=0)
    rows_in: int = Field(ge=0)
    rows_out: int = Field(ge=0)
    bytes_read: int = Field(ge=0)
    bytes_written: int = Field(ge=0)


class RunRecord(Result):
    """The latest run (its id, when, on what machine) and each step's nodes as they last ran,
    in the order they ran."""

    run_id: str
    started_at: str
    finished_at: str
    wall_seconds: float = Field(ge=0)
    pipelines: list[str]
    machine: Machine
    reference_rows: int | None  # rows of the raw reference table read, when the run read it
    nodes: list[NodeRecord]
    recording_seconds: float = Field(ge=0)  # what measuring cost: time spent in the recorder

    def for_steps(self, steps: list[str]) -> RunRecord:
        """The record of the given steps only (the deploy steps a workflow runs)."""
        return self.model_copy(
            update={
                "pipelines": [p for p in self.pipelines if p in steps],
                "nodes": [node for node in self.nodes if node.pipeline in steps],
            }
        )

    def steps(self) -> dict[str, list[NodeRecord]]:
        """The nodes grouped by deploy step (pipeline), in run order."""
        grouped: dict[str, list[NodeRecord]] = {}
        for node in self.nodes:
            grouped.setdefault(node.pipeline, []).append(node)
        return grouped


# ---------- measuring a run ----------
# Linux keeps a process's peak resident memory (VmHWM) and resets it when "5" is written to
# /proc/self/clear_refs: reset before each node, read after it, the peak is the node's own.
STATUS, CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")
# The id a cloud workflow gives all its steps (each a `kedro run` of its own): their records are
# merged into one under it. Set by the exports; the fallbacks are set by the platforms themselves.
RUN_ID_ENVS = (RUN_ID_ENV, *RUN_ID_FALLBACK_ENVS)


def machine() -> Machine:
    """The cores this process may use and the machine's memory."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return Machine(
        cores=cores or 1,
        memory_bytes=memory,
        platform=platform.platform(),
        python=platform.python_version(),
    )


def reset_peak_memory() -> bool:
    """Start a new peak-memory window for this process; False where Linux's reset is missing."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_memory_bytes() -> int:
    """The process's peak resident memory since the last reset (or since it started)."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    # ru_maxrss: kilobytes on Linux, the whole life of the process
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def frame_rows(values: dict[str, Any]) -> int:
    """Rows of the tables among a node's inputs or outputs (parameters and texts count 0)."""
    return sum(len(value) for value in values.values() if isinstance(value, pd.DataFrame))


def workflow_run_id() -> str | None:
    """The id a cloud workflow shares between its steps, when this run is one of them."""
    return next((os.environ[name] for name in RUN_ID_ENVS if os.environ.get(name)), None)


def merged(previous: RunRecord | None, current: RunRecord) -> RunRecord:
    """The latest run merged into the record: its steps replace theirs, the other steps stay
    as they last ran (so `kedro run --pipelines inference` after `kedro run` keeps the training
    steps). The steps of one cloud workflow share a run id: the record spans them all."""
    if previous is None:
        return current
    ran = set(current.pipelines)
    kept = [node for node in previous.nodes if node.pipeline not in ran]
    update: dict[str, Any] = {
        "pipelines": [
            *dict.fromkeys([*(p for p in previous.pipelines if p not in ran), *current.pipelines])
        ],
        "reference_rows": current.reference_rows or previous.reference_rows,
        "nodes": [*kept, *current.nodes],
    }
    if previous.run_id == current.run_id:
        started = min(previous.started_at, current.started_at)
        finished = max(previous.finished_at, current.finished_at)
        span = datetime.fromisoformat(finished) - datetime.fromisoformat(started)
        update |= {
            "started_at": started,
            "finished_at": finished,
            "wall_seconds": span.total_seconds(),
            "recording_seconds": previous.recording_seconds + current.recording_seconds,
        }
    return current.model_copy(update=update)


@dataclass
class _Open:
    """A node being measured."""

    started_at: str
    wall: float
    cpu: float


@dataclass
class Recorder:
    """Measures each node of one run and builds its record."""

    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    started: float = field(default_factory=time.perf_counter)
    nodes: list[NodeRecord] = field(default_factory=list)
    datasets: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    reference_rows: int | None = None
    overhead: float = 0.0
    _open: dict[str, _Open] = field(default_factory=dict)

    def node_started(self, name: str) -> None:
        """Start a node's clocks and its peak-memory window."""
        begun = time.perf_counter()
        reset_peak_memory()
        self._open[name] = _Open(datetime.now(UTC).isoformat(), begun, time.process_time())
        self.overhead += time.perf_counter() - begun

    def node_finished(
        self, name: str, pipeline: str, inputs: dict[str, Any], outputs: dict[str, Any]
    ) -> None:
        """Record what the node used (its datasets' bytes are added at the end of the run)."""
        wall, cpu = time.perf_counter(), time.process_time()
        opened = self._open.pop(name)
        self.nodes.append(
            NodeRecord(
                node=name,
                pipeline=pipeline,
                run_id="",  # set when the run's id is known, at its end
                started_at=opened.started_at,
                wall_seconds=wall - opened.wall,
                cpu_seconds=cpu - opened.cpu,
                peak_rss_bytes=peak_memory_bytes(),
                rows_in=frame_rows(inputs),
                rows_out=frame_rows(outputs),
                bytes_read=0,
                bytes_written=0,
            )
        )
        self.datasets[name] = (list(inputs), list(outputs))
        self.overhead += time.perf_counter() - wall

    def record(self, run_id: str, pipelines: list[str], sizes: Callable[[str], int]) -> RunRecord:
        """The run's record, each node's bytes read and written from its datasets' sizes."""
        begun = time.perf_counter()
        nodes = [
            node.model_copy(
                update={
                    "run_id": run_id,
                    "bytes_read": sum(sizes(n) for n in self.datasets[node.node][0]),
                    "bytes_written": sum(sizes(n) for n in self.datasets[node.node][1]),
                }
            )
            for node in self.nodes
        ]
        finished = datetime.now(UTC).isoformat()
        return RunRecord(
            run_id=run_id,
            started_at=self.started_at,
            finished_at=finished,
            wall_seconds=time.perf_counter() - self.started,
            pipelines=pipelines,
            machine=machine(),
            reference_rows=self.reference_rows,
            nodes=nodes,
            recording_seconds=self.overhead + time.perf_counter() - begun,
        )

"""Profile one `kedro run` node by node: wall and CPU seconds, resident memory after, peak so far.

Runs the project's own session (same hooks, catalog and runner as `kedro run`) in this
process, with one extra hook that records each node. Generates the demo data first when the
project copy has none, at --rows reference rows and --rows/4 current rows.

    python benchmarks/profile_run.py --rows 1000000 [--project DIR] [--pipeline NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_pipelines import ENV, copy_project, write_raw_data
from kedro.framework.hooks.markers import hook_impl
from plain_baseline import catalog_paths

PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_mb() -> float:
    """The resident set size of this process now, in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 1e6


def peak_mb() -> float:
    """The peak resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


class NodeTimer:
    """A Kedro hook recording wall, CPU and memory of each node."""

    def __init__(self) -> None:
        """Start with no records."""
        self.records: list[dict[str, Any]] = []
        self.io: dict[str, float] = {}
        self.node_io: dict[str, float] = {}
        self._start: dict[str, tuple[float, float]] = {}
        self._io_start: dict[str, float] = {}

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str, node: Any) -> None:
        """Remember when a load started."""
        self._io_start[f"load {dataset_name}"] = time.perf_counter()

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, node: Any) -> None:
        """Add the load's seconds to the dataset's I/O total and to its node's."""
        self._add_io(f"load {dataset_name}", node)

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, node: Any) -> None:
        """Remember when a save started."""
        self._io_start[f"save {dataset_name}"] = time.perf_counter()

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Any) -> None:
        """Add the save's seconds to the dataset's I/O total and to its node's."""
        self._add_io(f"save {dataset_name}", node)

    def _add_io(self, key: str, node: Any) -> None:
        """Accumulate the seconds since the matching before-hook, by dataset and by node."""
        seconds = time.perf_counter() - self._io_start.pop(key)
        self.io[key] = self.io.get(key, 0.0) + seconds
        self.node_io[node.name] = self.node_io.get(node.name, 0.0) + seconds

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        """Remember when the node started."""
        self._start[node.name] = (time.perf_counter(), time.process_time())

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        """Record the node's seconds and the memory after it (its outputs are saved by now)."""
        wall0, cpu0 = self._start.pop(node.name)
        self.records.append(
            {
                "node": node.name,
                "stage": node.namespace or node.name.split(".")[0],
                "wall": time.perf_counter() - wall0,
                "cpu": time.process_time() - cpu0,
                "rss_mb": resident_mb(),
                "peak_mb": peak_mb(),
            }
        )


def run_profiled(project: Path, pipeline: str | None) -> tuple[NodeTimer, float]:
    """Run the project's pipeline in-process with the timer hook; return records and seconds."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    timer = NodeTimer()
    os.chdir(project)
    bootstrap_project(project)
    start = time.perf_counter()
    with KedroSession.create(project_path=project) as session:
        session._hook_manager.register(timer)
        session.run(pipeline_names=[pipeline] if pipeline else None)
    return timer, time.perf_counter() - start


def stage_seconds(timer: NodeTimer) -> dict[str, dict[str, float]]:
    """Per stage (node namespace): the nodes' own seconds and their loads' and saves' seconds."""
    stages: dict[str, dict[str, float]] = {}
    for row in timer.records:
        stage = stages.setdefault(row["stage"], {"nodes": 0.0, "io": 0.0})
        stage["nodes"] += row["wall"]
        stage["io"] += timer.node_io.get(row["node"], 0.0)
    return stages


def print_profile(timer: NodeTimer, total: float) -> None:
    """Print the per-node table, the dataset I/O above 0.1 s and the run's totals."""
    records = timer.records
    print(f"{'node':<48} {'wall s':>8} {'cpu s':>8} {'rss MB':>8} {'peak MB':>8}")
    for row in records:
        print(
            f"{row['node']:<48} {row['wall']:8.2f} {row['cpu']:8.2f} "
            f"{row['rss_mb']:8.0f} {row['peak_mb']:8.0f}"
        )
    nodes = sum(row["wall"] for row in records)
    print(f"{'sum of nodes':<48} {nodes:8.2f}")
    for key, seconds in sorted(timer.io.items(), key=lambda item: -item[1]):
        if seconds >= 0.1:
            print(f"{key:<48} {seconds:8.2f}")
    print(f"{'sum of dataset loads and saves':<48} {sum(timer.io.values()):8.2f}")
    for name, stage in stage_seconds(timer).items():
        print(f"{'stage ' + name + ' (nodes + their I/O)':<48} {stage['nodes'] + stage['io']:8.2f}")
    print(f"{'whole session (incl. catalog I/O, hooks)':<48} {total:8.2f}")
    print(f"peak resident memory {peak_mb():.0f} MB")


def main(argv: list[str] | None = None) -> None:
    """Prepare a project copy when needed, run it profiled and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--project", type=Path, help="an existing copy (default: a temp copy)")
    parser.add_argument("--pipeline", help="a registered pipeline (default: __default__)")
    parser.add_argument("--out", type=Path, help="write the records as JSON")
    args = parser.parse_args(argv)
    os.environ.update(ENV)
    project = args.project or copy_project(Path(tempfile.mkdtemp(prefix="cirrus-profile-")))
    raw = catalog_paths(project, ("raw_reference",))["raw_reference"]
    if not raw.exists():
        print(f"generating {args.rows} + {args.rows // 4} demo rows in {project}", flush=True)
        write_raw_data(project, args.rows)
    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    timer, total = run_profiled(project, args.pipeline)
    print_profile(timer, total)
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "records": timer.records,
                    "io": timer.io,
                    "stages": stage_seconds(timer),
                    "total": total,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()

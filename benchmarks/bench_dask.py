"""The dask environment against the pandas path, at growing row counts, on the same files.

For each row count N (N reference rows and N/4 current rows of the demo data, written to CSV in
chunks so the generator never holds the whole table), in one temporary project:

- **pandas**: `kedro run`, the default path (skipped above `--pandas-up-to`, 10M by default: at
  10M it peaks near 15 GB, and 30M does not fit this machine's 24 GB);
- **dask**: `kedro run --env dask` on a LocalCluster of 2 workers, `--worker-memory` each
  (8 GiB: 16 GiB in all), one thread each.

Every process of each run is sampled every half second (psutil): the driver's peak resident
memory, each worker's, and the whole tree's (every 5 s also to a timeline beside the run's log,
kept with the log when a run fails). A worker that died and was restarted shows as a third
worker process. It prints, per N, wall time, time per row against the smallest N, peak
memory per process, held-out ROC AUC and the drifted columns of both paths, with the ratios the
goals are stated in (Dask/pandas time at equal N, AUC gap, per-row growth from 10M to 30M); it
writes JSON and a plot of seconds and peak memory against rows for both paths.

    python benchmarks/bench_dask.py                          # 1M and 10M, both paths
    python benchmarks/bench_dask.py --rows 1000000 10000000 30000000
    python benchmarks/bench_dask.py --rows 200000 --plot /tmp/p.png   # a quick check
    python benchmarks/bench_dask.py --rows 30000000 --pandas-up-to 0 --merge

`--merge` keeps the sizes already in the JSON that this run does not measure, so a long size can
be run on its own (a size measured on the Dask path alone keeps the pandas side measured
before, with that run's commit as `pandas_commit`); every size records the commit and the load
average it was measured at.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import yaml
from bench_pipelines import ENV, copy_project, demo_params, kedro_bin

from cirrus.demo_data.generator import _derive_seed, generate_applications

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
DEFAULT_PLOT = HERE / "results" / "scaling_dask.png"
DEFAULT_JSON = HERE / "results" / "dask.json"
CHUNK_ROWS = 1_000_000
RAW = {"reference": "credit_applications.csv", "current": "credit_applications_current.csv"}


def _windows(start: str, end: str, n: int) -> list[tuple[str, str]]:
    """`n` consecutive time windows covering [start, end)."""
    edges = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), periods=n + 1)
    return [(str(a), str(b)) for a, b in itertools.pairwise(edges)]


def write_side(path: Path, side: dict[str, Any], seed: int, id_offset: int) -> None:
    """One raw CSV of `side["n_rows"]` rows, generated and appended a chunk at a time (ids stay
    unique, times stay in order)."""
    n_rows = int(side["n_rows"])
    chunks = max(1, -(-n_rows // CHUNK_ROWS))
    windows = _windows(side["start"], side["end"], chunks)
    done = 0
    for i, (start, end) in enumerate(windows):
        rows = min(CHUNK_ROWS, n_rows - done)
        options = {k: v for k, v in side.items() if k not in ("n_rows", "start", "end")}
        frame = generate_applications(
            n_rows=rows,
            seed=_derive_seed(seed, 100 + i),
            start=start,
            end=end,
            id_offset=id_offset + done,
            **options,
        )
        frame.to_csv(path, mode="w" if i == 0 else "a", header=i == 0, index=False)
        done += rows


def write_raw(project: Path, rows: int) -> float:
    """Both raw CSVs of N reference and N/4 current rows; the seconds it took."""
    started = time.perf_counter()
    params = demo_params(rows)
    raw = project / "data" / "01_raw"
    write_side(raw / RAW["reference"], params["reference"], params["seed"], 0)
    current_seed = _derive_seed(params["seed"], 1)
    write_side(raw / RAW["current"], params["current"], current_seed, rows)
    return time.perf_counter() - started


def use_cluster(project: Path, worker_memory: str) -> None:
    """conf/dask of this repository, with 2 workers of `worker_memory` and no dashboard."""
    target = project / "conf" / "dask"
    target.mkdir(parents=True, exist_ok=True)
    for path in (PROJECT / "conf" / "dask").glob("*.yml"):
        (target / path.name).write_text(path.read_text())
    settings = yaml.safe_load((target / "dask.yml").read_text())
    settings["dask"]["local_cluster"].update(
        n_workers=2, threads_per_worker=1, memory_limit=worker_memory, dashboard_address=None
    )
    (target / "dask.yml").write_text(yaml.safe_dump(settings))


class TreeSampler:
    """Peak resident memory of a process and each of its descendants, sampled in a thread."""

    def __init__(self, pid: int, timeline: Path, every: float = 0.5) -> None:
        self.root = psutil.Process(pid)
        self.every = every
        self.timeline = timeline  # every 10th sample: seconds, then kind:pid=GiB per process
        self.peaks: dict[int, float] = {}
        self.kinds: dict[int, str] = {}
        self.tree_peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._count = itertools.count()

    def _kind(self, process: psutil.Process) -> str:
        """driver, worker (a spawned Dask worker) or helper."""
        if process.pid == self.root.pid:
            return "driver"
        try:
            line = " ".join(process.cmdline())
        except psutil.Error:
            return "helper"
        return "worker" if "spawn_main" in line else "helper"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            total, line = 0.0, []
            for process in processes:
                try:
                    rss = process.memory_info().rss / 2**30
                except psutil.Error:
                    continue
                total += rss
                kind = self.kinds.setdefault(process.pid, self._kind(process))
                self.peaks[process.pid] = max(self.peaks.get(process.pid, 0.0), rss)
                line.append(f"{kind}:{process.pid}={rss:.2f}")
            self.tree_peak = max(self.tree_peak, total)
            if next(self._count) % 10 == 0:
                with self.timeline.open("a") as out:
                    out.write(f"{time.strftime('%H:%M:%S')} {' '.join(line)}\n")
            self._stop.wait(self.every)

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        """Peaks in GiB: driver, each worker, the whole tree; and how many workers ran."""
        self._stop.set()
        self._thread.join()
        workers = sorted(
            (gb for pid, gb in self.peaks.items() if self.kinds.get(pid) == "worker"),
            reverse=True,
        )
        driver = next((gb for pid, gb in self.peaks.items() if self.kinds[pid] == "driver"), 0)
        return {
            "driver_gb": round(driver, 2),
            "worker_gb": [round(gb, 2) for gb in workers],
            "workers_started": len(workers),
            "tree_gb": round(self.tree_peak, 2),
        }


def run(project: Path, args: list[str], log: Path) -> dict[str, Any]:
    """One `kedro run` with its wall time and memory peaks."""
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(
            [kedro_bin(), "run", *args],
            cwd=project,
            env={**os.environ, **ENV},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        sampler = TreeSampler(process.pid, log.with_suffix(".memory")).start()
        code = process.wait()
        peaks = sampler.stop()
    seconds = time.perf_counter() - started
    if code != 0:
        # Kept: the run's folder is deleted with the benchmark's, and the cause is rarely in
        # the last lines (a worker's own log, a memory warning, the first traceback).
        kept = Path(tempfile.mkdtemp(prefix="cirrus-bench-dask-failed-")) / log.name
        kept.write_text(log.read_text())
        timeline = log.with_suffix(".memory")
        if timeline.exists():
            kept.with_suffix(".memory").write_text(timeline.read_text())
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise SystemExit(f"kedro run {' '.join(args)} failed ({code}), whole log {kept}:\n{tail}")
    data = project / "data"
    evaluation = json.loads((data / "08_reporting" / "evaluation_metrics.json").read_text())
    drift = json.loads((data / "08_reporting" / "drift_summary.json").read_text())
    training = json.loads((data / "06_models" / "training_metrics.json").read_text())
    return {
        "seconds": round(seconds, 1),
        **peaks,
        "roc_auc": evaluation["model"]["roc_auc"],
        "best_iteration": training["best_iteration"],
        "drifted": drift["drifted_features"],
        "prediction_drift": drift["prediction_drift"],
    }


def current_commit() -> str:
    """The short commit of this checkout ("unknown" outside git)."""
    found = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT, capture_output=True, text=True
    )
    return found.stdout.strip() or "unknown"


def bench_size(rows: int, root: Path, pandas_up_to: int, worker_memory: str) -> dict[str, Any]:
    """Both paths (pandas up to its limit) on N rows."""
    project = copy_project(root / f"n{rows}")
    use_cluster(project, worker_memory)
    result: dict[str, Any] = {
        "rows": rows,
        "commit": current_commit(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "write_seconds": round(write_raw(project, rows), 1),
    }
    logs = root / f"n{rows}-logs"
    logs.mkdir()
    if rows <= pandas_up_to:
        result["pandas"] = run(project, [], logs / "pandas.log")
        print(f"  {rows:,} rows, pandas: {result['pandas']}", flush=True)
    result["dask"] = run(project, ["--env", "dask"], logs / "dask.log")
    print(f"  {rows:,} rows, dask: {result['dask']}", flush=True)
    return result


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def report(sizes: list[dict[str, Any]], load: tuple[float, float, float]) -> None:
    """The table and the issue's ratios."""
    print(f"\nload average before the runs: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(
        f"{'rows':>11} {'path':6} {'seconds':>8} {'s/M rows':>8} {'driver GB':>9} "
        f"{'workers GB':>13} {'tree GB':>7} {'AUC':>7} {'commit':>8} drifted"
    )
    for size in sizes:
        for path in ("pandas", "dask"):
            found = size.get(path)
            if not found:
                continue
            per_m = found["seconds"] / (size["rows"] / 1e6)
            commit = size.get(f"{path}_commit", size.get("commit", "-"))
            workers = "/".join(f"{gb:.1f}" for gb in found["worker_gb"]) or "-"
            print(
                f"{size['rows']:>11,} {path:6} {found['seconds']:>8.0f} {per_m:>8.1f} "
                f"{found['driver_gb']:>9.2f} {workers:>13} {found['tree_gb']:>7.2f} "
                f"{found['roc_auc']:>7.4f} {commit:>8} "
                f"{','.join(found['drifted'])}"
            )
    for size in sizes:
        if "pandas" in size:
            pandas_side, dask_side = size["pandas"], size["dask"]
            time_ratio = _ratio(dask_side["seconds"], pandas_side["seconds"])
            print(
                f"{size['rows']:,} rows: dask/pandas time {time_ratio}, "
                f"AUC gap {abs(dask_side['roc_auc'] - pandas_side['roc_auc']):.5f}, same drifted "
                f"columns: {dask_side['drifted'] == pandas_side['drifted']}"
            )
    by_rows = {size["rows"]: size["dask"] for size in sizes}
    if 10_000_000 in by_rows and 30_000_000 in by_rows:
        ten, thirty = by_rows[10_000_000], by_rows[30_000_000]
        growth = (thirty["seconds"] / 30) / (ten["seconds"] / 10)
        print(
            f"dask time per row, 30M against 10M: {growth:.2f}x; 30M workers "
            f"{thirty['workers_started']} started (2 = none restarted), driver peak "
            f"{thirty['driver_gb']:.2f} GB"
        )


def write_plot(sizes: list[dict[str, Any]], path: Path) -> None:
    """Seconds and peak memory (the whole process tree) against rows, both paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, marker in (("pandas", "o"), ("dask", "s")):
        points = [(s["rows"] / 1e6, s[name]) for s in sizes if name in s]
        if not points:
            continue
        rows = [r for r, _ in points]
        left.plot(rows, [p["seconds"] for _, p in points], marker=marker, label=name)
        right.plot(rows, [p["tree_gb"] for _, p in points], marker=marker, label=f"{name} (all)")
        if name == "dask":
            right.plot(rows, [p["driver_gb"] for _, p in points], marker="^", label="dask driver")
    left.set(xlabel="reference rows (millions)", ylabel="wall seconds", title="Time")
    right.set(xlabel="reference rows (millions)", ylabel="peak resident GB", title="Memory")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--pandas-up-to", type=int, default=10_000_000)
    parser.add_argument("--worker-memory", default="8GiB")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--merge", action="store_true", help="keep other sizes in --json")
    parser.add_argument("--logs", type=Path, help="copy every run's log and memory timeline here")
    return parser.parse_args(argv)


def merged(sizes: list[dict[str, Any]], previous: Path) -> list[dict[str, Any]]:
    """`sizes`, plus the sizes of `previous` (a JSON of this script) that were not rerun."""
    if not previous.exists():
        return sizes
    earlier = {size["rows"]: size for size in json.loads(previous.read_text())["sizes"]}
    for size in sizes:
        before = earlier.pop(size["rows"], {})
        if "pandas" not in size and "pandas" in before:  # the pandas side of an earlier run
            size["pandas"] = before["pandas"]
            size["pandas_commit"] = before.get("pandas_commit", before.get("commit"))
    return sorted([*earlier.values(), *sizes], key=lambda size: size["rows"])


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load = os.getloadavg()
    sizes = []
    with tempfile.TemporaryDirectory(prefix="cirrus-bench-dask-") as tmp:
        for rows in sorted(args.rows):
            sizes.append(bench_size(rows, Path(tmp), args.pandas_up_to, args.worker_memory))
            if args.logs:
                shutil.copytree(
                    Path(tmp) / f"n{rows}-logs", args.logs / f"n{rows}", dirs_exist_ok=True
                )
    if args.merge:
        sizes = merged(sizes, args.json)
    report(sizes, load)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"load_average": load, "sizes": sizes}, indent=1))
    write_plot(sizes, args.plot)
    print(f"wrote {args.json} and {args.plot}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()

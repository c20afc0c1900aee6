"""What the run record costs, and what the runs it records cost on each cloud.

For each row count N (N reference rows, N/4 current rows of the demo data, in a temp project
copy), `kedro run` twice: once without the `run_record` catalog entry (the hook then measures
nothing) and once with it (above --ab-max rows, only with it). It prints both wall times, their
ratio, and the time the recorder itself spent (`recording_seconds` in the record). Then
`kedro cirrus cost` prices each run as recorded and, from the records of the two smallest runs,
a run of --scale-to rows (compare it with a run measured at that size).

    python benchmarks/bench_run_record.py                          # 1M and 2M rows, cost at 10M
    python benchmarks/bench_run_record.py --rows 1000000 2000000 10000000   # and 10M measured
    python benchmarks/bench_run_record.py --rows 20000 40000 --scale-to 100000   # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from bench_pipelines import ENV, copy_project, kedro_bin, write_raw_data

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
RECORD = "data/08_reporting/run_record.json"


def without_record_entry(project: Path) -> None:
    """Drop the `run_record` entry from the copy's catalog (the hook then records nothing)."""
    path = project / "conf" / "base" / "catalog.yml"
    catalog = yaml.safe_load(path.read_text())
    catalog.pop("run_record")
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))


def timed_run(project: Path) -> float:
    """Seconds of one `kedro run` of the default pipeline in `project`."""
    started = time.perf_counter()
    result = subprocess.run(
        [kedro_bin(), "run"],
        cwd=project,
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"kedro run failed in {project}:\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def measure(rows: int, workdir: Path, ab: bool) -> dict[str, Any]:
    """Wall seconds with (and, when `ab`, without) the record at `rows` rows, and the record."""
    recorded = copy_project(workdir / f"recorded-{rows}")
    write_raw_data(recorded, rows)
    seconds: dict[str, float | None] = {"without": None}
    if ab:
        plain = copy_project(workdir / f"plain-{rows}")
        without_record_entry(plain)
        for name in ("credit_applications.csv", "credit_applications_current.csv"):
            shutil.copy2(recorded / "data/01_raw" / name, plain / "data/01_raw" / name)
        seconds["without"] = timed_run(plain)
        assert not (plain / RECORD).exists()
        shutil.rmtree(plain)
    seconds["with"] = timed_run(recorded)
    record = json.loads((recorded / RECORD).read_text())
    shutil.rmtree(recorded)  # large runs leave gigabytes behind
    kept = workdir / f"run_record-{rows}.json"
    kept.write_text(json.dumps(record))
    return {"rows": rows, "seconds": seconds, "record": record, "path": kept}


def cost(records: list[Path], rows: int | None, out: Path) -> str:
    """`kedro cirrus cost` on the records (two and --rows: scaled), from this project."""
    command = [kedro_bin(), "cirrus", "cost", "--out", str(out)]
    for record in records:
        command += ["--record", str(record)]
    if rows is not None:
        command += ["--rows", str(rows)]
    result = subprocess.run(
        command, cwd=PROJECT, env={**os.environ, **ENV}, capture_output=True, text=True
    )
    return result.stdout + result.stderr


def main() -> None:
    """Measure, print the overhead table, then the cost reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 2_000_000])
    parser.add_argument("--scale-to", type=int, default=10_000_000)
    parser.add_argument("--ab-max", type=int, default=2_000_000, help="largest A/B row count")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="bench-record-") as temp:
        runs = [measure(rows, Path(temp), rows <= args.ab_max) for rows in sorted(args.rows)]
        print(f"{'rows':>10} {'without s':>10} {'with s':>8} {'ratio':>6} {'recorder s':>11}")
        for run in runs:
            seconds, record = run["seconds"], run["record"]
            without = seconds["without"]
            ratio = f"{seconds['with'] / without:>6.3f}" if without else f"{'-':>6}"
            print(
                f"{run['rows']:>10,} {without or float('nan'):>10.1f} {seconds['with']:>8.1f} "
                f"{ratio} {record['recording_seconds']:>11.3f}"
            )
        for run in runs:
            print(f"\n=== cost of the {run['rows']:,}-row run as recorded ===")
            print(cost([run["path"]], None, Path(temp) / f"cost-{run['rows']}.json"))
        if len(runs) >= 2:
            pair = [run["path"] for run in runs[:2]]
            print(f"=== cost at {args.scale_to:,} rows, scaled from the two smallest runs ===")
            print(cost(pair, args.scale_to, Path(temp) / "cost-scaled.json"))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""The default run against its hand-written floor, stage by stage, at growing row counts.

For each row count N (N reference rows, N/4 current rows of the demo data, in a temp project
copy), one after the other on the same files:

- **floor**: `floor.py`, a plain pandas + pyarrow + LightGBM + Evidently script (no cirrus code);
- **cirrus**: `kedro run`, the whole default pipeline as a user runs it;
- **profile**: the same run in-process with a per-node timer (`profile_run.py`), which splits
  the run into stages (each stage's nodes plus their loads and saves).

Then start-up: `kedro --version`, and `kedro run --pipelines evaluation` on a 2,000-row project
against `kedro --version` plus that stage's node seconds; and a no-op `dvc repro` in a clone of
this repository (after one full `dvc repro`), against `dvc --version`.

It prints, per N, each stage's seconds beside the floor's, the whole run's wall time and peak
resident memory with their ratios, and time per row against the 1M-row run; it writes the
results as JSON and a scaling plot (seconds and peak memory against rows, PNG).

    python benchmarks/bench_full.py                      # 100k and 1M rows
    python benchmarks/bench_full.py --with-10m           # and 10M (about 25 min more)
    python benchmarks/bench_full.py --rows 20000 --no-dvc --plot /tmp/plot.png   # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_pipelines import (
    ENV,
    clear_outputs,
    copy_project,
    kedro_bin,
    measure,
    memory_method,
    write_raw_data,
)

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
STAGES = ("ingestion", "features", "training", "evaluation", "drift")
DEFAULT_PLOT = HERE / "results" / "scaling.png"
TEN_MILLION = 10_000_000


def floor_stages(floor: dict[str, Any]) -> dict[str, float]:
    """The floor's seconds summed per stage (its steps are named `stage: step`)."""
    stages = dict.fromkeys(STAGES, 0.0)
    for step, seconds in floor["seconds"].items():
        stages[step.split(":")[0]] += seconds
    return stages


def cirrus_stages(profile: dict[str, Any]) -> dict[str, float]:
    """The profiled run's seconds per stage: its nodes plus their loads and saves."""
    return {
        name: profile["stages"].get(name, {}).get("nodes", 0.0)
        + profile["stages"].get(name, {}).get("io", 0.0)
        for name in STAGES
    }


def _json_of(path: Path) -> dict[str, Any]:
    """A JSON file written by a benchmarked process."""
    return json.loads(path.read_text())


def _checked(measurement: Any, what: str) -> Any:
    """The measurement, or SystemExit with the failed run's log tail."""
    if measurement.returncode != 0:
        raise SystemExit(f"{what} failed (exit {measurement.returncode}):\n{measurement.error}")
    return measurement


def run_script(script: str, project: Path, out: Path, log: Path, method: str) -> Any:
    """Measure one benchmark script of this folder on a project copy (it writes JSON to `out`)."""
    command = [sys.executable, str(HERE / script), "--project", str(project), "--out", str(out)]
    return _checked(measure(command, HERE, log, method), script)


def bench_size(rows: int, root: Path, method: str, profile_only: bool = False) -> dict[str, Any]:
    """Floor, `kedro run` and the profiled run on one generated dataset of `rows` rows."""
    work = root / f"rows-{rows}"
    project = copy_project(work)
    logs = work / "logs"
    logs.mkdir()
    print(f"\n== {rows:,} reference + {rows // 4:,} current rows: generating", flush=True)
    generated = write_raw_data(project, rows)
    load_before = os.getloadavg()[0]
    floor_json = work / "floor.json"
    floor = run_script("floor.py", project, floor_json, logs / "floor.log", method)
    print(f"   floor {floor.seconds:.1f} s, {floor.peak_mb:.0f} MB", flush=True)
    if not profile_only:
        cirrus = _checked(
            measure([kedro_bin(), "run"], project, logs / "kedro-run.log", method), "kedro run"
        )
        print(f"   kedro run {cirrus.seconds:.1f} s, {cirrus.peak_mb:.0f} MB", flush=True)
        clear_outputs(project, work / "plain")
        shutil.rmtree(project / "data" / ".cirrus", ignore_errors=True)
    profile_json = work / "profile.json"
    profiled = run_script("profile_run.py", project, profile_json, logs / "profile.log", method)
    print(f"   profiled run {profiled.seconds:.1f} s, {profiled.peak_mb:.0f} MB", flush=True)
    if profile_only:  # the profiled run is the same session as `kedro run`, in one process
        cirrus = profiled
    shutil.rmtree(project / "data" / "01_raw")  # the rest is small; the raw CSVs are not
    return {
        "rows": rows,
        "current_rows": rows // 4,
        "generate_seconds": generated,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
        "floor": {"wall": floor.seconds, "peak_mb": floor.peak_mb, "inner": _json_of(floor_json)},
        "cirrus": {"wall": cirrus.seconds, "peak_mb": cirrus.peak_mb, "profiled": profile_only},
        "profile": {
            "wall": profiled.seconds,
            "peak_mb": profiled.peak_mb,
            **_json_of(profile_json),
        },
        "cirrus_checks": _cirrus_checks(project),
    }


def _cirrus_checks(project: Path) -> dict[str, Any]:
    """The numbers that show the run did comparable work: iterations, AUC, drifted columns."""
    data = project / "data"
    training = _json_of(data / "06_models" / "training_metrics.json")
    evaluation = _json_of(data / "08_reporting" / "evaluation_metrics.json")
    drift = _json_of(data / "08_reporting" / "drift_summary.json")
    return {
        "best_iteration": training["best_iteration"],
        "n_features": training["n_features"],
        "test_roc_auc": evaluation["model"]["roc_auc"],
        "drifted_columns": sorted(
            [*drift["drifted_features"], *(["prediction"] if drift.get("prediction_drift") else [])]
        ),
    }


def best_seconds(cmd: list[str], cwd: Path, repeat: int = 3) -> float:
    """The fastest of `repeat` runs of a command (it must succeed)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env={**os.environ, **ENV}, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def bench_startup(root: Path) -> dict[str, Any]:
    """`kedro --version` and one stage on tiny data against it plus the stage's node seconds."""
    project = copy_project(root / "startup")
    write_raw_data(project, 2_000)
    subprocess.run(
        [kedro_bin(), "run"],
        cwd=project,
        env={**os.environ, **ENV},
        check=True,
        capture_output=True,
    )
    version = best_seconds([kedro_bin(), "--version"], project)
    stage = best_seconds([kedro_bin(), "run", "--pipelines", "evaluation"], project)
    profile_json = root / "startup-profile.json"
    subprocess.run(
        [
            sys.executable,
            str(HERE / "profile_run.py"),
            "--project",
            str(project),
            "--pipeline",
            "evaluation",
            "--out",
            str(profile_json),
        ],
        cwd=HERE,
        env={**os.environ, **ENV},
        check=True,
        capture_output=True,
    )
    nodes = sum(record["wall"] for record in _json_of(profile_json)["records"])
    return {"kedro_version": version, "one_stage_run": stage, "stage_nodes": nodes}


def bench_dvc(root: Path) -> dict[str, Any]:
    """A no-op `dvc repro` of every stage in a clone of this repository, against `dvc --version`."""
    clone = root / "dvc-clone"
    subprocess.run(["git", "clone", "-q", str(PROJECT), str(clone)], check=True)
    env = {**os.environ, **ENV, "DVC_NO_ANALYTICS": "1"}
    dvc = str(Path(sys.executable).parent / "dvc")
    subprocess.run([dvc, "repro"], cwd=clone, env=env, check=True, capture_output=True)
    return {
        "dvc_version": best_seconds([dvc, "--version"], clone),
        "noop_repro": best_seconds([dvc, "repro"], clone),
    }


def ratio(numerator: float | None, denominator: float | None) -> str:
    """`a/b` as text, or a dash."""
    if not numerator or not denominator:
        return "-"
    return f"{numerator / denominator:.2f}x"


def table_row(label: str, cirrus: float, floor: float | None = None, note: str = "") -> str:
    """One line of a size's table: label, cirrus and floor values, their ratio and a note."""
    floor_text = f"{floor:9.2f}" if floor is not None else " " * 9
    return f"{label:<44} {cirrus:9.2f} {floor_text} {ratio(cirrus, floor):>7} {note}".rstrip()


def print_size(result: dict[str, Any], per_row_1m: float | None) -> None:
    """One row count's table: stages, whole run, peak memory, time per row."""
    floor, cirrus = floor_stages(result["floor"]["inner"]), cirrus_stages(result["profile"])
    rows = result["rows"]
    print(
        f"\n{rows:,} reference + {result['current_rows']:,} current rows "
        f"(load average {result['load_average_before']:.2f} before, "
        f"{result['load_average_after']:.2f} after)"
    )
    print(f"{'':<44} {'cirrus':>9} {'floor':>9} {'ratio':>7}")
    for stage in STAGES:
        print(table_row(f"stage {stage} s", cirrus[stage], floor[stage]))
    evidently = sum(
        seconds
        for step, seconds in result["floor"]["inner"]["seconds"].items()
        if step.startswith(("drift: Evidently", "drift: report"))
    )
    speedup = (
        f"(Evidently's preset alone {evidently:.2f} s: {ratio(evidently, cirrus['drift'])} faster)"
    )
    print(table_row("drift stage", cirrus["drift"], None, speedup))
    print(
        table_row("run outside nodes and I/O s", result["profile"]["total"] - sum(cirrus.values()))
    )
    whole_c, whole_f = result["cirrus"]["wall"], result["floor"]["wall"]
    how = (
        "(the profiled run: same session, one process)" if result["cirrus"].get("profiled") else ""
    )
    print(table_row("whole run, process wall s", whole_c, whole_f, how))
    print(
        table_row(
            "peak resident memory MB", result["cirrus"]["peak_mb"], result["floor"]["peak_mb"]
        )
    )
    per_row = whole_c / rows * 1e6
    versus_1m = (
        f"(cirrus: {ratio(per_row, per_row_1m)} of its time per row at 1M)" if per_row_1m else ""
    )
    print(table_row("microseconds per reference row", per_row, whole_f / rows * 1e6, versus_1m))
    checks, floor_checks = result["cirrus_checks"], result["floor"]["inner"]["checks"]
    print(
        f"checks: cirrus AUC {checks['test_roc_auc']:.4f} ({checks['n_features']} features, "
        f"best iteration {checks['best_iteration']}), drifted {checks['drifted_columns']}; "
        f"floor AUC {floor_checks['test_roc_auc']:.4f} (best iteration "
        f"{floor_checks['best_iteration']}), drifted {floor_checks['drifted_columns']}"
    )


def print_startup(startup: dict[str, Any] | None, dvc: dict[str, Any] | None) -> None:
    """The start-up lines."""
    if startup:
        goal = startup["kedro_version"] + startup["stage_nodes"]
        print(
            f"\nstart-up: kedro --version {startup['kedro_version']:.2f} s; `kedro run "
            f"--pipelines evaluation` on 2,000 rows {startup['one_stage_run']:.2f} s, "
            f"{ratio(startup['one_stage_run'], goal)} of --version plus its nodes' "
            f"{startup['stage_nodes']:.2f} s"
        )
    if dvc:
        print(
            f"no-op `dvc repro` of every stage {dvc['noop_repro']:.2f} s "
            f"(dvc --version {dvc['dvc_version']:.2f} s)"
        )


def write_plot(sizes: list[dict[str, Any]], path: Path) -> None:
    """Seconds and peak memory against rows, cirrus and floor, on log-log axes (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    rows = [size["rows"] for size in sizes]
    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    series = (("cirrus (kedro run)", "cirrus", "o-"), ("hand-written floor", "floor", "s--"))
    values = {
        key: {
            "seconds": [size[key]["wall"] for size in sizes],
            "memory": [size[key]["peak_mb"] / 1024 for size in sizes],
        }
        for _, key, _ in series
    }
    for label, key, style in series:
        other = values["floor" if key == "cirrus" else "cirrus"]
        for axis, quantity, unit in (
            (time_axis, "seconds", "{:.0f} s"),
            (memory_axis, "memory", "{:.1f} GB"),
        ):
            axis.plot(rows, values[key][quantity], style, label=label)
            for x, y, y_other in zip(rows, values[key][quantity], other[quantity], strict=True):
                # The higher of the two points is labelled above it, the lower below: close
                # values would otherwise print over each other.
                offset = (6, 4) if y >= y_other else (6, -12)
                axis.annotate(unit.format(y), (x, y), textcoords="offset points", xytext=offset)
    axes = ((time_axis, "Whole run", "seconds"), (memory_axis, "Peak resident memory", "GB"))
    for axis, title, unit in axes:
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.yaxis.set_minor_formatter(NullFormatter())
        axis.set_xlabel("reference rows (current = rows / 4)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.suptitle(f"Default pipeline on {os.cpu_count()} cores")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--with-10m", action="store_true", help="add 10,000,000 rows")
    parser.add_argument("--no-startup", action="store_true")
    parser.add_argument("--no-dvc", action="store_true")
    parser.add_argument("--workdir", type=Path, help="parent of the temp dir (default: $TMPDIR)")
    parser.add_argument("--out", type=Path, help="results JSON (default: in the temp dir)")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="scaling plot PNG")
    parser.add_argument(
        "--profile-only",
        action="store_true",
        help="time cirrus by the profiled run alone (one run per size instead of two)",
    )
    parser.add_argument(
        "--report", type=Path, nargs="+", help="print and plot earlier results JSON (merged)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run every size, start-up and DVC, print the tables, write the JSON and the plot."""
    args = parse_args(argv)
    if args.report:
        merged = [_json_of(path) for path in args.report]
        results = {**merged[0], "sizes": [size for part in merged for size in part["sizes"]]}
        results["sizes"].sort(key=lambda size: size["rows"])
        results["startup"] = next((p["startup"] for p in merged if p.get("startup")), None)
        results["dvc"] = next((p["dvc"] for p in merged if p.get("dvc")), None)
        report(results, args.plot)
        return
    sizes = sorted(set(args.rows + ([TEN_MILLION] if args.with_10m else [])))
    root = Path(tempfile.mkdtemp(prefix="cirrus-bench-full-", dir=args.workdir))
    method = memory_method()
    print(f"work dir {root}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    results: dict[str, Any] = {"cpus": os.cpu_count(), "memory_method": method, "sizes": []}
    out = args.out or root / "results.json"
    for rows in sizes:
        results["sizes"].append(bench_size(rows, root, method, args.profile_only))
        out.write_text(json.dumps(results, indent=2))
    results["startup"] = None if args.no_startup else bench_startup(root)
    results["dvc"] = None if args.no_dvc else bench_dvc(root)
    out.write_text(json.dumps(results, indent=2))
    report(results, args.plot)
    print(f"results {out}")


def report(results: dict[str, Any], plot: Path) -> None:
    """Print every table of a results JSON and write its plot."""
    per_row_1m = next(
        (
            size["cirrus"]["wall"] / size["rows"] * 1e6
            for size in results["sizes"]
            if size["rows"] == 1_000_000
        ),
        None,
    )
    for size in results["sizes"]:
        print_size(size, per_row_1m)
    print_startup(results["startup"], results["dvc"])
    write_plot(results["sizes"], plot)
    print(f"\nplot {plot}")


if __name__ == "__main__":
    main()

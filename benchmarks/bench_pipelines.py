"""Benchmark the Cirrus lifecycle under Kedro against two Kedro-free baselines.

For each row count: copy the project into a temp dir, generate the demo data, then time every
stage as a separate process, interleaved per stage: `kedro run --pipelines <stage>`, the
project's node functions called in-process (plain_baseline.py --variant cirrus) and a
hand-written pandas + LightGBM + Evidently version (--variant hand); then one full run of each
and the start-up cost. Wall time is measured around each subprocess; peak RSS comes from GNU
`/usr/bin/time -v` (the child's ru_maxrss), or, without it, from a Python wrapper reading
getrusage(RUSAGE_CHILDREN) after its only child exits.

    python benchmarks/bench_pipelines.py --rows 100000 1000000 [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from plain_baseline import catalog_paths

from cirrus.catalog import LIFECYCLE
from cirrus.demo_data.generator import generate_demo_batches
from cirrus.parameters import DemoDataParams
from cirrus.storage import DATA_LAYERS

PROJECT = Path(__file__).resolve().parents[1]
PLAIN = Path(__file__).resolve().parent / "plain_baseline.py"
STAGES = LIFECYCLE
VARIANTS = ("kedro", "plain", "hand")
PLAIN_VARIANTS = {"plain": "cirrus", "hand": "hand"}
ARTIFACTS = ("training_metrics", "evaluation_metrics", "drift_summary")
ENV = {"KEDRO_DISABLE_TELEMETRY": "true", "CIRRUS_PII_SALT": "bench-salt"}
GNU_TIME = Path("/usr/bin/time")
RUSAGE_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(sys.argv[1], "w") as out:
    out.write(f"Maximum resident set size (kbytes): {peak}\\nExit status: {code}\\n")
sys.exit(code)
"""


@dataclass
class Measurement:
    """One timed subprocess: wall seconds, peak RSS, CPU seconds and its outcome."""

    seconds: float
    peak_mb: float | None
    cpu_seconds: float | None
    returncode: int
    log: str
    error: str | None = None
    inner: dict[str, float] | None = None


def memory_method() -> str:
    """Which peak-memory method this machine supports: GNU time, else the rusage wrapper."""
    if GNU_TIME.exists():
        probe = subprocess.run(
            [str(GNU_TIME), "-v", "true"], capture_output=True, text=True, check=False
        )
        if "Maximum resident set size" in probe.stderr:
            return "gnu-time"
    return "rusage-wrapper"


def _wrapped(cmd: list[str], usage: Path, method: str) -> list[str]:
    """The command run under the peak-memory method, its report written to `usage`."""
    if method == "gnu-time":
        return [str(GNU_TIME), "-v", "-o", str(usage), *cmd]
    return [sys.executable, "-c", RUSAGE_WRAPPER, str(usage), *cmd]


def _usage_value(text: str, label: str) -> float | None:
    """A numeric field of a `time -v` style report."""
    found = re.search(rf"{re.escape(label)}[^:]*:\s*([\d.]+)", text)
    return float(found.group(1)) if found else None


def _error_tail(log_text: str, lines: int = 25) -> str:
    """The last lines of a failed run's output, where the exception is."""
    return "\n".join(log_text.rstrip().splitlines()[-lines:])


def _inner_timings(log_text: str) -> dict[str, float] | None:
    """In-process stage seconds printed by plain_baseline.py, if any."""
    for line in reversed(log_text.splitlines()):
        if line.startswith("BENCH_TIMINGS "):
            return json.loads(line.removeprefix("BENCH_TIMINGS "))
    return None


def measure(cmd: list[str], cwd: Path, log: Path, method: str) -> Measurement:
    """Run a command once; time it and read its peak RSS and CPU time."""
    usage = log.with_suffix(".usage")
    env = {**os.environ, **ENV}
    with log.open("w") as out:
        start = time.perf_counter()
        code = subprocess.call(
            _wrapped(cmd, usage, method), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        seconds = time.perf_counter() - start
    report = usage.read_text() if usage.exists() else ""
    peak_kb = _usage_value(report, "Maximum resident set size")
    user, system = _usage_value(report, "User time"), _usage_value(report, "System time")
    text = log.read_text(errors="replace")
    return Measurement(
        seconds=round(seconds, 3),
        peak_mb=round(peak_kb / 1024, 1) if peak_kb else None,
        cpu_seconds=round(user + system, 2) if user is not None and system is not None else None,
        returncode=code,
        log=str(log),
        error=_error_tail(text) if code else None,
        inner=_inner_timings(text),
    )


def demo_params(rows: int) -> dict[str, Any]:
    """The demo-data parameters of conf/base with reference = rows and current = rows / 4."""
    conf = PROJECT / "conf" / "base" / "parameters_demo_data.yml"
    params = yaml.safe_load(conf.read_text())["demo_data"]
    params["reference"]["n_rows"] = rows
    params["current"]["n_rows"] = max(1, rows // 4)
    return params


def copy_project(target: Path) -> Path:
    """Copy conf/base and pyproject.toml, with an empty conf/local, src/ and data layers."""
    project = target / "project"
    shutil.copytree(PROJECT / "conf" / "base", project / "conf" / "base")
    (project / "conf" / "local").mkdir(parents=True)
    (project / "src").mkdir()  # the package itself is installed (editable) in the venv
    shutil.copy2(PROJECT / "pyproject.toml", project / "pyproject.toml")
    for layer in DATA_LAYERS:
        (project / "data" / layer).mkdir(parents=True)
    return project


def write_raw_data(project: Path, rows: int) -> float:
    """Generate the demo batches and write them where catalog.yml expects them; return secs."""
    start = time.perf_counter()
    reference, current = generate_demo_batches(DemoDataParams.parse(demo_params(rows)))
    paths = catalog_paths(project, ("raw_reference", "raw_current"))
    for name, frame in (("raw_reference", reference), ("raw_current", current)):
        frame.to_csv(paths[name], index=False)
    return time.perf_counter() - start


def clear_outputs(project: Path, plain_root: Path) -> None:
    """Empty every non-raw data layer and the baselines' artifact folders."""
    for layer in DATA_LAYERS[1:]:
        shutil.rmtree(project / "data" / layer)
        (project / "data" / layer).mkdir()
    shutil.rmtree(plain_root, ignore_errors=True)


def kedro_bin() -> str:
    """The `kedro` executable next to this interpreter (the project's venv)."""
    local = Path(sys.executable).parent / "kedro"
    return str(local) if local.exists() else "kedro"


def command(variant: str, stage: str, project: Path, plain_root: Path) -> list[str]:
    """The command of one variant and stage (`all` = full run, `startup` = start-up only)."""
    if variant == "kedro":
        if stage == "startup":
            return [kedro_bin(), "registry", "list"]
        return [kedro_bin(), "run"] + ([] if stage == "all" else ["--pipelines", stage])
    name = PLAIN_VARIANTS[variant]
    options = {
        "--variant": name,
        "--stage": stage,
        "--project": project,
        "--out": plain_root / name,
    }
    return [sys.executable, str(PLAIN), *(str(item) for pair in options.items() for item in pair)]


class Bench:
    """The measurements of one row count, run inside its own project copy."""

    def __init__(self, root: Path, method: str) -> None:
        """Create the folders of this row count."""
        self.root, self.method = root, method
        self.project = copy_project(root)
        self.plain_root = root / "plain"
        self.logs = root / "logs"
        self.logs.mkdir()
        self.failed: set[str] = set()
        self.pass_number = 0

    def run(self, variant: str, stage: str) -> dict[str, Any]:
        """Measure one variant on one stage, unless an earlier stage of it failed."""
        if variant in self.failed:
            return {"skipped": "an earlier stage of this variant failed"}
        cmd = command(variant, stage, self.project, self.plain_root)
        log = self.logs / f"p{self.pass_number}-{stage}-{variant}.log"
        load = os.getloadavg()[0]
        result = asdict(measure(cmd, self.project, log, self.method))
        result["load_average_1min_before"] = round(load, 2)
        if result["returncode"]:
            self.failed.add(variant)
            print(
                f"  !! {variant} {stage} failed (exit {result['returncode']}):\n{result['error']}"
            )
        else:
            print(f"  {stage:<10} {variant:<6} {result['seconds']:8.2f} s  {result['peak_mb']} MB")
        return result

    def _fresh(self) -> None:
        """Start from empty output layers, forgetting earlier failures."""
        clear_outputs(self.project, self.plain_root)
        self.failed.clear()

    def lifecycle_pass(self) -> dict[str, dict[str, Any]]:
        """Start-up, each stage (variants interleaved, so load drift hits all alike), full run."""
        self.pass_number += 1
        print(f"  -- pass {self.pass_number}")
        self._fresh()
        rows = {"startup": {v: self.run(v, "startup") for v in VARIANTS}}
        rows.update({stage: {v: self.run(v, stage) for v in VARIANTS} for stage in STAGES})
        self._fresh()
        rows["full run"] = {v: self.run(v, "all") for v in VARIANTS}
        return rows

    def measure_all(self, repeat: int) -> dict[str, dict[str, Any]]:
        """A warm-up, `repeat` passes kept best-of, and the bare `kedro --version`."""
        warmup = [kedro_bin(), "registry", "list"]
        measure(warmup, self.project, self.logs / "warmup.log", self.method)
        rows = best_of([self.lifecycle_pass() for _ in range(repeat)])
        version = measure(
            [kedro_bin(), "--version"], self.project, self.logs / "version.log", self.method
        )
        rows["kedro --version"] = {"kedro": asdict(version)}
        return rows


def best_of(passes: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per row and variant: the fastest successful pass, with every pass's seconds and peak."""
    combined: dict[str, dict[str, Any]] = {}
    for row, variants in passes[0].items():
        combined[row] = {}
        for variant in variants:
            runs = [p[row][variant] for p in passes]
            ok = [r for r in runs if r.get("returncode") == 0]
            best = min(ok, key=lambda r: r["seconds"]) if ok else runs[0]
            combined[row][variant] = {
                **best,
                "peak_mb": max((r["peak_mb"] for r in ok if r["peak_mb"]), default=None),
                "passes_seconds": [r.get("seconds") for r in runs],
                "passes_returncode": [r.get("returncode") for r in runs],
            }
    return combined


def _read_json(path: Path) -> dict[str, Any] | None:
    """A JSON artifact, or None when the run did not produce it."""
    return json.loads(path.read_text()) if path.exists() else None


def _check(paths: dict[str, Path]) -> dict[str, Any]:
    """Best iteration, feature count, test ROC AUC and drifted share from a run's JSONs."""
    found = {name: _read_json(path) or {} for name, path in paths.items()}
    training, drift = found["training_metrics"], found["drift_summary"]
    evaluation = found["evaluation_metrics"]
    return {
        "best_iteration": training.get("best_iteration"),
        "n_features": training.get("n_features"),
        "test_roc_auc": evaluation.get("model", evaluation).get("roc_auc"),
        "drifted_share": drift.get("drifted_feature_share", drift.get("share")),
    }


def checks(bench: Bench) -> dict[str, Any]:
    """Model and drift results of the full runs, to show the variants did the same work."""
    kedro = catalog_paths(bench.project, ARTIFACTS)
    return {
        "kedro": _check(kedro),
        **{
            variant: _check({n: bench.plain_root / name / f"{n}.json" for n in ARTIFACTS})
            for variant, name in PLAIN_VARIANTS.items()
        },
    }


def bench_size(rows: int, workdir: Path, method: str, args: argparse.Namespace) -> dict[str, Any]:
    """All measurements for one reference row count."""
    bench = Bench(workdir / f"rows-{rows}", method)
    print(f"\n== {rows} reference rows ({rows // 4} current) in {bench.root}")
    generate_seconds = write_raw_data(bench.project, rows)
    print(f"  generated and wrote the raw CSVs in {generate_seconds:.1f} s")
    table = bench.measure_all(args.repeat)
    result = {
        "rows": rows,
        "current_rows": rows // 4,
        "passes": args.repeat,
        "generate_seconds": round(generate_seconds, 2),
        "load_average_after": os.getloadavg(),
        "stages": table,
        "checks": checks(bench),
        "workdir": str(bench.root),
    }
    if not args.keep_data:
        shutil.rmtree(bench.project / "data")
        shutil.rmtree(bench.plain_root, ignore_errors=True)
    return result


def _cell(row: dict[str, Any], variant: str, key: str) -> float | None:
    """A measurement of a table row, None when missing, skipped or failed."""
    entry = row.get(variant) or {}
    return None if entry.get("returncode", 1) else entry.get(key)


def _fmt(value: float | None, spec: str) -> str:
    """Format a number, or a dash when absent."""
    return "-" if value is None else format(value, spec)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, None when either is missing."""
    return numerator / denominator if numerator and denominator else None


def summed(stages: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Sum of the five stage rows per variant (peak = the largest stage peak)."""
    total: dict[str, dict[str, Any]] = {}
    for variant in VARIANTS:
        seconds = [_cell(stages[s], variant, "seconds") for s in STAGES]
        peaks = [_cell(stages[s], variant, "peak_mb") for s in STAGES]
        if all(v is not None for v in seconds):
            total[variant] = {"returncode": 0, "seconds": sum(seconds), "peak_mb": max(peaks)}
    return total


HEADER = (
    f"{'stage':<16}{'kedro s':>9}{'plain s':>9}{'hand s':>9}{'k/plain':>9}{'k/hand':>8}"
    f"{'peak MB k / plain / hand':>27}"
)


def table_line(name: str, row: dict[str, Any]) -> str:
    """One printed row: seconds, ratios and peak memory of the three variants."""
    k, p, h = (_cell(row, v, "seconds") for v in VARIANTS)
    peaks = " / ".join(_fmt(_cell(row, v, "peak_mb"), ".0f") for v in VARIANTS)
    return (
        f"{name:<16}{_fmt(k, '.2f'):>9}{_fmt(p, '.2f'):>9}{_fmt(h, '.2f'):>9}"
        f"{_fmt(_ratio(k, p), '.2f'):>9}{_fmt(_ratio(k, h), '.2f'):>8}{peaks:>27}"
    )


def print_table(result: dict[str, Any]) -> None:
    """The results table of one row count."""
    stages = result["stages"]
    rows = {**{n: stages[n] for n in ("startup", *STAGES)}, "sum of stages": summed(stages)}
    rows["full run"] = stages["full run"]
    print(
        f"\nN = {result['rows']} reference rows + {result['current_rows']} current rows "
        f"(best of {result['passes']} pass(es); peak RSS per process)"
    )
    print(HEADER)
    print("-" * len(HEADER))
    for name, row in rows.items():
        print(table_line(name, row))
    version = stages["kedro --version"]["kedro"]
    print(f"kedro --version (CLI only): {version['seconds']:.2f} s, {version['peak_mb']} MB")
    print("checks (full runs): " + json.dumps(result["checks"]))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--out", type=Path, help="results JSON (default: in the temp dir)")
    parser.add_argument("--workdir", type=Path, help="parent of the temp dir (default: $TMPDIR)")
    parser.add_argument("--repeat", type=int, default=1, help="passes per size, best kept")
    parser.add_argument("--keep-data", action="store_true", help="keep generated data and outputs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Benchmark every requested row count, print the tables and write the JSON."""
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="cirrus-bench-", dir=args.workdir))
    method = memory_method()
    out = args.out or workdir / "results.json"
    results: dict[str, Any] = {
        "memory_method": method,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_before": os.getloadavg(),
        "sizes": [],
    }
    print(f"work dir {workdir}; peak memory via {method}")
    for rows in args.rows:
        results["sizes"].append(bench_size(rows, workdir, method, args))
        out.write_text(json.dumps(results, indent=2))
    for result in results["sizes"]:
        print_table(result)
    print(f"\nresults written to {out}")


if __name__ == "__main__":
    main()

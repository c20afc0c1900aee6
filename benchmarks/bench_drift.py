"""Benchmark the drift stage: Evidently's preset against the verdicts on all rows.

It generates the demo data (N reference rows, N/4 current rows, the covariate shift of
conf/base/parameters_demo_data.yml), turns it into the drift node's inputs with the project's own
functions, then times each variant in a fresh process on the same inputs:

- preset: Evidently's `DataDriftPreset` run (`Report.run`) on the drift frames, configured as
  the drift node configures it; what the drift stage used to cost;
- verdicts: the per-column verdicts of `column_verdicts` on the same rows (all threads, then one);
- node: the whole `run_drift_report`, from the feature tables to the HTML of a sampled report
  and the summary.

Each process loads the pickled inputs, warms up on 2,000 rows, prepares its frames, then times
its variant. Peak memory is the process's peak resident size during the timed runs (the kernel's
count is restarted just before them; where it cannot be, the lifetime peak from getrusage), and
"added" is that peak minus the resident size at their start. It prints the load average before
and after, the ratios against the preset and whether the verdicts are identical.

    python benchmarks/bench_drift.py                 # 1,000,000 / 250,000 rows
    python benchmarks/bench_drift.py --rows 100000   # quick check
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import yaml

PROJECT = Path(__file__).resolve().parents[1]
CONF = PROJECT / "conf" / "base"
FIT_ROWS = 20_000  # rows the feature spec and the model are fitted on: setup, not measured
WARM_UP_ROWS = 2_000
VARIANTS = ("preset", "verdicts", "verdicts-1-thread", "node")
SALT = "bench-salt"


def parameters(name: str) -> dict[str, Any]:
    """A committed block file, conf/base/parameters_<name>.yml."""
    return yaml.safe_load((CONF / f"parameters_{name}.yml").read_text())


def demo_params(rows: int) -> dict[str, Any]:
    """The committed demo-data parameters with reference = rows and current = rows / 4."""
    params = parameters("demo_data")["demo_data"]
    params["reference"]["n_rows"] = rows
    params["current"]["n_rows"] = max(1, rows // 4)
    return params


def drift_inputs(rows: int) -> dict[str, Any]:
    """The drift node's inputs from generated data: features, predictions, spec, unseen levels.

    The spec and the model are fitted on the first FIT_ROWS reference rows; every reference row
    is a drift reference row (the pipeline uses its held-out share).
    """
    from cirrus.contract import DatasetContract
    from cirrus.demo_data.generator import generate_demo_batches
    from cirrus.feature_spec import build_features, report_unseen_categories
    from cirrus.modeling import predict_rows
    from cirrus.parameters import DemoDataParams, EvaluationParams, FeatureParams, TrainingParams
    from cirrus.pipelines.features.nodes import fit_feature_spec
    from cirrus.pipelines.ingestion.nodes import validate_raw_current, validate_raw_reference
    from cirrus.pipelines.training.nodes import train_model

    contract = DatasetContract.parse(parameters("contract")["contract"])
    raw_reference, raw_current = generate_demo_batches(DemoDataParams.parse(demo_params(rows)))
    reference = validate_raw_reference(raw_reference, contract, SALT)
    current = validate_raw_current(raw_current, contract, SALT)
    fit_rows = reference.iloc[:FIT_ROWS]
    spec = fit_feature_spec(
        fit_rows, contract, FeatureParams.parse(parameters("features")["features"])
    )
    training = parameters("training")["training"]
    training.update(num_boost_round=60, early_stopping_rounds=10)
    model, metrics, _ = train_model(
        build_features(fit_rows, spec),
        spec,
        TrainingParams.parse(training),
        {"enabled": False, "best_params": {}},
    )
    evaluation = EvaluationParams.parse(parameters("evaluation")["evaluation"])
    reference_features, current_features = (
        build_features(reference, spec),
        build_features(current, spec),
    )
    return {
        "reference_features": reference_features,
        "reference_predictions": predict_rows(model, reference_features, spec, evaluation, metrics),
        "current_features": current_features,
        "current_predictions": predict_rows(model, current_features, spec, evaluation, metrics),
        "spec": spec,
        "unseen_categories": report_unseen_categories(current, spec),
    }


def head(inputs: dict[str, Any], rows: int) -> dict[str, Any]:
    """The inputs cut to their first rows (the warm-up)."""
    return {
        name: value.iloc[:rows] if hasattr(value, "iloc") else value
        for name, value in inputs.items()
    }


def settings() -> Any:
    """The committed drift block, parsed."""
    from cirrus.parameters import DriftParams

    return DriftParams.parse(parameters("drift")["drift"])


def preset_run(inputs: dict[str, Any]) -> Any:
    """A function running Evidently's preset on the drift frames, configured as the node did."""
    from evidently import Dataset, Report

    from cirrus.drift.report import (
        _data_definition,
        _preset,
        column_methods,
        column_results,
        drift_frame,
    )

    spec, drift = inputs["spec"], settings()
    labelled = bool(inputs["current_features"][spec.target].notna().any())
    reference = drift_frame(
        inputs["reference_features"], inputs["reference_predictions"], spec, labelled
    )
    current = drift_frame(inputs["current_features"], inputs["current_predictions"], spec, labelled)
    definition = _data_definition(reference, spec)
    preset = _preset(drift, column_methods(spec, drift, len(reference)))

    def run() -> dict[str, Any]:
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            snapshot = Report([preset]).run(
                Dataset.from_pandas(current, data_definition=definition),
                Dataset.from_pandas(reference, data_definition=definition),
            )
        return column_results(snapshot.dict())

    return run


def verdicts_run(inputs: dict[str, Any], workers: int | None) -> Any:
    """A function computing the verdicts on all rows of the drift tables."""
    from cirrus.drift.report import column_verdicts, drift_table

    spec, drift = inputs["spec"], settings()
    labelled = bool(inputs["current_features"][spec.target].notna().any())
    reference = drift_table(
        inputs["reference_features"], inputs["reference_predictions"], spec, labelled
    )
    current = drift_table(inputs["current_features"], inputs["current_predictions"], spec, labelled)
    return lambda: column_verdicts(reference, current, spec, drift, workers=workers)


def node_run(inputs: dict[str, Any]) -> Any:
    """A function running the whole drift report node."""
    from cirrus.drift.report import run_drift_report

    drift = settings()
    return lambda: run_drift_report(settings=drift, **inputs)[1].columns


def prepared(variant: str, inputs: dict[str, Any]) -> Any:
    """The timed function of a variant, its inputs prepared."""
    if variant == "preset":
        return preset_run(inputs)
    if variant.startswith("verdicts"):
        return verdicts_run(inputs, 1 if variant.endswith("1-thread") else None)
    return node_run(inputs)


def status_mb(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS: now, VmHWM: peak), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def reset_peak() -> bool:
    """Restart the peak-memory count at the current size (Linux); whether that worked."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def child(variant: str, inputs_path: Path, repeat: int) -> None:
    """Time one variant in this process and print its result as JSON."""
    import evidently  # noqa: F401  (imported before timing, as a running pipeline has)

    with inputs_path.open("rb") as handle:
        inputs = pickle.load(handle)
    prepared(variant, head(inputs, WARM_UP_ROWS))()
    function = prepared(variant, inputs)
    gc.collect()
    # The peak of the timed runs alone, not of loading the inputs, when the kernel allows it.
    peak_reset, before = reset_peak(), status_mb("VmRSS")
    times, verdicts = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        verdicts = function()
        times.append(time.perf_counter() - start)
    peak = (
        status_mb("VmHWM")
        if peak_reset
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    result = {"seconds": min(times), "peak_mb": peak, "start_mb": before, "verdicts": verdicts}
    print(json.dumps(result))


def run_child(variant: str, inputs_path: Path, repeat: int) -> dict[str, Any]:
    """Run one variant in a fresh process; its timing, memory and verdicts."""
    command = [sys.executable, __file__, "--child", variant, "--inputs", str(inputs_path)]
    output = subprocess.run(
        [*command, "--repeat", str(repeat)], capture_output=True, text=True, check=True
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def compare(reference: dict[str, Any], other: dict[str, Any]) -> tuple[bool, float]:
    """Whether two sets of verdicts agree (columns, methods, thresholds, flags), and the largest
    relative difference of their scores."""
    same = list(reference) == list(other) and all(
        (reference[c]["method"], reference[c]["threshold"], reference[c]["drifted"])
        == (other[c]["method"], other[c]["threshold"], other[c]["drifted"])
        for c in reference
    )
    worst = max(
        (
            abs(other[c]["score"] - v["score"]) / max(abs(v["score"]), 1e-300)
            for c, v in reference.items()
        ),
        default=0.0,
    )
    return same, worst


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def report(rows: int, results: dict[str, dict[str, Any]], drift_rows: tuple[int, int]) -> None:
    """Print the timings, ratios, memory and the verdict comparison."""
    preset = results["preset"]
    print(f"\ndrift frames: {drift_rows[0]:,} reference rows, {drift_rows[1]:,} current rows")
    print(f"{'variant':<20}{'seconds':>9}{'preset/x':>10}{'peak MB':>9}{'added MB':>10}")
    for variant, result in results.items():
        ratio = preset["seconds"] / result["seconds"]
        above = result["peak_mb"] - result["start_mb"]
        print(
            f"{variant:<20}{result['seconds']:>9.2f}{ratio:>10.1f}{result['peak_mb']:>9.0f}"
            f"{above:>10.0f}"
        )
    print()
    for variant in VARIANTS[1:]:
        same, worst = compare(preset["verdicts"], results[variant]["verdicts"])
        print(
            f"{variant} verdicts identical to the preset's: {'yes' if same else 'NO'} "
            f"(largest relative score difference {worst:.1e})"
        )
    goals = {
        "node at least 4x faster than the preset": preset["seconds"] / results["node"]["seconds"]
        >= 4,
        "verdicts at least 10x faster than the preset": preset["seconds"]
        / results["verdicts"]["seconds"]
        >= 10,
    }
    for goal, met in goals.items():
        print(f"goal {goal}: {'met' if met else 'NOT met'}")


def main() -> None:
    """Parse the options; run the benchmark, or one variant as a child process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="reference rows (current: rows / 4)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="timed runs per variant; the best counts"
    )
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--inputs", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.inputs, args.repeat)
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    python = platform.python_version()
    print(f"load average at start: {load_average()} ({cores} cores, Python {python})")
    start = time.perf_counter()
    inputs = drift_inputs(args.rows)
    drift_rows = (len(inputs["reference_features"]), len(inputs["current_features"]))
    print(
        f"inputs built in {time.perf_counter() - start:.0f} s; report_rows {settings().report_rows}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as folder:
        path = Path(folder) / "inputs.pkl"
        path.write_bytes(pickle.dumps(inputs, protocol=pickle.HIGHEST_PROTOCOL))
        del inputs
        results = {variant: run_child(variant, path, args.repeat) for variant in VARIANTS}
    report(args.rows, results, drift_rows)
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()

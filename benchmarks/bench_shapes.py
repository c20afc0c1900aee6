"""Model quality on generated tables of real shapes: `init-contract`, then `kedro run`, against a
plain LightGBM fit on the same rows.

For each shape of tests/shapes.py and each seed, in a temporary project copy with an empty
`conf/local`: write the table, run `kedro cirrus init-contract FILE --target COL --force` and
`kedro run` with no other edit, then read the held-out metrics, the gate and the drift verdict.
The plain fit is what a user would write by hand: LightGBM's scikit-learn estimator with its
defaults (and a fixed seed), on the contract's numeric and categorical input columns of the same
training rows (`train_rows`), plus hour, day of week and month of each datetime column, scored on
the same held-out rows (`test_rows`).

    python benchmarks/bench_shapes.py                       # every shape, seeds 1 2 3
    python benchmarks/bench_shapes.py --shape three_classes_150_rows --seeds 1 2 3 4 5 6
    python benchmarks/bench_shapes.py --shape no_time_column --rows 1000000 --seeds 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import yaml
from bench_pipelines import copy_project, kedro_bin
from plain_baseline import catalog_paths
from sklearn import metrics as skm

from cirrus.metrics import PRIMARY_METRIC

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests import shapes  # noqa: E402  (the generated tables the end-to-end tests use)

# name: (builder, file name, target)
SHAPES: dict[str, tuple[Callable[..., pd.DataFrame], str, str]] = {
    "no_time_column": (shapes.churn_without_time, "churn.csv", "churned"),
    "three_classes_150_rows": (shapes.three_classes, "wine.csv", "cultivar"),
    "wide_sparse_6pct": (shapes.wide_sparse, "wide.parquet", "flag"),
    "yes_no_labels": (shapes.yes_no_labels, "bank.csv", "subscribed"),
    "hourly_regression": (shapes.hourly_regression, "demand.csv", "demand"),
}
LOWER_IS_BETTER = {"rmse", "mae"}


def _kedro(project: Path, *args: str) -> subprocess.CompletedProcess:
    """The real Kedro CLI in the project copy; a failure stops the benchmark with its output."""
    result = subprocess.run(
        [kedro_bin(), *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"},
    )
    return result


def _report(project: Path, name: str) -> dict[str, Any]:
    """A JSON report of data/08_reporting."""
    return json.loads((project / "data" / "08_reporting" / name).read_text())


def _score(task: str, metric: str, y: np.ndarray, predicted: np.ndarray) -> float:
    """The task's primary metric with scikit-learn (the definitions Cirrus reports)."""
    if metric == "roc_auc":
        return float(skm.roc_auc_score(y, predicted))
    if metric == "accuracy":
        return float(skm.accuracy_score(y, predicted))
    if metric == "rmse":
        return math.sqrt(skm.mean_squared_error(y, predicted))
    raise ValueError(f"no plain score for {task} metric {metric}")


def plain_lightgbm(project: Path, metric: str) -> float:
    """LightGBM's estimator with its defaults on the contract's inputs of the same rows."""
    contract = yaml.safe_load((project / "conf/base/parameters_contract.yml").read_text())[
        "contract"
    ]
    paths = catalog_paths(project, ("train_rows", "test_rows"))
    train, test = pd.read_parquet(paths["train_rows"]), pd.read_parquet(paths["test_rows"])
    columns = [*contract["features"]["numeric"], *contract["features"]["categorical"]]

    times = [*contract["features"].get("datetime", []), contract.get("event_time_column")]

    def inputs(frame: pd.DataFrame) -> pd.DataFrame:
        matrix = frame[columns].copy()
        for name in [t for t in times if t and t in frame]:  # the parts a user would derive
            moments = pd.to_datetime(frame[name])
            for part in ("hour", "dayofweek", "month"):
                matrix[f"{name}_{part}"] = getattr(moments.dt, part)
        for name in contract["features"]["categorical"]:
            levels = sorted(train[name].dropna().astype(str).unique())
            matrix[name] = pd.Categorical(matrix[name].astype(str), categories=levels)
        return matrix

    task, target = contract["task"], contract["target"]
    if task == "regression":
        model = lgb.LGBMRegressor(random_state=0, verbosity=-1)
        model.fit(inputs(train), train[target])
        return _score(task, metric, test[target].to_numpy(), model.predict(inputs(test)))
    model = lgb.LGBMClassifier(random_state=0, verbosity=-1)
    y_train, y_test = train[target].astype(str), test[target].astype(str)
    model.fit(inputs(train), y_train)
    if task == "binary":
        positive = str(contract["positive_class"])
        column = list(model.classes_).index(positive)
        scores = model.predict_proba(inputs(test))[:, column]
        return _score(task, metric, (y_test == positive).to_numpy(), scores)
    return _score(task, metric, y_test.to_numpy(), model.predict(inputs(test)))


def run_shape(name: str, seed: int, rows: int | None, root: Path) -> dict[str, Any]:
    """init-contract and kedro run on one generated table; the metrics beside the plain fit."""
    build, file_name, target = SHAPES[name]
    project = copy_project(root / f"{name}-{seed}")
    frame = build(seed=seed) if rows is None else build(n_rows=rows, seed=seed)
    path = project / "data" / "01_raw" / file_name
    frame.to_parquet(path, index=False) if path.suffix == ".parquet" else frame.to_csv(
        path, index=False
    )
    init = _kedro(
        project,
        "cirrus",
        "init-contract",
        f"data/01_raw/{file_name}",
        "--target",
        target,
        "--force",
    )
    if init.returncode:
        return {"shape": name, "seed": seed, "error": init.stderr[-600:]}
    start = time.perf_counter()
    run = _kedro(project, "run")
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {
        "shape": name,
        "seed": seed,
        "rows": len(frame),
        "columns": frame.shape[1],
        "run_seconds": round(seconds, 1),
    }
    reports = project / "data" / "08_reporting"
    if run.returncode:  # a failed run keeps its reports under rejected/
        reports = reports / "rejected"
    if not (reports / "evaluation_metrics.json").exists():
        return result | {"error": "kedro run failed: " + run.stderr[-600:]}
    metrics = json.loads((reports / "evaluation_metrics.json").read_text())
    task = metrics["task"]
    primary = PRIMARY_METRIC[task]
    result |= {
        "task": task,
        "metric": primary,
        "n_test_rows": metrics["n_test_rows"],
        "baseline": metrics["baseline"][primary],
        "cirrus": metrics["model"][primary],
        "plain": plain_lightgbm(project, primary),
    }
    if run.returncode:
        reason = next((line for line in run.stderr.splitlines() if "failed" in line), "")
        return result | {"passed": False, "reason": reason[-300:]}
    training = json.loads((project / "data/06_models/training_metrics.json").read_text())
    drift = _report(project, "drift_summary.json")
    gate = _report(project, "quality_gate.json")
    return result | {
        "passed": gate["passed"],
        "inconclusive": gate.get("inconclusive", []),
        "best_iteration": training["best_iteration"],
        "resolved": training["resolved_params"],
        "dataset_drift": drift["dataset_drift"],
        "drifted": len(drift["drifted_features"]),
        "drifted_columns": sorted(c for c, v in drift["columns"].items() if v["drifted"]),
        "drift_columns": len(drift["columns"]),
        "retrain_recommended": drift["retrain_recommended"],
    }


def _print(results: list[dict[str, Any]]) -> None:
    """One line per run, then per shape the mean gap to the plain fit."""
    print(
        f"{'shape':24} {'seed':>4} {'rows':>8} {'test':>6} {'metric':>8} {'cirrus':>8} "
        f"{'plain':>8} {'baseline':>8} gate   drift"
    )
    for r in results:
        if "error" in r:
            print(f"{r['shape']:24} {r['seed']:>4} init-contract failed: {r['error']}")
            continue
        cirrus = "-" if r["cirrus"] is None else f"{r['cirrus']:.4f}"
        drift = f"{r.get('drifted', '-')}/{r.get('drift_columns', '-')} flagged" + (
            " DATASET" if r.get("dataset_drift") else ""
        )
        print(
            f"{r['shape']:24} {r['seed']:>4} {r['rows']:>8} {r['n_test_rows']:>6} "
            f"{r['metric']:>8} {cirrus:>8} {r['plain']:>8.4f} {r['baseline']:>8.4f} "
            f"{'pass' if r['passed'] else 'FAIL':6} {drift}"
            + ("" if r["passed"] else f"  ({r.get('reason', '')})")
        )
    print()
    for name in dict.fromkeys(r["shape"] for r in results):
        runs = [r for r in results if r["shape"] == name and r.get("cirrus") is not None]
        if not runs:
            continue
        sign = -1 if runs[0]["metric"] in LOWER_IS_BETTER else 1
        gaps = [sign * (r["cirrus"] - r["plain"]) for r in runs]
        passed = sum(r["passed"] for r in runs)
        print(
            f"{name:24} mean {runs[0]['metric']} gap to plain {statistics.mean(gaps):+.4f} "
            f"(positive: Cirrus better), gate passed {passed}/{len(runs)}"
        )


def main() -> None:
    """Run the chosen shapes and seeds; print the table and optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", action="append", choices=sorted(SHAPES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, help="rows of each table (default: the shape's)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="cirrus-shapes-") as tmp:
        for name in args.shape or list(SHAPES):
            for seed in args.seeds:
                results.append(run_shape(name, seed, args.rows, Path(tmp)))
                print(json.dumps(results[-1]), flush=True)
    _print(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""The hand-written floor of the default run: the least a plain script does to fit a model of
the same quality and report drift, with no cirrus code and no Kedro.

pyarrow CSV read of both raw files; the contract's input features (numeric as float,
categorical as pandas categoricals); a stratified hold-out; LightGBM with the project's
parameters and early stopping on a stratified share of the training rows (only those rows
evaluated each round); predictions on the test rows and the current batch; ROC AUC on the test
rows; Evidently's default DataDriftPreset on test vs current (input features and the score),
run and rendered as HTML.
Parameters come from the project's conf/base YAML; `auto` settings take the values the project
resolves at these sizes.

    python benchmarks/floor.py --project DIR [--out floor.json]

Prints one JSON line: seconds per step (named `stage: step`, the stages of the project), the
whole run, peak resident memory and checks.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import pandas as pd
import pyarrow.csv as pacsv
import yaml
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

AUTO = {"validation_fraction": 0.2, "min_data_in_leaf": 50}


def read_yaml(project: Path, name: str) -> dict[str, Any]:
    """One conf/base YAML file of the project."""
    return yaml.safe_load((project / "conf" / "base" / name).read_text())


def raw_paths(project: Path) -> tuple[Path, Path]:
    """The reference and current CSVs the catalog names (data root = the project's data/)."""
    catalog = read_yaml(project, "catalog.yml")
    paths = [
        catalog[name]["filepath"].replace("${globals:data_root}", str(project / "data"))
        for name in ("raw_reference", "raw_current")
    ]
    return Path(paths[0]), Path(paths[1])


def model_inputs(
    frame: pd.DataFrame, numeric: list[str], categories: dict[str, pd.Index]
) -> pd.DataFrame:
    """Numeric columns as float and categoricals with the given levels."""
    out = {column: frame[column].astype("float64") for column in numeric}
    for column, levels in categories.items():
        out[column] = pd.Categorical(frame[column], categories=levels)
    return pd.DataFrame(out)


def lgbm_params(training: dict[str, Any]) -> dict[str, Any]:
    """The declared LightGBM parameters with the binary objective, seed and threads."""
    declared = {"min_data_in_leaf": "auto", **training["lgbm_params"]}
    return {
        "objective": "binary",
        "metric": ["auc", "binary_logloss"],
        **{key: AUTO[key] if value == "auto" else value for key, value in declared.items()},
        "seed": training["seed"],
        "deterministic": True,
        "num_threads": training["num_threads"],
        "verbosity": -1,
    }


def run(project: Path) -> dict[str, Any]:
    """Run the floor once; return the seconds per step and checks."""
    contract = read_yaml(project, "parameters_contract.yml")["contract"]
    holdout = read_yaml(project, "parameters_features.yml")["holdout"]
    training = read_yaml(project, "parameters_training.yml")["training"]
    drift_share = read_yaml(project, "parameters_drift.yml")["drift"].get("drift_share", 0.5)
    numeric, categorical = contract["features"]["numeric"], contract["features"]["categorical"]
    target = contract["target"]
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[step] = now - clock
        clock = now

    reference_path, current_path = raw_paths(project)
    reference = pacsv.read_csv(reference_path).to_pandas()
    current = pacsv.read_csv(current_path).to_pandas()
    lap("ingestion: read")

    train, test = train_test_split(
        reference,
        test_size=holdout["test_size"],
        random_state=holdout["seed"],
        stratify=reference[target],
    )
    categories = {c: pd.Index(sorted(train[c].dropna().unique())) for c in categorical}
    frames = {
        name: model_inputs(rows, numeric, categories)
        for name, rows in (("train", train), ("test", test), ("current", current))
    }
    y_train = train[target].astype("float64").to_numpy()
    lap("features: hold-out and inputs")

    validation = AUTO["validation_fraction"]
    if training.get("validation_fraction", "auto") != "auto":
        validation = training["validation_fraction"]
    x_fit, x_valid, y_fit, y_valid = train_test_split(
        frames["train"],
        y_train,
        test_size=validation,
        random_state=training["seed"],
        stratify=y_train,
    )
    fit_set = lgb.Dataset(x_fit, y_fit, categorical_feature=categorical)
    valid_set = lgb.Dataset(x_valid, y_valid, reference=fit_set)
    booster = lgb.train(
        lgbm_params(training),
        fit_set,
        num_boost_round=training["num_boost_round"],
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(training["early_stopping_rounds"], verbose=False)],
    )
    lap("training: fit with early stopping")

    test_score = booster.predict(frames["test"], num_iteration=booster.best_iteration)
    auc = float(roc_auc_score(test[target].astype("float64"), test_score))
    lap("evaluation: predict test rows, ROC AUC")
    current_score = booster.predict(frames["current"], num_iteration=booster.best_iteration)
    lap("drift: predict current batch")

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[*numeric, "prediction"], categorical_columns=categorical
    )
    columns = [*numeric, *categorical]
    current_frame = current[columns].reset_index(drop=True).assign(prediction=current_score)
    test_frame = test[columns].reset_index(drop=True).assign(prediction=test_score)
    snapshot = Report([DataDriftPreset(drift_share=drift_share)]).run(
        Dataset.from_pandas(current_frame, data_definition=definition),
        Dataset.from_pandas(test_frame, data_definition=definition),
    )
    lap("drift: Evidently DataDriftPreset")
    html = snapshot.get_html_str(as_iframe=False)
    lap("drift: report HTML")

    drifted = [
        metric["config"]["column"]
        for metric in snapshot.dict()["metrics"]
        if metric["config"]["type"].endswith("ValueDrift") and _is_drifted(metric)
    ]
    return {
        "seconds": seconds,
        "total": sum(seconds.values()),
        "checks": {
            "best_iteration": booster.best_iteration,
            "test_roc_auc": auc,
            "drifted_columns": sorted(drifted),
            "report_bytes": len(html),
        },
    }


def _is_drifted(metric: dict[str, Any]) -> bool:
    """Whether one ValueDrift metric crossed its threshold (distances above, p-values below)."""
    score, threshold = float(metric["value"]), float(metric["config"]["threshold"])
    if "distance" in metric["config"]["method"].lower():
        return score >= threshold
    return score < threshold


def main(argv: list[str] | None = None) -> None:
    """Run the floor on a project copy and print (and optionally write) its result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    result = run(args.project)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    line = json.dumps(result)
    print(line)
    if args.out:
        args.out.write_text(line)


if __name__ == "__main__":
    main()

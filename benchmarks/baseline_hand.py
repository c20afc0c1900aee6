"""A hand-written pandas + LightGBM + Evidently version of the lifecycle, with no cirrus code.

Deliberately minimal: no contract validation (pandera), PII columns dropped rather than
hashed, no rare-level bucketing, no plots, no quality gate and no drift verdict. It keeps what
decides the cost of the model and the report: the same rows, the same declared transforms
(log, ratios, date parts, missing indicators), the same stratified splits, the same LightGBM
parameters, early stopping and threads, and Evidently's DataDriftPreset on the same columns.
Used by benchmarks/plain_baseline.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

if TYPE_CHECKING:
    from plain_baseline import Context

PREDICTION, TARGET = "prediction", "target"


def _contract(ctx: Context) -> dict[str, Any]:
    """The contract block of parameters_contract.yml."""
    return ctx.params["contract"]


def ingestion(ctx: Context) -> None:
    """Read both raw CSVs and drop the PII columns."""
    contract = _contract(ctx)
    for name, key in (("reference_rows", "raw_reference"), ("current_rows", "raw_current")):
        frame = pd.read_csv(ctx.raw[key], parse_dates=[contract["event_time_column"]])
        ctx.store.save(name, frame.drop(columns=list(contract["pii"])))


def engineer(rows: pd.DataFrame, params: dict[str, Any], meta: dict[str, Any]) -> pd.DataFrame:
    """Numeric, categorical and declared derived columns plus the target as float."""
    contract, declared = params["contract"], params["features"]
    out = {c: rows[c].to_numpy() for c in (contract["id_column"], contract["event_time_column"])}
    out.update({c: rows[c].astype("float64").to_numpy() for c in contract["features"]["numeric"]})
    for column, levels in meta["levels"].items():
        out[column] = pd.Categorical(rows[column], categories=levels)
    for column in declared["log"]:
        out[f"log_{column}"] = np.log1p(rows[column].clip(lower=0)).to_numpy()
    for name, (numerator, denominator) in declared["ratios"].items():
        out[name] = (rows[numerator] / rows[denominator].replace(0, np.nan)).to_numpy()
    for column in contract["features"]["datetime"]:
        for part in declared["date_parts"]:
            out[f"{column}_{part}"] = getattr(rows[column].dt, part).astype("float64").to_numpy()
    for column in meta["indicators"]:
        out[f"{column}_missing"] = rows[column].isna().astype("int8").to_numpy()
    out[contract["target"]] = rows[contract["target"]].astype("float64").to_numpy()
    return pd.DataFrame(out)


def features(ctx: Context) -> None:
    """Stratified hold-out split, levels learned on training rows, three model-input tables."""
    contract, holdout, store = _contract(ctx), ctx.params["holdout"], ctx.store
    reference = store.load("reference_rows")
    train, test = train_test_split(
        reference,
        test_size=holdout["test_size"],
        random_state=holdout["seed"],
        stratify=reference[contract["target"]],
    )
    numeric = contract["features"]["numeric"]
    meta: dict[str, Any] = {
        "levels": {
            c: sorted(train[c].dropna().astype(str).unique().tolist())
            for c in contract["features"]["categorical"]
        },
        "indicators": [c for c in numeric if train[c].isna().any()],
    }
    tables = {"train": train, "test": test, "current": store.load("current_rows")}
    for name, rows in tables.items():
        store.save(f"{name}_features", engineer(rows, ctx.params, meta))
    skip = {contract["id_column"], contract["event_time_column"], contract["target"]}
    meta["columns"] = [c for c in store.load("train_features").columns if c not in skip]
    store.save("feature_meta", meta)


def _matrix(frame: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    """Model columns, categoricals with the training levels."""
    matrix = frame[meta["columns"]].copy()
    for column, levels in meta["levels"].items():
        matrix[column] = matrix[column].astype(pd.CategoricalDtype(levels))
    return matrix


# `auto` in the YAML: the values the project's own rule resolves to at benchmark sizes (a few
# thousand fitting rows or more); a hand-written script would simply write these numbers.
AUTO_VALUES = {"validation_fraction": 0.2, "min_data_in_leaf": 50}


def _declared(name: str, value: Any) -> Any:
    """A declared setting, with `auto` replaced by its value at benchmark sizes."""
    return AUTO_VALUES[name] if value == "auto" else value


def _lgbm_params(ctx: Context) -> dict[str, Any]:
    """Binary objective plus the declared LightGBM parameters, seed and threads."""
    training = ctx.params["training"]
    declared = {"min_data_in_leaf": "auto", **training["lgbm_params"]}
    return {
        "objective": "binary",
        "metric": ["auc", "binary_logloss"],
        **{name: _declared(name, value) for name, value in declared.items()},
        "seed": training["seed"],
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": training["num_threads"],
        "verbosity": -1,
    }


def training(ctx: Context) -> None:
    """LightGBM with early stopping on a stratified validation split of the training rows."""
    settings, target, store = ctx.params["training"], _contract(ctx)["target"], ctx.store
    train, meta = store.load("train_features"), store.load("feature_meta")
    fit, valid = train_test_split(
        train,
        test_size=_declared("validation_fraction", settings.get("validation_fraction", "auto")),
        random_state=settings["seed"],
        stratify=train[target],
    )
    categorical = list(meta["levels"])
    fit_set = lgb.Dataset(_matrix(fit, meta), fit[target], categorical_feature=categorical)
    valid_set = lgb.Dataset(_matrix(valid, meta), valid[target], reference=fit_set)
    booster = lgb.train(
        _lgbm_params(ctx),
        fit_set,
        num_boost_round=settings["num_boost_round"],
        valid_sets=[fit_set, valid_set],
        valid_names=["train", "valid"],
        callbacks=[lgb.early_stopping(settings["early_stopping_rounds"], verbose=False)],
    )
    store.save("model", booster.model_to_string(num_iteration=booster.best_iteration))
    store.save(
        "training_metrics",
        {
            "best_iteration": booster.best_iteration,
            "n_features": booster.num_feature(),
            "valid_auc": booster.best_score["valid"]["auc"],
        },
    )


def _scores(ctx: Context, frame: pd.DataFrame) -> np.ndarray:
    """P(positive class) of every row from the saved model."""
    booster = lgb.Booster(model_str=ctx.store.load("model"))
    return booster.predict(_matrix(frame, ctx.store.load("feature_meta")))


def evaluation(ctx: Context) -> None:
    """Held-out scores and their ROC AUC."""
    target, test = _contract(ctx)["target"], ctx.store.load("test_features")
    score = _scores(ctx, test)
    ctx.store.save("test_predictions", pd.DataFrame({"score": score}))
    auc = float(roc_auc_score(test[target], score))
    ctx.store.save("evaluation_metrics", {"roc_auc": auc, "n_test_rows": len(test)})


def _drift_frame(features: pd.DataFrame, score: np.ndarray, ctx: Context) -> pd.DataFrame:
    """Contract features (categoricals as text), the score and the label as text."""
    contract = _contract(ctx)
    categorical = contract["features"]["categorical"]
    columns = [*contract["features"]["numeric"], *categorical]
    frame = features[columns].reset_index(drop=True)
    frame = frame.astype({c: str for c in categorical})
    frame[PREDICTION] = score
    frame[TARGET] = features[contract["target"]].astype(int).astype(str).to_numpy()
    return frame


def drift(ctx: Context) -> None:
    """Score the current batch and run Evidently's DataDriftPreset against held-out rows."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    contract, store = _contract(ctx), ctx.store
    test, current = store.load("test_features"), store.load("current_features")
    current_score = _scores(ctx, current)
    reference = _drift_frame(test, store.load("test_predictions")["score"].to_numpy(), ctx)
    current_frame = _drift_frame(current, current_score, ctx)
    definition = DataDefinition(
        numerical_columns=[*contract["features"]["numeric"], PREDICTION],
        categorical_columns=[*contract["features"]["categorical"], TARGET],
    )
    preset = DataDriftPreset(drift_share=ctx.params["drift"]["drift_share"])
    snapshot = Report([preset]).run(
        Dataset.from_pandas(current_frame, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    store.save("drift_report", snapshot.get_html_str(as_iframe=False), fmt="html")
    store.save("drift_summary", snapshot.dict()["metrics"][0]["value"])


STAGES = {
    "ingestion": ingestion,
    "features": features,
    "training": training,
    "evaluation": evaluation,
    "drift": drift,
}

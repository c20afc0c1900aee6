"""Feature nodes: hold out test rows, fit declared transforms on training rows, apply them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from cirrus.contract import DatasetContract, parse_contract
from cirrus.parameters import ConfigError, FeatureParams, HoldoutParams, parse_block

PARAMS_FILE = "conf/base/parameters_features.yml"
OTHER_LEVEL = "__other__"
UNKNOWN_LEVEL = "__unknown__"


def split_holdout(
    reference: pd.DataFrame, contract_params: dict[str, Any], holdout_params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split reference rows into training and held-out test rows, as declared."""
    contract = parse_contract(contract_params)
    holdout = parse_block(HoldoutParams, holdout_params, "holdout", PARAMS_FILE)
    if holdout.strategy == "time":
        ordered = reference.sort_values(contract.event_time_column, kind="stable")
        n_test = max(1, round(len(ordered) * holdout.test_size))
        return ordered.iloc[:-n_test].copy(), ordered.iloc[-n_test:].copy()
    stratify = None
    if holdout.strategy == "stratified" and contract.task != "regression":
        stratify = reference[contract.target]
    train, test = train_test_split(
        reference, test_size=holdout.test_size, random_state=holdout.seed, stratify=stratify
    )
    return train.sort_index(), test.sort_index()


def _check_numeric_references(params: FeatureParams, contract: DatasetContract) -> None:
    """Fail when a transform names a column that is not a numeric feature of the contract."""
    numeric = set(contract.features.numeric)
    used = {f"features.log[{c}]": c for c in params.log}
    for name, pair in params.ratios.items():
        used.update({f"features.ratios.{name}[{c}]": c for c in pair})
    if isinstance(params.missing_indicators, list):
        used.update({f"features.missing_indicators[{c}]": c for c in params.missing_indicators})
    wrong = [key for key, column in used.items() if column not in numeric]
    if wrong:
        raise ConfigError(
            f"In {PARAMS_FILE}: {wrong} name columns that are not numeric features of the "
            f"contract; numeric features are {sorted(numeric)}."
        )


def _learn_levels(
    values: pd.Series, min_frequency: int, max_levels: int
) -> tuple[list[str], list[str]]:
    """Split training levels into kept ones (most frequent first) and rare ones."""
    counts = values.dropna().astype(str).value_counts()
    ordered = [level for level, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    kept = [level for level in ordered if counts[level] >= min_frequency][:max_levels]
    rare = sorted(set(ordered) - set(kept))
    return kept, rare


def _target_classes(train: pd.DataFrame, contract: DatasetContract) -> list[str] | None:
    """Class labels in model order; for binary, the positive class comes last."""
    if contract.task == "regression":
        return None
    classes = sorted(train[contract.target].dropna().astype(str).unique().tolist())
    if contract.task == "binary" and contract.positive_class is not None:
        positive = str(contract.positive_class)
        classes = [c for c in classes if c != positive] + [positive]
    return classes


def fit_feature_spec(
    train: pd.DataFrame, contract_params: dict[str, Any], feature_params: dict[str, Any]
) -> dict[str, Any]:
    """Learn every transform from training rows into a readable JSON-ready spec."""
    contract = parse_contract(contract_params)
    params = parse_block(FeatureParams, feature_params, "features", PARAMS_FILE)
    _check_numeric_references(params, contract)
    numeric = contract.features.numeric
    if params.missing_indicators == "auto":
        indicators = [c for c in numeric if train[c].isna().any()]
    elif params.missing_indicators == "none":
        indicators = []
    else:
        indicators = list(params.missing_indicators)
    learned = {
        column: _learn_levels(
            train[column], params.categorical.min_frequency, params.categorical.max_levels
        )
        for column in contract.features.categorical
    }
    date_parts = {column: list(params.date_parts) for column in contract.features.datetime}
    derived = [
        *[f"log_{c}" for c in params.log],
        *params.ratios,
        *[f"{c}_{part}" for c, parts in date_parts.items() for part in parts],
        *[f"{c}_missing" for c in indicators],
    ]
    return {
        "id_column": contract.id_column,
        "event_time_column": contract.event_time_column,
        "task": contract.task,
        "target": contract.target,
        "classes": _target_classes(train, contract),
        "numeric": list(numeric),
        "log": list(params.log),
        "ratios": {name: list(pair) for name, pair in params.ratios.items()},
        "date_parts": date_parts,
        "missing_indicators": indicators,
        "categories": {column: kept for column, (kept, _) in learned.items()},
        "rare_levels": {column: rare for column, (_, rare) in learned.items()},
        "categorical_features": list(contract.features.categorical),
        "feature_columns": [*numeric, *contract.features.categorical, *derived],
        "drift_columns": [*numeric, *contract.features.categorical],
        "n_training_rows": len(train),
    }


def encode_categorical(values: pd.Series, levels: list[str], rare: list[str]) -> pd.Categorical:
    """Map values onto learned levels: rare training levels to __other__, unseen to __unknown__."""
    text = values.astype("string")
    keep = text.isna() | text.isin(levels)
    fallback = np.where(text.isin(rare), OTHER_LEVEL, UNKNOWN_LEVEL)
    mapped = text.where(keep, pd.Series(fallback, index=text.index, dtype="string"))
    return pd.Categorical(mapped, categories=[*levels, OTHER_LEVEL, UNKNOWN_LEVEL])


def encode_target(values: pd.Series, spec: dict[str, Any]) -> pd.Series:
    """Encode the target: class index for classification (positive = 1), float for regression."""
    if spec["classes"] is None:
        return values.astype("float64")
    index = {label: i for i, label in enumerate(spec["classes"])}
    return values.astype("string").map(index).astype("float64")


def build_features(rows: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
    """Apply a fitted feature spec to rows, returning the model-input table."""
    out = {
        spec["id_column"]: rows[spec["id_column"]].to_numpy(),
        spec["event_time_column"]: rows[spec["event_time_column"]].to_numpy(),
    }
    for column in spec["numeric"]:
        out[column] = rows[column].astype("float64").to_numpy()
    for column, levels in spec["categories"].items():
        out[column] = encode_categorical(rows[column], levels, spec["rare_levels"][column])
    for column in spec["log"]:
        out[f"log_{column}"] = np.log1p(rows[column].astype("float64").clip(lower=0)).to_numpy()
    for name, (numerator, denominator) in spec["ratios"].items():
        den = rows[denominator].astype("float64").replace(0, np.nan)
        out[name] = (rows[numerator].astype("float64") / den).to_numpy()
    for column, parts in spec["date_parts"].items():
        stamps = pd.to_datetime(rows[column])
        for part in parts:
            out[f"{column}_{part}"] = getattr(stamps.dt, part).astype("float64").to_numpy()
    for column in spec["missing_indicators"]:
        out[f"{column}_missing"] = rows[column].isna().astype("int8").to_numpy()
    out[spec["target"]] = encode_target(rows[spec["target"]], spec).to_numpy()
    return pd.DataFrame(out)


def report_unseen_categories(current: pd.DataFrame, spec: dict[str, Any]) -> dict[str, Any]:
    """Count current values of each categorical never seen in training (mapped to __unknown__)."""
    report = {}
    for column, levels in spec["categories"].items():
        known = {*levels, *spec["rare_levels"][column]}
        text = current[column].astype("string")
        unseen = text[text.notna() & ~text.isin(known)]
        report[column] = {
            "unseen_rows": int(unseen.size),
            "unseen_share": float(unseen.size / max(len(current), 1)),
            "unseen_levels": sorted(unseen.unique().tolist())[:50],
        }
    return {"mapped_to": UNKNOWN_LEVEL, "columns": report}

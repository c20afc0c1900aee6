"""Feature nodes: hold out test rows, fit declared transforms on training rows, apply them."""

from __future__ import annotations

import pandas as pd

from cirrus.contract import DatasetContract
from cirrus.feature_spec import FeatureSpec
from cirrus.parameters import FeatureParams, HoldoutParams
from cirrus.splits import split_rows


def split_holdout(
    reference: pd.DataFrame, contract: DatasetContract, holdout: HoldoutParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split reference rows into training and held-out test rows, as declared."""
    if holdout.strategy == "time":
        # A contract without an event-time column is refused before any node runs (preflight).
        ordered = reference.sort_values(contract.event_time_column, kind="stable")
        n_test = max(1, round(len(ordered) * holdout.test_size))
        return ordered.iloc[:-n_test].copy(), ordered.iloc[-n_test:].copy()
    stratify = None
    if holdout.strategy == "stratified" and contract.task != "regression":
        stratify = reference[contract.target]
    return split_rows(reference, holdout.test_size, holdout.seed, stratify)


def _as_text(values: pd.Series) -> pd.Series:
    """Values as `astype(str)` spells them; a text column as it is (no copy into Python strings)."""
    return values if isinstance(values.dtype, pd.StringDtype) else values.astype(str)


def _learn_levels(
    values: pd.Series, min_frequency: int, max_levels: int
) -> tuple[list[str], list[str]]:
    """Split training levels into kept ones (most frequent first) and rare ones."""
    counts = _as_text(values.dropna()).value_counts()
    ordered = [level for level, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    kept = [level for level in ordered if counts[level] >= min_frequency][:max_levels]
    rare = sorted(set(ordered) - set(kept))
    return kept, rare


def _target_classes(train: pd.DataFrame, contract: DatasetContract) -> list[str] | None:
    """Class labels in model order; for binary, the positive class comes last."""
    if contract.task == "regression":
        return None
    classes = sorted(_as_text(train[contract.target].dropna()).unique().tolist())
    if contract.task == "binary" and contract.positive_class is not None:
        positive = str(contract.positive_class)
        classes = [c for c in classes if c != positive] + [positive]
    return classes


def fit_feature_spec(
    train: pd.DataFrame, contract: DatasetContract, params: FeatureParams
) -> FeatureSpec:
    """Learn every transform from training rows into a typed spec (saved as readable JSON)."""
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
    return FeatureSpec(
        id_column=contract.id_column,
        event_time_column=contract.event_time_column,
        task=contract.task,
        target=contract.target,
        classes=_target_classes(train, contract),
        numeric=list(numeric),
        log=list(params.log),
        ratios=dict(params.ratios),
        date_parts=date_parts,
        missing_indicators=indicators,
        categories={column: kept for column, (kept, _) in learned.items()},
        rare_levels={column: rare for column, (_, rare) in learned.items()},
        categorical_features=list(contract.features.categorical),
        feature_columns=[*numeric, *contract.features.categorical, *derived],
        drift_columns=[*numeric, *contract.features.categorical],
        n_training_rows=len(train),
    )

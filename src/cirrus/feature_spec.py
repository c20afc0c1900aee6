"""The typed feature spec: every transform learned on training rows, and the one encoding rule.

The features pipeline fits it; `build_features` applies it (to training rows, held-out rows, the
current batch, batch scoring and API requests alike); training, evaluation and drift read it.
On disk it stays readable JSON (`data/04_feature/feature_spec.json`), converted at the catalog
boundary by `FeatureSpecDataset`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from kedro_datasets.json import JSONDataset
from pydantic import BaseModel, ConfigDict, ValidationError

OTHER_LEVEL = "__other__"  # training levels rarer than categorical.min_frequency
UNKNOWN_LEVEL = "__unknown__"  # levels never seen in training
DatePart = Literal["year", "month", "day", "dayofweek", "hour"]


class FeatureSpecError(ValueError):
    """A saved feature spec does not have the expected shape."""


class FeatureSpec(BaseModel):
    """Every transform fitted on training rows, in the order the model sees its columns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id_column: str | None = None  # None: the table has no id column
    event_time_column: str | None = None  # None: the table has no event-time column
    task: Literal["binary", "multiclass", "regression"]
    target: str
    classes: list[str] | None
    numeric: list[str]
    log: list[str]
    ratios: dict[str, tuple[str, str]]
    date_parts: dict[str, list[DatePart]]
    missing_indicators: list[str]
    categories: dict[str, list[str]]
    rare_levels: dict[str, list[str]]
    categorical_features: list[str]
    feature_columns: list[str]
    drift_columns: list[str]
    n_training_rows: int

    @property
    def key_columns(self) -> list[str]:
        """The id and event-time columns that the table declares, carried beside the features."""
        return [c for c in dict.fromkeys((self.id_column, self.event_time_column)) if c]

    def levels(self, column: str) -> list[str]:
        """Categories of an encoded column: kept training levels, then __other__, __unknown__."""
        return [*self.categories[column], OTHER_LEVEL, UNKNOWN_LEVEL]

    def encode_categorical(self, column: str, values: pd.Series) -> pd.Categorical:
        """Map values onto the learned levels: rare ones to __other__, unseen to __unknown__.

        Already-encoded values map onto themselves, so the rule can be applied to raw rows and to
        a model-input table alike.
        """
        levels = self.levels(column)
        text = values.astype("string")
        keep = text.isna() | text.isin(levels)
        fallback = np.where(text.isin(self.rare_levels[column]), OTHER_LEVEL, UNKNOWN_LEVEL)
        mapped = text.where(keep, pd.Series(fallback, index=text.index, dtype="string"))
        return pd.Categorical(mapped, categories=levels)

    def unseen_mask(self, column: str, values: pd.Series) -> pd.Series:
        """Which values of a categorical column were never seen in training."""
        known = {*self.categories[column], *self.rare_levels[column]}
        text = values.astype("string")
        return text.notna() & ~text.isin(known)

    def encode_target(self, values: pd.Series) -> pd.Series:
        """Class index for classification (positive = 1 for binary), float for regression."""
        if self.classes is None:
            return values.astype("float64")
        index = {label: i for i, label in enumerate(self.classes)}
        return values.astype("string").map(index).astype("float64")

    def class_names(self) -> list[str]:
        """Class labels in model order (empty for regression)."""
        return list(self.classes or [])


def parse_feature_spec(raw: dict[str, Any], source: str) -> FeatureSpec:
    """Validate a loaded feature spec, naming its source on error."""
    try:
        return FeatureSpec.model_validate(raw)
    except ValidationError as failure:
        problems = "; ".join(
            f"'{'.'.join(str(p) for p in item['loc'])}': {item['msg']}" for item in failure.errors()
        )
        raise FeatureSpecError(
            f"Feature spec {source} is not a valid spec ({problems}); rerun "
            "`kedro run --pipelines features` to rebuild it."
        ) from None


def build_features(rows: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Apply a fitted feature spec to rows, returning the model-input table."""
    out: dict[str, Any] = {column: rows[column].to_numpy() for column in spec.key_columns}
    for column in spec.numeric:
        out[column] = rows[column].astype("float64").to_numpy()
    for column in spec.categories:
        out[column] = spec.encode_categorical(column, rows[column])
    for column in spec.log:
        out[f"log_{column}"] = np.log1p(rows[column].astype("float64").clip(lower=0)).to_numpy()
    for name, (numerator, denominator) in spec.ratios.items():
        den = rows[denominator].astype("float64").replace(0, np.nan)
        out[name] = (rows[numerator].astype("float64") / den).to_numpy()
    for column, parts in spec.date_parts.items():
        stamps = pd.to_datetime(rows[column])
        for part in parts:
            out[f"{column}_{part}"] = getattr(stamps.dt, part).astype("float64").to_numpy()
    for column in spec.missing_indicators:
        out[f"{column}_missing"] = rows[column].isna().astype("int8").to_numpy()
    out[spec.target] = spec.encode_target(rows[spec.target]).to_numpy()
    return pd.DataFrame(out)


def report_unseen_categories(current: pd.DataFrame, spec: FeatureSpec) -> dict[str, Any]:
    """Count current values of each categorical never seen in training (mapped to __unknown__)."""
    report = {}
    for column in spec.categories:
        unseen = current[column].astype("string")[spec.unseen_mask(column, current[column])]
        report[column] = {
            "unseen_rows": int(unseen.size),
            "unseen_share": float(unseen.size / max(len(current), 1)),
            "unseen_levels": sorted(unseen.unique().tolist())[:50],
        }
    return {"mapped_to": UNKNOWN_LEVEL, "columns": report}


class FeatureSpecDataset(JSONDataset):
    """`feature_spec.json` as a typed `FeatureSpec`: readable JSON on disk, attributes in code."""

    def load(self) -> FeatureSpec:
        """Read the JSON file and validate it into a FeatureSpec."""
        return parse_feature_spec(super().load(), str(self._filepath))

    def save(self, data: FeatureSpec) -> None:
        """Write the spec as indented JSON, fields in declaration order."""
        super().save(data.model_dump(mode="json"))

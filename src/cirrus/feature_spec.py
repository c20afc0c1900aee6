"""The typed feature spec: every transform learned on training rows, and the one encoding rule.

The features pipeline fits it; `build_features` applies it (to training rows, held-out rows, the
current batch, batch scoring and API requests alike); training, evaluation and drift read it.
On disk it stays readable JSON (`data/04_feature/feature_spec.json`), converted at the catalog
boundary by `FeatureSpecDataset`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from kedro_datasets.json import JSONDataset
from pydantic import BaseModel, ConfigDict, ValidationError

import cirrus.pandas_options  # noqa: F401  (text as Arrow-backed strings)
from cirrus.dask.dispatch import on_dask
from cirrus.errors import CirrusError

OTHER_LEVEL = "__other__"  # training levels rarer than categorical.min_frequency
UNKNOWN_LEVEL = "__unknown__"  # levels never seen in training
DatePart = Literal["year", "month", "day", "dayofweek", "hour"]


class FeatureSpecError(CirrusError, ValueError):
    """A saved feature spec does not have the expected shape."""

    hint = "Fit the feature spec again with the model: `kedro run`."


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
        encoding = _encoding(tuple(self.categories[column]), tuple(self.rare_levels[column]))
        positions, missing = _positions(encoding.lookup, values)
        codes = encoding.codes[positions]
        codes[missing] = -1
        return pd.Categorical.from_codes(codes, dtype=encoding.dtype, validate=False)

    def unseen_mask(self, column: str, values: pd.Series) -> pd.Series:
        """Which values of a categorical column were never seen in training."""
        encoding = _encoding(tuple(self.categories[column]), tuple(self.rare_levels[column]))
        positions, missing = _positions(encoding.lookup, values)
        seen = encoding.seen[positions] | missing
        return pd.Series(~seen, index=values.index, name=values.name)

    def encode_target(self, values: pd.Series) -> pd.Series:
        """Class index for classification (positive = 1 for binary), float for regression."""
        if self.classes is None:
            return values.astype("float64")
        position = _lookup(tuple(self.classes)).positions(_texts(values))
        encoded = np.where(position >= 0, position, np.nan)
        return pd.Series(encoded, index=values.index, name=values.name, dtype="float64")

    def class_names(self) -> list[str]:
        """Class labels in model order (empty for regression)."""
        return list(self.classes or [])


# Up to this many values a dict probe per value beats pandas' vectorised lookup, whose fixed
# cost is tens of microseconds (an API request); above it the vectorised one wins (training).
SMALL_LOOKUP = 512


class _Lookup(NamedTuple):
    """Positions of known texts, as a pandas index and as a dict."""

    index: pd.Index
    positions_of: dict[str, int]

    def positions(self, texts: np.ndarray) -> np.ndarray:
        """Each text's position, -1 when it is not known (missing included)."""
        if len(texts) > SMALL_LOOKUP:
            return self.index.get_indexer(texts)
        return np.fromiter((self.positions_of.get(t, -1) for t in texts), "intp", len(texts))


@lru_cache(maxsize=1024)
def _lookup(texts: tuple[str, ...]) -> _Lookup:
    """The lookup of a list of distinct texts, built once."""
    return _Lookup(pd.Index(texts, dtype=object), {text: i for i, text in enumerate(texts)})


class _Encoding(NamedTuple):
    """Lookups of one categorical column, built once per set of learned levels."""

    dtype: pd.CategoricalDtype  # kept levels, then __other__, __unknown__
    lookup: _Lookup  # every text with a code: the categories, then the rare levels
    codes: np.ndarray  # code of each lookup position; the last one (position -1) is __unknown__
    seen: np.ndarray  # whether each lookup position is a level seen in training; -1 is not


def _texts(values: pd.Series) -> np.ndarray:
    """Values as the text `astype("string")` makes of them, missing as None."""
    text = values if isinstance(values.dtype, pd.StringDtype) else values.astype("string")
    return text.to_numpy(dtype=object, na_value=None)


def _positions(lookup: _Lookup, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each value's lookup position (-1: not known) and whether it is missing.

    A categorical column is looked up once per level, not once per row: scoring and training
    read model-input tables whose columns are already categoricals.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        # The appended -1 is the position of a missing row (category code -1).
        level_positions = np.append(lookup.positions(_texts(pd.Series(values.cat.categories))), -1)
        row_codes = values.cat.codes.to_numpy()
        return level_positions[row_codes], row_codes < 0
    texts = _texts(values)
    return lookup.positions(texts), pd.isna(texts)


@lru_cache(maxsize=1024)
def _encoding(kept: tuple[str, ...], rare: tuple[str, ...]) -> _Encoding:
    """The lookups of a column's learned levels: one hash probe per value instead of a pass of
    pandas operations per rule, which dominate the cost of scoring a few rows."""
    levels = [*kept, OTHER_LEVEL, UNKNOWN_LEVEL]
    other, unknown = len(kept), len(kept) + 1
    codes = [*range(len(levels)), *[other] * len(rare), unknown]
    # Literal __other__/__unknown__ text keeps its code but was never a training value.
    seen = [*[True] * len(kept), False, False, *[True] * len(rare), False]
    return _Encoding(
        dtype=pd.CategoricalDtype(levels),
        lookup=_lookup((*levels, *rare)),
        codes=np.asarray(codes, dtype="int64"),
        seen=np.asarray(seen, dtype=bool),
    )


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


@on_dask("cirrus.dask.nodes:build_features")
def build_features(rows: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Apply a fitted feature spec to rows, returning the model-input table."""
    return pd.DataFrame(feature_values(rows, spec))


def feature_values(rows: pd.DataFrame, spec: FeatureSpec) -> dict[str, Any]:
    """The columns of the model-input table of rows, by name (`build_features` without the
    table: scoring a request needs only the values)."""
    # numpy on each column's values, not pandas operations per transform: on the few rows of an
    # API request, pandas' per-call overhead is most of the cost. The values are the same.
    floats = {column: _floats(rows[column]) for column in _numeric_inputs(spec)}
    out: dict[str, Any] = {column: rows[column].to_numpy() for column in spec.key_columns}
    for column in spec.numeric:
        out[column] = floats[column]
    for column in spec.categories:
        out[column] = spec.encode_categorical(column, rows[column])
    for column in spec.log:
        values = floats[column]
        out[f"log_{column}"] = np.log1p(np.where(values < 0, 0.0, values))
    for name, (numerator, denominator) in spec.ratios.items():
        den = floats[denominator]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[name] = floats[numerator] / np.where(den == 0, np.nan, den)
    for column, parts in spec.date_parts.items():
        stamps = rows[column]
        if not pd.api.types.is_datetime64_any_dtype(stamps):
            stamps = pd.to_datetime(stamps)
        index = pd.DatetimeIndex(stamps)
        for part in parts:
            out[f"{column}_{part}"] = np.asarray(getattr(index, part), dtype="float64")
    for column in spec.missing_indicators:
        out[f"{column}_missing"] = np.asarray(rows[column].array.isna()).astype("int8")
    out[spec.target] = spec.encode_target(rows[spec.target]).to_numpy()
    return out


def input_columns(spec: FeatureSpec) -> list[str]:
    """Every raw column the fitted features read: numeric, categorical and datetime inputs."""
    return [*_numeric_inputs(spec), *spec.categories, *spec.date_parts]


def _numeric_inputs(spec: FeatureSpec) -> list[str]:
    """The raw columns the numeric features and transforms read, each once."""
    ratio_inputs = [column for pair in spec.ratios.values() for column in pair]
    return list(dict.fromkeys([*spec.numeric, *spec.log, *ratio_inputs]))


def _floats(values: pd.Series) -> np.ndarray:
    """A column's values as float64, missing as NaN (what `astype("float64")` gives)."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "biuf":
        return values.to_numpy(dtype="float64")  # NaN is its own missing value
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    return values.astype("float64").to_numpy()


@on_dask("cirrus.dask.nodes:report_unseen_categories")
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

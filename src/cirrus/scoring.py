"""Scoring new rows with the trained model: the one path batch scoring and the API share.

A `Scorer` holds what a prediction needs, loaded once: the booster, the feature spec, the
contract and the model bundle (its decision threshold and version). The bundle is built here too
(`build_bundle`), by the evaluation stage, and checked against the model and spec it names.
`Scorer.score` turns validated, PII-treated rows into predictions through the same
`build_features` as training, and reports per row which categorical columns held a level never
seen in training (scored as `__unknown__`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cirrus.contract import DatasetContract
from cirrus.errors import CirrusError
from cirrus.feature_spec import (
    FeatureSpec,
    FeatureSpecError,
    build_features,
    feature_values,
    input_columns,
)
from cirrus.model_file import verify_model_text
from cirrus.modeling import PREDICTION, decision_threshold, load_booster
from cirrus.parameters import EvaluationParams
from cirrus.results import DecisionThreshold, HeldOut, ModelBundle, TrainingMetrics

if TYPE_CHECKING:
    import lightgbm as lgb

SCORE = "score"
VERSION_DIGITS = 12


def content_version(text: str) -> str:
    """A short content hash: equal text, equal version, on every machine."""
    return hashlib.sha256(text.encode()).hexdigest()[:VERSION_DIGITS]


def spec_hash(spec: FeatureSpec) -> str:
    """The feature spec's content hash (key order does not matter)."""
    return content_version(json.dumps(spec.model_dump(mode="json"), sort_keys=True))


def contract_hash(contract: DatasetContract) -> str:
    """The contract's content hash (key order does not matter)."""
    return content_version(json.dumps(contract.model_dump(mode="json"), sort_keys=True))


class BundleMismatch(CirrusError):
    """The model or feature spec on storage is not the one the model bundle names."""

    hint = (
        "Publish the model, its feature spec and its bundle together: "
        "`kedro run --pipelines training,evaluation` (or the full `kedro run`)."
    )


def build_bundle(
    model_text: str,
    spec: FeatureSpec,
    contract: DatasetContract,
    evaluation: EvaluationParams,
    training_metrics: TrainingMetrics | None,
    held_out: HeldOut,
) -> ModelBundle:
    """The bundle of a trained model: its hashes, threshold in effect, contract and metrics."""
    threshold = None
    if spec.task == "binary":
        value, rule = decision_threshold(evaluation, training_metrics)
        threshold = DecisionThreshold(value=value, rule=rule)
    parts = {
        "model_version": content_version(model_text),
        "feature_spec_hash": spec_hash(spec),
        "task": spec.task,
        "decision_threshold": None if threshold is None else threshold.to_json(),
        "contract_hash": contract_hash(contract),
        "contract": contract.model_dump(mode="json"),
        "held_out": held_out.to_json(),
    }
    version = content_version(json.dumps(parts, sort_keys=True))
    return ModelBundle.model_validate({"version": version, **parts})


def bundle_problems(bundle: ModelBundle, model_text: str, spec: FeatureSpec) -> list[str]:
    """Why a model and spec are not the bundle's (nothing when they are)."""
    problems = []
    if content_version(model_text) != bundle.model_version:
        problems.append(
            f"the model file is version {content_version(model_text)}, the bundle names "
            f"{bundle.model_version}"
        )
    if spec_hash(spec) != bundle.feature_spec_hash:
        problems.append(
            f"the feature spec is {spec_hash(spec)}, the bundle names {bundle.feature_spec_hash}"
        )
    if spec.task == "binary" and bundle.decision_threshold is None:
        problems.append("the bundle holds no decision threshold for a binary task")
    return problems


ROW_KEY = "row_key"


def row_keys(rows: pd.DataFrame, contract: DatasetContract) -> pd.Series:
    """A key per row from its input values alone: 16 hex digits hashing the row's declared
    columns (features and event time, by name), `-2`, `-3`... on repeats of an identical row.

    The same row gets the same key in any file, in any order, in every run, so a scored row
    joins back to its input without an id column; a position in the file would change whenever
    rows are added, dropped or sorted. Identical rows are told apart by their order among
    themselves only (they also get the same prediction).
    """
    declared = [*contract.features.all, contract.event_time_column]
    columns = sorted({c for c in declared if c and c in rows.columns})
    # As text, so the key does not depend on how a column happens to be typed in memory.
    hashes = pd.util.hash_pandas_object(rows[columns].astype(str), index=False).to_numpy()
    keys = pd.Series([f"{value:016x}" for value in hashes.tolist()], index=rows.index)
    repeat = keys.groupby(keys).cumcount().to_numpy()
    suffix = np.where(repeat > 0, "-" + (repeat + 1).astype(str), "")
    return keys + suffix


def score_columns(spec: FeatureSpec) -> list[str]:
    """The score columns a prediction carries: P(positive), one per class, or none."""
    if spec.task == "binary":
        return [SCORE]
    if spec.task == "multiclass":
        return [f"{SCORE}_{name}" for name in spec.class_names()]
    return []


def numeric_matrix(features: pd.DataFrame | Mapping[str, Any], spec: FeatureSpec) -> np.ndarray:
    """The model input as a float matrix: categoricals as their level codes, missing as NaN.

    LightGBM turns a pandas frame with categoricals into exactly this matrix (the codes of the
    training levels, -1 as NaN); building it directly skips its per-call conversion and checks,
    which cost milliseconds on a one-row request. `features` is the model-input table or its
    columns by name (`feature_values`).
    """
    rows = len(features) if isinstance(features, pd.DataFrame) else len(features[spec.target])
    matrix = np.empty((rows, len(spec.feature_columns)), dtype="float64")
    for index, column in enumerate(spec.feature_columns):
        values = features[column]
        if column in spec.categories:
            codes = _level_codes(values, column, spec).astype("float64")
            codes[codes < 0] = np.nan
            matrix[:, index] = codes
        elif isinstance(values.dtype, np.dtype) and values.dtype.kind in "biuf":
            matrix[:, index] = np.asarray(values, dtype="float64")  # to_numeric leaves it as is
        else:
            numbers = pd.to_numeric(pd.Series(values), errors="coerce")
            matrix[:, index] = numbers.to_numpy(dtype="float64")
    return matrix


def _level_codes(values: Any, column: str, spec: FeatureSpec) -> np.ndarray:
    """The level codes of a categorical feature column (encoding it again only if needed)."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype) and dtype.categories.tolist() == spec.levels(column):
        # Already encoded with the learned levels, in order: encoding maps it onto itself.
        return np.asarray(values.codes if isinstance(values, pd.Categorical) else values.cat.codes)
    return spec.encode_categorical(column, pd.Series(values)).codes


def unknown_columns(rows: pd.DataFrame, spec: FeatureSpec) -> list[list[str]]:
    """Per row, the categorical columns whose value was never seen in training."""
    flags = {
        column: spec.unseen_mask(column, rows[column]).to_numpy() for column in spec.categories
    }
    return [[c for c, mask in flags.items() if mask[i]] for i in range(len(rows))]


def require_trained_on(spec: FeatureSpec, contract: DatasetContract) -> None:
    """Refuse a feature spec (and the model fitted with it) that reads columns the contract does
    not declare as features: it was fitted for another contract."""
    declared = set(contract.features.all)
    missing = [column for column in input_columns(spec) if column not in declared]
    if missing:
        raise FeatureSpecError(
            f"The model and feature spec were fitted on columns the contract '{contract.name}' "
            f"does not declare as features: {', '.join(missing)}. They were trained for another "
            "contract (conf/base/parameters_contract.yml changed since).",
            hint="Train on this contract first (`kedro run`), then score.",
        )


@dataclass(frozen=True)
class Scorer:
    """A loaded model ready to score rows, with the identity it reports."""

    booster: lgb.Booster
    spec: FeatureSpec
    contract: DatasetContract
    threshold: float | None
    model_version: str
    feature_spec_hash: str
    bundle_version: str

    @classmethod
    def load(
        cls,
        model_text: str,
        spec: FeatureSpec,
        contract: DatasetContract,
        bundle: ModelBundle,
    ) -> Scorer:
        """Build a scorer from the model text, its spec and the bundle that names both."""
        require_trained_on(spec, contract)
        verify_model_text(model_text, spec)  # a damaged file would abort this process in LightGBM
        problems = bundle_problems(bundle, model_text, spec)
        if problems:
            raise BundleMismatch(
                f"The model bundle {bundle.version} does not match what is stored beside it: "
                + "; ".join(problems)
            )
        return cls(
            booster=load_booster(model_text),
            spec=spec,
            contract=contract,
            threshold=bundle.threshold(),
            model_version=bundle.model_version,
            feature_spec_hash=bundle.feature_spec_hash,
            bundle_version=bundle.version,
        )

    def _labelled(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Rows with a target column (a missing one is an unknown outcome)."""
        if self.spec.target not in rows:
            rows = rows.assign(**{self.spec.target: np.nan})
        return rows

    def features(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The model-input table of validated rows (a missing target is an unknown outcome)."""
        return build_features(self._labelled(rows), self.spec)

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Scores and the point prediction (class label or value) for model-input rows."""
        columns = self.prediction_columns(numeric_matrix(features, self.spec))
        # One frame from all the columns: a column added at a time costs more on a few rows.
        return pd.DataFrame(columns, index=range(len(features)))

    def prediction_columns(self, matrix: np.ndarray) -> dict[str, np.ndarray]:
        """Score column(s) and the point prediction for a model-input matrix, by name."""
        raw = self.booster.predict(matrix, num_threads=1)
        spec, out = self.spec, {}
        if spec.task == "binary":
            out[SCORE] = raw
            negative, positive = spec.class_names()
            out[PREDICTION] = np.where(raw >= self.threshold, positive, negative)
        elif spec.task == "multiclass":
            for column, values in zip(score_columns(spec), raw.T, strict=True):
                out[column] = values
            out[PREDICTION] = np.asarray(spec.class_names(), dtype=object)[raw.argmax(axis=1)]
        else:
            out[PREDICTION] = raw
        return out

    def score(self, rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[list[str]]]:
        """Model-input features, predictions and unseen columns of validated, PII-treated rows."""
        features = self.features(rows)
        return features, self.predict(features), unknown_columns(rows, self.spec)

    def score_matrix(
        self, rows: pd.DataFrame
    ) -> tuple[np.ndarray, dict[str, np.ndarray], list[list[str]]]:
        """`score` without building the features table, for a request's few rows: the model
        input as a matrix, the prediction columns and the unseen columns."""
        matrix = numeric_matrix(feature_values(self._labelled(rows), self.spec), self.spec)
        return matrix, self.prediction_columns(matrix), unknown_columns(rows, self.spec)


def utc_now() -> datetime:
    """The current time in UTC (what every timestamp Cirrus writes is in)."""
    return datetime.now(UTC)

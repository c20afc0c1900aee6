"""Typed, strict parameter blocks of the pipelines, parsed from `conf/<env>/parameters_*.yml`."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigError(ValueError):
    """A parameters block is malformed: the message names the file and the key."""


class Strict(BaseModel):
    """Base model that rejects unknown keys, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Model = TypeVar("Model", bound=BaseModel)


def _describe(error: ValidationError, key: str) -> list[str]:
    """Render pydantic errors as one phrase each, with dotted key paths under `key`."""
    problems = []
    for item in error.errors():
        where = ".".join([key, *(str(part) for part in item["loc"])])
        if item["type"] == "extra_forbidden":
            problems.append(f"unknown key '{where}'")
        elif item["type"] == "missing":
            problems.append(f"missing required key '{where}'")
        else:
            problems.append(f"'{where}': {item['msg']}")
    return problems


def parse_block(
    model: type[Model],
    raw: dict[str, Any] | None,
    key: str,
    file: str,
    error: type[ConfigError] = ConfigError,
) -> Model:
    """Validate one parameters block, raising an error that names the file and the key."""
    if not raw and raw != {}:
        raise error(f"Missing parameters block '{key}': declare it in {file}")
    try:
        return model.model_validate(raw)
    except ValidationError as failure:
        problems = "; ".join(_describe(failure, key))
        raise error(
            f"Invalid parameters in {file} (or its override in conf/<env>/): {problems}"
        ) from None


class IngestionSplit(Strict):
    """How raw rows become reference (training) and current rows."""

    mode: Literal["files", "event_time"] = "files"
    current_from: str | None = None


class CategoricalEncoding(Strict):
    """How categorical levels are learned on training rows."""

    min_frequency: int = Field(default=1, ge=1)
    max_levels: int = Field(default=255, ge=1)


class FeatureParams(Strict):
    """Declared feature transforms, all fitted on training rows only."""

    log: list[str] = Field(default_factory=list)
    ratios: dict[str, tuple[str, str]] = Field(default_factory=dict)
    date_parts: list[Literal["year", "month", "day", "dayofweek", "hour"]] = Field(
        default_factory=list
    )
    missing_indicators: Literal["auto", "none"] | list[str] = "auto"
    categorical: CategoricalEncoding = CategoricalEncoding()


class HoldoutParams(Strict):
    """The held-out test split carved from the reference rows before anything is fitted."""

    strategy: Literal["stratified", "random", "time"] = "stratified"
    test_size: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 42


class CrossValidation(Strict):
    """Optional k-fold cross-validation on the training rows."""

    enabled: bool = False
    folds: int = Field(default=5, ge=2)


class SearchRange(Strict):
    """The range one hyperparameter is searched in."""

    low: float
    high: float
    kind: Literal["int", "float"] = "float"
    log: bool = False


class Tuning(Strict):
    """Optional Optuna search, bounded by a trial count and a time budget."""

    enabled: bool = False
    n_trials: int = Field(default=20, ge=1)
    timeout_seconds: float = Field(default=300, gt=0)
    search_space: dict[str, SearchRange] = Field(default_factory=dict)


class TrainingParams(Strict):
    """LightGBM training settings."""

    validation_fraction: float = Field(default=0.2, gt=0, lt=1)
    num_boost_round: int = Field(default=1000, ge=1)
    early_stopping_rounds: int = Field(default=50, ge=1)
    seed: int = 42
    num_threads: int = Field(default=2, ge=1)
    lgbm_params: dict[str, Any] = Field(default_factory=dict)
    cross_validation: CrossValidation = CrossValidation()
    tuning: Tuning = Tuning()


class GateRule(Strict):
    """Bounds one metric must respect."""

    min: float | None = None
    max: float | None = None


class EvaluationParams(Strict):
    """Evaluation settings: decision threshold, calibration bins and the quality gate."""

    threshold: float = Field(default=0.5, gt=0, lt=1)
    calibration_bins: int = Field(default=10, ge=2)
    top_features: int = Field(default=20, ge=1)
    must_beat_baseline: bool = True
    quality_gate: dict[Literal["binary", "multiclass", "regression"], dict[str, GateRule]] = Field(
        default_factory=dict
    )


class RetrainPolicy(Strict):
    """When the drift summary recommends retraining."""

    on_dataset_drift: bool = True
    on_prediction_drift: bool = True
    on_target_drift: bool = True
    max_drifted_share: float = Field(default=0.3, ge=0, le=1)


class DriftParams(Strict):
    """Evidently drift settings."""

    drift_share: float = Field(default=0.5, gt=0, le=1)
    num_method: str | None = None
    cat_method: str | None = None
    num_threshold: float | None = None
    cat_threshold: float | None = None
    per_column_method: dict[str, str] = Field(default_factory=dict)
    per_column_threshold: dict[str, float] = Field(default_factory=dict)
    max_rows: int | None = Field(default=None, ge=100)
    seed: int = 42
    retrain: RetrainPolicy = RetrainPolicy()

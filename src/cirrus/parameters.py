"""Typed, strict parameter blocks of the pipelines, parsed from `conf/<env>/parameters_*.yml`.

Nodes declare these types on their `params:` inputs, so Kedro's own parameter validation turns
each block into its model before the first node runs; a bad block fails the run with a message
naming the file and the dotted key.
"""

from __future__ import annotations

import datetime
import difflib
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cirrus.errors import CirrusError

Task = Literal["binary", "multiclass", "regression"]


class ConfigError(CirrusError):
    """A parameters block is malformed: the message names the file and the key.

    Not a ValueError on purpose: pydantic turns a ValueError raised inside a validator into one
    more validation error, and Kedro's parameter validation would then print the raw input too.
    """

    hint = "Fix the setting the message names (in conf/, or the option given), then run again."


class Strict(BaseModel):
    """Base model that rejects unknown keys, so a typo never passes silently."""

    # Each field's docstring is its description (docs/configuration.md lists them all).
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


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
            problems.append(f"'{where}': {item['msg'].removeprefix('Value error, ')}")
    return problems


def invalid_block(file: str, problems: list[str]) -> str:
    """The one wording of a bad parameters block, naming the file it comes from."""
    return (
        f"Invalid parameters in {file} (or its override in conf/<env>/ or --params): "
        + "; ".join(problems)
    )


class Block(Strict):
    """A top-level parameters block: every parse error names its file and dotted key."""

    block_key: ClassVar[str]
    block_file: ClassVar[str]
    block_error: ClassVar[type[ConfigError]] = ConfigError

    @model_validator(mode="wrap")
    @classmethod
    def _name_file_and_key(cls, data: Any, handler: Any) -> Any:
        """Re-raise pydantic's errors as one message naming the file and the dotted keys."""
        try:
            block = handler(data)
        except ValidationError as failure:
            raise cls.block_error(
                invalid_block(cls.block_file, _describe(failure, cls.block_key))
            ) from None
        # Checks across fields run here, inside the wrap: a subclass's own `after` validator
        # would run outside it, and its error would lose the file and key.
        try:
            block.check_consistency()
        except ValueError as problem:
            raise cls.block_error(
                invalid_block(cls.block_file, [f"'{cls.block_key}': {problem}"])
            ) from None
        return block

    def check_consistency(self) -> None:
        """Checks across the fields of the block; raise ValueError to refuse it."""

    @classmethod
    def parse(cls: type[Model], raw: Any) -> Model:
        """Parse the raw block; a missing block is an error naming where to declare it."""
        if raw is None:
            raise cls.block_error(  # type: ignore[attr-defined]
                f"Missing parameters block '{cls.block_key}': "  # type: ignore[attr-defined]
                f"declare it in {cls.block_file}"  # type: ignore[attr-defined]
            )
        return cls.model_validate(raw)


def parse_block(
    model: type[Model],
    raw: dict[str, Any] | None,
    key: str,
    file: str,
    error: type[ConfigError] = ConfigError,
) -> Model:
    """Validate a block that is not a `Block` (deploy.yml, for one), naming the file and key."""
    if not raw and raw != {}:
        raise error(f"Missing parameters block '{key}': declare it in {file}")
    try:
        return model.model_validate(raw)
    except ValidationError as failure:
        raise error(invalid_block(file, _describe(failure, key))) from None


# Which file of conf/base holds each top-level parameters block: the one definition that error
# messages, the checks before a run and the dvc.yaml generator all read.
PARAMETER_FILES: dict[str, str] = {
    "contract": "conf/base/parameters_contract.yml",
    "ingestion": "conf/base/parameters_ingestion.yml",
    "holdout": "conf/base/parameters_features.yml",
    "features": "conf/base/parameters_features.yml",
    "training": "conf/base/parameters_training.yml",
    "evaluation": "conf/base/parameters_evaluation.yml",
    "drift": "conf/base/parameters_drift.yml",
    "registry": "conf/base/parameters_registry.yml",
    "demo_data": "conf/base/parameters_demo_data.yml",
    "monitoring": "conf/base/parameters_monitoring.yml",
    "model_card": "conf/base/parameters_model_card.yml",
}
ANY_PARAMETERS_FILE = "conf/base/parameters*.yml"
# Blocks that lived in another file before, still read there (with a deprecation warning).
FORMER_PARAMETER_FILES: dict[str, str] = {"contract": "conf/base/parameters_ingestion.yml"}


def parameters_file(key: str) -> str:
    """The file that holds a parameters block (a dotted key by its top-level block)."""
    return PARAMETER_FILES.get(key.split(".")[0], ANY_PARAMETERS_FILE)


CONTRACT_FILE = parameters_file("contract")
INGESTION_FILE = parameters_file("ingestion")
FEATURES_FILE = parameters_file("features")
TRAINING_FILE = parameters_file("training")
EVALUATION_FILE = parameters_file("evaluation")
DRIFT_FILE = parameters_file("drift")
REGISTRY_FILE = parameters_file("registry")
DEMO_DATA_FILE = parameters_file("demo_data")
MONITORING_FILE = parameters_file("monitoring")
MODEL_CARD_FILE = parameters_file("model_card")
# What promotion to production needs stated on the model card (the order of the refusal).
REQUIRED_FOR_PRODUCTION = ("owner", "intended_use", "limitations", "risk_rating")


def block_locations(conf_dir: Path) -> dict[str, str]:
    """Which parameters*.yml file of a conf folder (e.g. conf/base) holds each top-level block,
    as paths relative to the project (the folder's grandparent)."""
    import yaml

    owners = {}
    for path in sorted(conf_dir.glob("parameters*.yml")):
        for key in yaml.safe_load(path.read_text()) or {}:
            owners[str(key)] = path.relative_to(conf_dir.parent.parent).as_posix()
    return owners


def moved_block_warnings(conf_dir: Path) -> list[str]:
    """One sentence for each block still in the file it lived in before (read there for now)."""
    return [
        f"The '{key}:' block is in {found}: move it, unchanged, to its own file "
        f"{PARAMETER_FILES[key]}. It is still read from {found} for now; a later version "
        "will read it only from its own file."
        for key, found in sorted(block_locations(conf_dir).items())
        if FORMER_PARAMETER_FILES.get(key) == found and found != PARAMETER_FILES[key]
    ]


SplitMode = Literal["files", "event_time", "fraction"]


class IngestionSplit(Block):
    """How raw rows become reference (training) and current rows.

    `files`: raw_reference is the reference, raw_current the current batch (two different
    files). `event_time`: rows at or after `current_from` are current. `fraction`: one file
    without time; a share `current_share` of the rows is current, chosen by a hash of the id
    (of the whole row without an id column) salted with `seed`, so reruns give the same split.
    """

    block_key = "ingestion.split"
    block_file = INGESTION_FILE

    mode: SplitMode = "files"
    """How rows split: `files` (raw_reference is the reference, raw_current the current batch),
    `event_time` (cut at `current_from`) or `fraction` (a hashed share of one file)."""
    current_from: str | None = None
    """Mode `event_time`: an ISO date or date-time; rows at or after it are current."""
    current_share: float | None = Field(default=None, gt=0, lt=1)
    """Mode `fraction`: the share of the rows that become current (between 0 and 1)."""
    seed: int = 42
    """Mode `fraction`: salts the hash that picks the current rows (same seed, same split)."""

    @field_validator("current_from", mode="before")
    @classmethod
    def _an_iso_time(cls, value: Any) -> Any:
        """An ISO date or date-time; an unquoted YAML date is taken as the date it is."""
        if isinstance(value, datetime.date):  # YAML reads 2026-10-01 unquoted as a date
            return value.isoformat()
        if value is None:
            return value
        text = str(value).strip()
        if _iso_time(text) is None:
            raise ValueError(
                f"{text!r} is not an ISO date or date-time (e.g. '2026-10-01' or "
                "'2026-10-01 08:00:00'); rows at or after it are current"
            )
        return text

    def check_consistency(self) -> None:
        """Each mode needs its own setting, and only that one."""
        if self.mode == "event_time" and self.current_from is None:
            raise ValueError(
                "current_from is required when mode is 'event_time' "
                "(an ISO date: rows at or after it are current)"
            )
        if self.mode == "fraction" and self.current_share is None:
            raise ValueError(
                "current_share is required when mode is 'fraction' "
                "(the share of rows that become current, e.g. 0.2)"
            )
        if self.mode != "fraction" and self.current_share is not None:
            raise ValueError(f"current_share applies to mode 'fraction' only, not {self.mode!r}")

    def describe(self) -> str:
        """The split setting as a person reads it in the YAML."""
        if self.mode == "event_time":
            return f"ingestion.split.mode: event_time, current_from: {self.current_from!r}"
        if self.mode == "fraction":
            return f"ingestion.split.mode: fraction, current_share: {self.current_share}"
        return "ingestion.split.mode: files"


def _iso_time(text: str) -> Any:
    """The time an ISO 8601 date or date-time stands for, or None when it is not one."""
    import pandas as pd

    if not any(separator in text for separator in "-T:"):
        return None  # "143", "2026": numbers, not dates
    parsed = pd.to_datetime(pd.Series([text]), format="ISO8601", errors="coerce").iloc[0]
    return None if pd.isna(parsed) else parsed


class CategoricalEncoding(Strict):
    """How categorical levels are learned on training rows."""

    min_frequency: int = Field(default=1, ge=1)
    """Training levels seen fewer times than this become `__other__`; levels never seen in training
    become `__unknown__`."""
    max_levels: int = Field(default=255, ge=1)
    """Most levels kept per column (the most frequent); the others become `__other__`."""


class FeatureParams(Block):
    """Declared feature transforms, all fitted on training rows only."""

    block_key = "features"
    block_file = FEATURES_FILE

    log: list[str] = Field(default_factory=list)
    """Numeric columns that each get a `log_<column>` feature: log(1 + x), negatives as 0."""
    ratios: dict[str, tuple[str, str]] = Field(default_factory=dict)
    """New features by name: `[numerator, denominator]` columns; a zero denominator gives a missing
    value."""
    date_parts: list[Literal["year", "month", "day", "dayofweek", "hour"]] = Field(
        default_factory=list
    )
    """Parts taken from every datetime feature of the contract, as `<column>_<part>` features (the
    model sees only these, not the datetime itself)."""
    missing_indicators: Literal["auto", "none"] | list[str] = "auto"
    """`<column>_missing` 0/1 features: `auto` (numeric features with nulls in the training rows),
    `none`, or a list of columns."""
    categorical: CategoricalEncoding = CategoricalEncoding()
    """How categorical levels are learned on the training rows."""

    def numeric_references(self) -> dict[str, str]:
        """Every column a transform reads, keyed by where it is named in the block."""
        used = {f"features.log[{c}]": c for c in self.log}
        for name, pair in self.ratios.items():
            used.update({f"features.ratios.{name}[{c}]": c for c in pair})
        if isinstance(self.missing_indicators, list):
            used.update({f"features.missing_indicators[{c}]": c for c in self.missing_indicators})
        return used


HoldoutStrategy = Literal["stratified", "random", "time"]


class HoldoutParams(Block):
    """The held-out test split carved from the reference rows before anything is fitted."""

    block_key = "holdout"
    block_file = FEATURES_FILE

    strategy: Literal["auto", "stratified", "random", "time"] = "auto"
    """`auto` (`time` when the contract declares an event time, else `stratified`; regression:
    `random`), `stratified` (random, keeping the class shares; regression: random), `random`, or
    `time` (the latest rows by event time are the test rows; rows of equal time stay together)."""
    test_size: float = Field(default=0.2, gt=0, lt=1)
    """Share of the reference rows held out as test rows (between 0 and 1)."""
    seed: int = 42
    """Seed of the `stratified` and `random` splits."""
    gap: str | None = None
    """Time hold-out only: a duration (pandas notation, e.g. `7D`, `12h`); training rows less than
    this before the first test time are dropped, so rows next to the cut do not leak into
    training. null: no gap."""

    @field_validator("gap", mode="before")
    @classmethod
    def _a_duration(cls, value: Any) -> Any:
        """A positive duration pandas reads (e.g. 7D, 12h, 30min), or null."""
        if value is None:
            return value
        import pandas as pd

        try:
            duration = pd.Timedelta(str(value).strip())
        except ValueError:
            duration = None
        if duration is None or pd.isna(duration) or duration <= pd.Timedelta(0):
            raise ValueError(f"{value!r} is not a positive duration (e.g. '7D', '12h', '30min')")
        return str(value).strip()

    def check_consistency(self) -> None:
        """A gap needs a split that can be by time."""
        if self.gap is not None and self.strategy in ("stratified", "random"):
            raise ValueError(
                f"gap applies to strategy 'time' (or 'auto' with an event time), "
                f"not {self.strategy!r}"
            )

    def resolved(self, event_time_column: str | None, task: str) -> HoldoutStrategy:
        """The strategy in effect: `auto` resolved from the event time and the task."""
        if self.strategy != "auto":
            return self.strategy
        if event_time_column is not None:
            return "time"
        return "random" if task == "regression" else "stratified"


class CrossValidation(Strict):
    """Optional k-fold cross-validation on the training rows."""

    enabled: bool = False
    """Also cross-validate the final parameters on the training rows (scores in
    training_metrics.json); the model itself is trained once."""
    folds: int = Field(default=5, ge=2)
    """Number of folds (stratified for classification)."""


class SearchRange(Strict):
    """The range one hyperparameter is searched in."""

    low: float
    """Lowest value tried (inclusive)."""
    high: float
    """Highest value tried (inclusive)."""
    kind: Literal["int", "float"] = "float"
    """`int` for whole-number parameters (e.g. num_leaves), `float` otherwise."""
    log: bool = False
    """Sample on a log scale (for ranges over orders of magnitude, e.g. learning_rate)."""


class Tuning(Strict):
    """Optional Optuna search, bounded by a trial count and a time budget."""

    enabled: bool = False
    """Search `search_space` with Optuna before the final training."""
    n_trials: int = Field(default=20, ge=1)
    """Most trials; each is one training with early stopping on the validation rows."""
    timeout_seconds: float = Field(default=300, gt=0)
    """Time budget in seconds: no trial starts after it has run out."""
    search_space: dict[str, SearchRange] = Field(default_factory=dict)
    """LightGBM parameter -> the range searched; the best values override `lgbm_params`."""

    @field_validator("search_space")
    @classmethod
    def _known_to_lightgbm(cls, space: dict[str, SearchRange]) -> dict[str, SearchRange]:
        """Searched names must be LightGBM parameters."""
        check_lightgbm_names(space)
        return space


@cache
def lightgbm_aliases() -> dict[str, str]:
    """Every parameter name and alias LightGBM knows (asked from its C library) -> its name."""
    from lightgbm.basic import _ConfigAliases

    names = _ConfigAliases._get_all_param_aliases()
    return {alias: name for name, aliases in names.items() for alias in (name, *aliases)}


def check_lightgbm_names(params: dict[str, Any]) -> None:
    """Refuse names LightGBM does not know, suggesting the closest valid parameter."""
    known = lightgbm_aliases()
    problems = []
    for name in params:
        if name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"; did you mean '{known[close[0]]}'?" if close else ""
        problems.append(f"unknown key '{name}': not a LightGBM parameter or alias{hint}")
    if problems:
        raise ValueError("; ".join(problems))


AUTO = "auto"
# LightGBM settings whose right value depends on the row count: `auto` (also their default when
# left out) scales them from the fitting rows (cirrus/pipelines/training/nodes.py), before
# LightGBM sees them. Canonical LightGBM names; their aliases are accepted too.
ROW_SCALED_LIGHTGBM = ("min_data_in_leaf",)


def row_scaled_name(name: str) -> str | None:
    """The row-scaled LightGBM setting `name` is (or is an alias of), else None."""
    canonical = lightgbm_aliases().get(name, name)
    return canonical if canonical in ROW_SCALED_LIGHTGBM else None


def check_lightgbm_values(params: dict[str, Any]) -> None:
    """Let LightGBM parse each value on a one-row dataset, naming the key it refuses.

    `auto` is left to the training, which resolves it, for the row-scaled settings only.
    """
    import lightgbm as lgb
    import numpy as np

    problems = []
    for name, value in params.items():
        scaled = row_scaled_name(name)
        if scaled and value == AUTO:
            continue
        try:
            probe = {"verbosity": -1, name: value}
            lgb.Dataset(np.zeros((2, 1)), label=[0.0, 1.0], params=probe).construct()
        except lgb.basic.LightGBMError as refused:
            hint = " (use auto, scaled from the fitting rows, or a whole number)" if scaled else ""
            problems.append(f"'{name}: {value!r}' is refused by LightGBM ({refused}){hint}")
    if problems:
        raise ValueError("; ".join(problems))


def _auto_or_share(value: Any) -> Any:
    """`auto`, or a share strictly between 0 and 1."""
    if value == AUTO:
        return value
    share = None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            share = float(value)
        except ValueError:
            share = None
    if share is None or not 0 < share < 1:
        raise ValueError(f"{value!r} is neither auto nor a number between 0 and 1 (exclusive)")
    return share


class TrainingParams(Block):
    """LightGBM training settings."""

    block_key = "training"
    block_file = TRAINING_FILE

    validation_fraction: float | Literal["auto"] = AUTO
    """Share of the training rows held out for early stopping; `auto`: 0.2, raised up to 0.3 so the
    validation rows hold 5 rows of every class."""
    num_boost_round: int = Field(default=1000, ge=1)
    """Most boosting rounds (trees); early stopping usually ends sooner."""
    early_stopping_rounds: int = Field(default=50, ge=1)
    """Stop when the validation metric has not improved for this many rounds."""
    seed: int = 42
    """Seed of LightGBM, the early-stopping split, the cross-validation folds and Optuna."""
    num_threads: int = Field(default=2, ge=1)
    """CPU threads LightGBM uses."""
    lgbm_params: dict[str, Any] = Field(default_factory=dict)
    """LightGBM parameters (names or aliases), passed as they are; the objective and metric follow
    the task. `min_data_in_leaf: auto` (also when left out): fitting rows // 10 (regression: // 20),
    kept between 5 and 50."""
    cross_validation: CrossValidation = CrossValidation()
    """Optional k-fold cross-validation on the training rows."""
    tuning: Tuning = Tuning()
    """Optional Optuna search of LightGBM parameters, bounded by trials and seconds."""

    @field_validator("validation_fraction", mode="before")
    @classmethod
    def _auto_or_a_share(cls, value: Any) -> Any:
        """`auto` or a share of the training rows."""
        return _auto_or_share(value)

    @field_validator("lgbm_params")
    @classmethod
    def _valid_for_lightgbm(cls, params: dict[str, Any]) -> dict[str, Any]:
        """Names from LightGBM's own parameter list; values LightGBM itself accepts."""
        check_lightgbm_names(params)
        check_lightgbm_values(params)
        return params

    def check_consistency(self) -> None:
        """A row-scaled setting is declared once, under its name or one alias."""
        for scaled in ROW_SCALED_LIGHTGBM:
            named = [name for name in self.lgbm_params if row_scaled_name(name) == scaled]
            if len(named) > 1:
                raise ValueError(f"lgbm_params sets {scaled} {len(named)} times: {named}")


# How `evaluation.threshold: auto` picks the binary decision threshold on the validation rows:
# best_f1 maximises F1, youden maximises TPR - FPR (Youden's J).
ThresholdRule = Literal["best_f1", "youden"]


class GateRule(Strict):
    """Bounds one metric must respect."""

    min: float | None = None
    """The metric must be at least this (unset: no lower bound)."""
    max: float | None = None
    """The metric must be at most this (unset: no upper bound)."""


class GateInterval(Strict):
    """How a quality-gate bound is judged on few held-out rows: on a bootstrap interval."""

    max_rows: int = Field(default=10_000, ge=0)
    """Up to this many held-out rows a bound fails only when the metric's whole bootstrap interval
    misses it (a miss within it passes as inconclusive); 0: the estimate alone."""
    confidence: float = Field(default=0.95, gt=0, lt=1)
    """Confidence level of the bootstrap interval (0.95: 95%)."""
    resamples: int = Field(default=1000, ge=100)
    """Bootstrap resamples drawn for the interval."""
    seed: int = 42
    """Seed of the bootstrap resampling."""


class EvaluationParams(Block):
    """Evaluation settings: decision threshold, calibration bins and the quality gate."""

    block_key = "evaluation"
    block_file = EVALUATION_FILE

    threshold: float | Literal["auto"] = 0.5
    """Binary tasks: a score at or above it predicts the positive class; `auto`: the one
    `threshold_rule` picks on the early-stopping validation rows (never the test rows)."""
    threshold_rule: ThresholdRule = "best_f1"
    """With `threshold: auto`: `best_f1` (highest F1) or `youden` (highest TPR - FPR)."""
    calibration_bins: int = Field(default=10, ge=2)
    """Equal-width probability bins of the calibration plot and table."""
    top_features: int = Field(default=20, ge=1)
    """Features shown in the feature-importance plot (highest gain first)."""
    must_beat_baseline: bool = True
    """Fail the run unless the task's primary metric beats the trivial baseline (the training rows'
    prior), judged on the estimate."""
    quality_gate: dict[Task, dict[str, GateRule]] = Field(default_factory=dict)
    """Task -> metric -> bounds; a model outside them fails the run and the previous outputs are
    kept."""
    gate_interval: GateInterval = Field(default_factory=GateInterval)
    """How a bound is judged on few held-out rows."""

    @field_validator("threshold", mode="before")
    @classmethod
    def _auto_or_a_probability(cls, value: Any) -> Any:
        """`auto` or a probability strictly between 0 and 1."""
        return _auto_or_share(value)

    @field_validator("quality_gate")
    @classmethod
    def _metrics_of_the_task(
        cls, gate: dict[str, dict[str, GateRule]]
    ) -> dict[str, dict[str, GateRule]]:
        """A gate can only bound metrics the evaluation computes for that task."""
        from cirrus.metrics import TASK_METRICS

        problems = [
            f"'{task}.{name}' is not a {task} metric (known: {list(TASK_METRICS[task])})"
            for task, rules in gate.items()
            for name in rules
            if name not in TASK_METRICS[task]
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return gate


class RetrainPolicy(Strict):
    """When the drift summary recommends retraining."""

    on_dataset_drift: bool = True
    """Recommend retraining on dataset drift (drifted share >= `drift_share`)."""
    on_prediction_drift: bool = True
    """Recommend retraining when the model's predictions drift."""
    on_target_drift: bool = True
    """Recommend retraining when the target drifts (current rows with outcomes)."""
    max_drifted_share: float = Field(default=0.3, ge=0, le=1)
    """Recommend retraining whenever more than this share of the features drifted (0 to 1), whatever
    the flags above."""


AlarmCorrection = Literal["holm", "benjamini_hochberg", "bonferroni", "none"]


class AlarmParams(Strict):
    """How the per-column drift tests are combined into alarms at a declared error rate."""

    correction: AlarmCorrection = "holm"
    """Multiple-testing correction over the columns tested (features, prediction, target):
    `holm` (Holm 1979, step-down Bonferroni: the chance of any false alarm on undrifted data is at
    most `family_error_rate`), `benjamini_hochberg` (Benjamini & Hochberg 1995: the expected share
    of false alarms among the alarms is at most `family_error_rate`), `bonferroni`, or `none` (each
    column's own verdict, as Evidently gives it). The missing-value shifts are corrected the
    same way, as a family of their own."""
    family_error_rate: float = Field(default=0.05, gt=0, lt=1)
    """The error rate the correction controls (0 to 1): family-wise for `holm` and `bonferroni`,
    false-discovery rate for `benjamini_hochberg`."""


def check_drift_methods(methods: list[str]) -> None:
    """Refuse drift methods Evidently's stat-test registry does not know."""
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests

    unknown = sorted({m for m in methods if m not in _registered_stat_tests})
    if unknown:
        raise ValueError(
            f"unknown drift method(s) {unknown}; Evidently knows {sorted(_registered_stat_tests)}"
        )


class DriftParams(Block):
    """Evidently drift settings."""

    block_key = "drift"
    block_file = DRIFT_FILE

    drift_share: float = Field(default=0.5, gt=0, le=1)
    """Dataset drift when at least this share of the features drifted (0 to 1)."""
    num_method: str | None = None
    """Evidently stat test of every numeric column (e.g. wasserstein, ks, psi); null: ks on up to
    1,000 reference rows, wasserstein above."""
    cat_method: str | None = None
    """Evidently stat test of every categorical column (e.g. chisquare, jensenshannon); null:
    Evidently's choice (TVD for more than two levels on up to 1,000 reference rows)."""
    num_threshold: float | None = None
    """Drift threshold of the numeric columns' test: a p-value (drift below it) or for a distance
    method a distance (drift at or above it); null: the test's default."""
    cat_threshold: float | None = None
    """Drift threshold of the categorical columns' test, as `num_threshold`; null: the test's
    default."""
    per_column_method: dict[str, str] = Field(default_factory=dict)
    """Column -> Evidently stat test, overriding the method of its kind."""
    per_column_threshold: dict[str, float] = Field(default_factory=dict)
    """Column -> drift threshold, overriding the threshold of its kind."""
    report_rows: int | None = Field(default=20_000, ge=100)
    """Rows of each side the HTML report shows, a seeded sample (null: all rows); the verdicts
    always use all rows."""
    seed: int = 42
    """Seed of the report's row sample."""
    retrain: RetrainPolicy = RetrainPolicy()
    """When the drift summary recommends retraining."""
    alarm: AlarmParams = AlarmParams()
    """The correction that turns per-column verdicts into alarms: a column alarms when its own test
    flags it and its corrected p-value is at most `family_error_rate`. A distance method
    (wasserstein, jensenshannon, ...) gives no p-value: its column enters the family with the
    p-value of a two-sample test on the same values (Kolmogorov-Smirnov for numbers, Pearson's
    chi-square test of homogeneity for categories), so it alarms when the distance reaches its
    threshold and the difference is also significant. The dataset verdict, `drifted_features`,
    prediction and target drift and `retrain_recommended` use the alarms."""

    @model_validator(mode="before")
    @classmethod
    def _max_rows_is_report_rows(cls, data: Any) -> Any:
        """Read the former `max_rows` as `report_rows`, so older parameter files still parse."""
        # max_rows sampled the verdicts too; they are cheap on all rows now, so only the report
        # still needs a cap. Both keys at once leave max_rows to be refused as an unknown key.
        if not isinstance(data, dict) or "max_rows" not in data or "report_rows" in data:
            return data
        import warnings

        warnings.warn(
            f"'drift.max_rows' in {DRIFT_FILE} is now 'drift.report_rows': it caps the rows the "
            "HTML report shows; the verdicts use all rows",
            FutureWarning,
            stacklevel=2,
        )
        renamed = {key: value for key, value in data.items() if key != "max_rows"}
        return {**renamed, "report_rows": data["max_rows"]}

    def check_consistency(self) -> None:
        """Every named method must be one of Evidently's stat tests (checked only when set)."""
        methods = [m for m in (self.num_method, self.cat_method) if m]
        methods += list(self.per_column_method.values())
        if methods:
            check_drift_methods(methods)


class RegistryParams(Block):
    """Which artifact is promoted, to which stage, on which metric and by what margin."""

    block_key = "registry"
    block_file = REGISTRY_FILE

    artifact: str
    """The model's name in the registry: its `artifacts:` entry in dvc.yaml (from the catalog's
    `metadata.dvc`)."""
    stage: str = "prod"
    """Stage the model is assigned to when it wins, e.g. `prod`."""
    metrics_file: str = "data/08_reporting/evaluation_metrics.json"
    """Metrics JSON, as committed in git, the challenger and the champion are compared on."""
    metric: str | None = None
    """Dotted path inside the metrics file, e.g. `model.roc_auc`; unset: the task's primary metric
    (cirrus/metrics.py)."""
    higher_is_better: bool | None = None
    """Whether a higher metric is better; unset: the metric's own direction (cirrus/metrics.py)."""
    min_improvement: float = Field(default=0.0, ge=0)
    """Promote only when the challenger beats the stage's current model by at least this, in the
    metric's units (a tie never promotes)."""

    def for_task(self, task: str | None) -> RegistryParams:
        """The block with its metric resolved: as declared, else the task's primary metric."""
        if self.metric is not None:
            return self
        from cirrus.metrics import PRIMARY_METRIC

        if task not in PRIMARY_METRIC:
            raise ConfigError(
                f"registry.metric is unset in {REGISTRY_FILE} and {self.metrics_file} names no "
                f"task ({task!r}); set registry.metric, e.g. model.roc_auc"
            )
        return self.model_copy(update={"metric": f"model.{PRIMARY_METRIC[task]}"})

    def metric_higher_is_better(self) -> bool:
        """The comparison direction: as declared, else the direction of the metric's name."""
        if self.higher_is_better is not None:
            return self.higher_is_better
        from cirrus.metrics import higher_is_better

        return higher_is_better(str(self.metric).rsplit(".", 1)[-1])


class MonitoringParams(Block):
    """Drift on real traffic: which logged rows form the current batch, and when to retrain."""

    block_key = "monitoring"
    block_file = MONITORING_FILE

    window_days: float = Field(gt=0)
    """The current batch: logged rows of the last N days, counted back from the newest row."""
    min_rows: int = Field(default=50, ge=1)
    """Fewer logged rows in the window: no verdict (an error naming them)."""
    max_primary_metric_drop: float = Field(default=0.05, ge=0)
    """With outcomes: recommend retraining when the live primary metric is worse than the held-out
    one by more than this."""


class DemoBatch(Strict):
    """One generated batch of the bundled demo data."""

    n_rows: int = Field(ge=1)
    """Rows generated."""
    start: str
    """First event time: times are drawn uniformly from `start` (inclusive) to `end`."""
    end: str
    """End of the event times (exclusive); after `start`."""
    covariate_shift: dict[str, float] = Field(default_factory=dict)
    """Column -> strength s: a numeric column is scaled by 1 + s (s > -1), a categorical one moves a
    share s (0 to 1) of its rows onto one level."""
    concept_drift: float = Field(default=0.0, ge=0, le=1)
    """Share of the features' signal replaced by noise, 0 to 1: 0 keeps the relation between
    features and outcome, 1 removes it."""


class DemoDataParams(Block):
    """The bundled synthetic data: a reference batch, a later drifted current batch, and new
    unlabelled rows to score."""

    block_key = "demo_data"
    block_file = DEMO_DATA_FILE

    seed: int
    """Seed of the generator: the same seed gives the same rows."""
    reference: DemoBatch
    """The reference batch: labelled rows for training and the held-out test."""
    current: DemoBatch
    """A later labelled batch, the current rows the drift pipeline compares."""
    incoming: DemoBatch = DemoBatch(n_rows=5000, start="2026-03-01", end="2026-03-08")
    """New rows to score (`raw_inference`): no outcome yet, so no target column."""


class ModelCardParams(Block):
    """What the people answerable for the model state on its card."""

    block_key = "model_card"
    block_file = MODEL_CARD_FILE

    name: str | None = None
    """The card's title; unset: the registry artifact's name, else the contract's name."""
    owner: str | None = None
    """Who answers for the model's decisions (required for promotion)."""
    contact: str | None = None
    """Where questions about the model go."""
    intended_use: str | None = None
    """What the model decides and for whom (required for promotion)."""
    out_of_scope_uses: list[str] = Field(default_factory=list)
    """Uses the model is not fit for."""
    limitations: list[str] = Field(default_factory=list)
    """Known limits of the model (required for promotion)."""
    risk_rating: Literal["low", "medium", "high"] | None = None
    """How much harm a wrong decision can do: low, medium or high (required for promotion)."""
    risk_rating_reason: str | None = None
    """Why the risk rating is what it is."""
    ethical_considerations: list[str] = Field(default_factory=list)
    """Ethical points a reviewer should weigh."""
    sensitive_attributes: list[str] = Field(default_factory=list)
    """Columns of the held-out rows whose groups the card compares (fairness slices)."""
    subject: str = "row"
    """What one prediction is about, in the card's sentences (e.g. `application`)."""
    flagged_as: str | None = None
    """What a positive prediction means, in words (e.g. `likely to default`)."""
    positive_outcome: str | None = None
    """What the positive class means, in words (e.g. `defaulted`)."""
    license: str = "other"
    """Hugging Face license id in the Markdown card's metadata."""
    tags: list[str] = Field(default_factory=list)
    """Hugging Face tags in the Markdown card's metadata."""

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unstated(cls, value: Any, info: Any) -> Any:
        """An empty string is unstated; an empty (null) list is an empty list."""
        if isinstance(value, str) and not value.strip():
            return None
        if value is None and cls.model_fields[info.field_name].default_factory is list:
            return []
        return value

    def missing_for_production(self) -> list[str]:
        """The fields promotion to production needs that the card leaves unstated."""
        return [name for name in REQUIRED_FOR_PRODUCTION if not getattr(self, name)]

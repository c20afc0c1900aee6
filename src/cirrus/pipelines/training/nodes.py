"""Training nodes: optional Optuna search, LightGBM with early stopping, metrics, importance."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
import pandas as pd

from cirrus.dask.dispatch import on_dask
from cirrus.feature_spec import FeatureSpec
from cirrus.metrics import LIGHTGBM_METRICS, higher_is_better
from cirrus.modeling import choose_threshold, labels, load_booster, model_matrix, objective_for
from cirrus.parameters import (
    AUTO,
    ROW_SCALED_LIGHTGBM,
    TRAINING_FILE,
    ConfigError,
    ThresholdRule,
    TrainingParams,
    lightgbm_aliases,
    row_scaled_name,
)
from cirrus.progress import Throttled
from cirrus.results import TrainingMetrics
from cirrus.splits import split_rows

# LightGBM and Optuna load in the nodes that use them: every `kedro run` registers every pipeline.
if TYPE_CHECKING:
    import lightgbm as lgb
    import optuna

logger = logging.getLogger(__name__)

# `auto` rules, scaled from the rows. On the default data (16,000 training rows, 12,800 fitting
# rows) they give the values the project used before `auto`: 0.2 and 50, the same model file.
# validation_fraction: 0.2, raised (in hundredths, up to 0.3) only as far as needed for the
# validation rows to hold 5 rows of every class, which early stopping and `threshold: auto`
# need; a larger share costs the fit more than it steadies early stopping (measured on 100-400
# generated rows).
VALIDATION_SHARE_RANGE = (0.2, 0.3)
MIN_VALIDATION_ROWS_PER_CLASS = 5
# min_data_in_leaf: a tenth of the fitting rows for classification, a twentieth for regression
# (a class leaf's hessian, p(1 - p) per row, is smaller, so it needs more rows), kept between 5
# and 50. On 100-400 generated rows each divisor did best for its own task.
LEAF_SHARE_DIVISOR = {"binary": 10, "multiclass": 10, "regression": 20}
MIN_DATA_IN_LEAF_RANGE = (5, 50)
LIGHTGBM_DEFAULT_MIN_DATA_IN_LEAF = 20


class ModelWithoutSplitError(ConfigError):
    """The trained model never splits: it predicts one constant for every row."""

    hint = "Lower the setting the message names in conf/base/parameters_training.yml, or add rows."


def auto_validation_fraction(rarest_class_rows: int | None = None) -> float:
    """The early-stopping share of the training rows (see VALIDATION_SHARE_RANGE).

    `rarest_class_rows`: training rows of the rarest class (None for regression).
    """
    low, high = VALIDATION_SHARE_RANGE
    if rarest_class_rows is None:
        return low
    needed = MIN_VALIDATION_ROWS_PER_CLASS / max(rarest_class_rows, 1)
    if needed <= low:
        return low
    return min(math.ceil(round(needed * 100, 6)) / 100, high)


def auto_min_data_in_leaf(n_fitting_rows: int, task: str) -> int:
    """The smallest leaf for `n_fitting_rows` rows of a task (see LEAF_SHARE_DIVISOR)."""
    low, high = MIN_DATA_IN_LEAF_RANGE
    return int(min(max(n_fitting_rows // LEAF_SHARE_DIVISOR[task], low), high))


AUTO_LIGHTGBM_RULES = {"min_data_in_leaf": auto_min_data_in_leaf}


def n_validation_rows(n_rows: int, fraction: float) -> int:
    """How many of `n_rows` the early-stopping split holds out (scikit-learn rounds up)."""
    return math.ceil(fraction * n_rows)


def resolve_row_scaled(
    train: pd.DataFrame, spec: FeatureSpec, settings: TrainingParams
) -> TrainingParams:
    """The block with every `auto` replaced by its value for these training rows."""
    rarest = None
    if settings.validation_fraction == AUTO and spec.task != "regression":
        rarest = int(train[spec.target].value_counts().min())
    return resolve_for_rows(len(train), rarest, spec, settings)


def resolve_for_rows(
    n_rows: int, rarest_class_rows: int | None, spec: FeatureSpec, settings: TrainingParams
) -> TrainingParams:
    """`resolve_row_scaled` from the training rows' count and the rarest class's row count."""
    fraction = settings.validation_fraction
    if fraction == AUTO:
        fraction = auto_validation_fraction(rarest_class_rows)
    n_fitting = n_rows - n_validation_rows(n_rows, float(fraction))
    lgbm_params = dict(settings.lgbm_params)
    for scaled in ROW_SCALED_LIGHTGBM:
        names = [name for name in lgbm_params if row_scaled_name(name) == scaled] or [scaled]
        for name in names:
            if lgbm_params.get(name, AUTO) == AUTO:  # left out means auto too
                lgbm_params[name] = AUTO_LIGHTGBM_RULES[scaled](n_fitting, spec.task)
    return settings.model_copy(
        update={"validation_fraction": float(fraction), "lgbm_params": lgbm_params}
    )


def _canonical(params: dict[str, Any]) -> dict[str, Any]:
    """LightGBM parameters under their canonical names (aliases resolved)."""
    aliases = lightgbm_aliases()
    return {aliases.get(name, name): value for name, value in params.items()}


def resolved_params(settings: TrainingParams, params: dict[str, Any]) -> dict[str, Any]:
    """The row-scaled settings the model was trained with, for training_metrics.json."""
    canonical = _canonical(params)
    return {
        **{name: canonical[name] for name in ROW_SCALED_LIGHTGBM},
        "validation_fraction": settings.validation_fraction,
    }


def lightgbm_params(
    spec: FeatureSpec, settings: TrainingParams, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Full LightGBM parameters: task objective, declared params, determinism and threads."""
    return {
        **objective_for(spec),
        **settings.lgbm_params,
        **(overrides or {}),
        "seed": settings.seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": settings.num_threads,
        "verbosity": -1,
    }


def validates_by_time(holdout_report: dict[str, Any] | None, spec: FeatureSpec) -> bool:
    """Whether early stopping validates on the latest training rows: when the hold-out is by time.

    The test rows then come after the training rows; validating on the latest training rows
    makes early stopping (and `threshold: auto`) judge the model as the test does, on rows later
    than the ones it fits, instead of on random rows that share their hours with the fit.
    """
    strategy = (holdout_report or {}).get("strategy")
    return strategy == "time" and spec.event_time_column is not None


def _latest_rows(
    train: pd.DataFrame, spec: FeatureSpec, fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The earlier rows and the latest `fraction` of them by event time; None when the latest
    rows miss a class of the training rows (early stopping needs every class to score)."""
    ordered = train.sort_values(str(spec.event_time_column), kind="stable")
    n_valid = n_validation_rows(len(ordered), fraction)
    fit_rows, valid_rows = ordered.iloc[:-n_valid], ordered.iloc[-n_valid:]
    classes = train[spec.target].nunique() if spec.task != "regression" else 0
    if valid_rows[spec.target].nunique() < classes:
        return None
    return fit_rows, valid_rows


def early_stopping_split(
    train: pd.DataFrame, spec: FeatureSpec, settings: TrainingParams, by_time: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carve the early-stopping validation rows out of the training rows.

    `by_time`: the latest rows validate (see `validates_by_time`), unless they miss a class;
    otherwise a seeded split, stratified for classification.
    """
    if by_time:
        latest = _latest_rows(train, spec, float(settings.validation_fraction))
        if latest is not None:
            return latest
        logger.warning(
            "The latest %.0f%% of the training rows miss a class of '%s': early stopping "
            "validates on a stratified random share instead",
            100 * float(settings.validation_fraction),
            spec.target,
        )
    stratify = train[spec.target] if spec.task != "regression" else None
    return split_rows(train, settings.validation_fraction, settings.seed, stratify)


def _dataset(frame: pd.DataFrame, spec: FeatureSpec, reference: lgb.Dataset | None = None):
    """A LightGBM dataset with the spec's categorical features."""
    import lightgbm as lgb

    return lgb.Dataset(
        model_matrix(frame, spec),
        label=labels(frame, spec),
        categorical_feature=spec.categorical_features or "auto",
        reference=reference,
        free_raw_data=False,
    )


def round_progress(
    report: Callable[[str], None], every_seconds: float | None = None
) -> Callable[[Any], None]:
    """A LightGBM callback reporting the round and the validation metrics, at most every N s."""
    throttled = Throttled(report, every_seconds)

    def message(env: Any) -> str:
        scores = ", ".join(
            f"{metric} {value:.5f}" for _, metric, value, _ in env.evaluation_result_list
        )
        return f"Training round {env.iteration + 1} of at most {env.end_iteration}: {scores}"

    return lambda env: throttled(lambda: message(env))


def trial_progress(report: Callable[[str], None], n_trials: int) -> Callable[..., None]:
    """An Optuna callback reporting each finished trial and the best value so far."""

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        best = f"{study.best_value:.5f}" if study.best_trials else "none yet"
        value = "failed" if trial.value is None else f"{trial.value:.5f}"
        report(f"Optuna trial {trial.number + 1} of at most {n_trials}: {value} (best {best})")

    return callback


def fit_with_early_stopping(
    train: pd.DataFrame,
    spec: FeatureSpec,
    settings: TrainingParams,
    params: dict[str, Any],
    by_time: bool = False,
) -> tuple[lgb.Booster, dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Train with early stopping on a validation split: the booster, its curve and the rows.

    Only the validation rows are evaluated each round (early stopping ignores the fitting rows
    anyway); the fitting rows' metrics are computed once, at the best iteration
    (`fitting_row_scores`).
    """

    fit_rows, valid_rows = early_stopping_split(train, spec, settings, by_time)
    fit_set = _dataset(fit_rows, spec)
    valid_set = _dataset(valid_rows, spec, reference=fit_set)
    booster, history = train_early_stopped(
        params, fit_set, valid_set, settings, round_progress(logger.info)
    )
    return booster, history, fit_rows, valid_rows


def train_early_stopped(
    params: dict[str, Any],
    fit_set: lgb.Dataset,
    valid_set: lgb.Dataset,
    settings: TrainingParams,
    *callbacks: Callable[[Any], None],
) -> tuple[lgb.Booster, dict[str, Any]]:
    """`lgb.train` stopped early on the validation set (every metric), and its metric curve."""
    import lightgbm as lgb

    history: dict[str, Any] = {}
    booster = lgb.train(
        params,
        fit_set,
        num_boost_round=settings.num_boost_round,
        valid_sets=[valid_set],
        valid_names=["valid"],
        callbacks=[
            lgb.early_stopping(settings.early_stopping_rounds, verbose=False),
            lgb.record_evaluation(history),
            *callbacks,
        ],
        # Keeps the rows' scores that LightGBM updated while it trained (see best_iteration_scores).
        keep_training_booster=True,
    )
    return booster, history


def best_iteration_scores(booster: lgb.Booster) -> tuple[np.ndarray, np.ndarray]:
    """The fitting and validation rows' scores at the best iteration, without predicting again.

    LightGBM keeps every training and validation row's score up to date as it adds trees.
    Rolling back the rounds after the best one leaves the scores of the model that is kept, as
    `predict(num_iteration=best_iteration)` would give them: a pass over 640,000 rows saved.
    """
    best = booster.best_iteration or booster.current_iteration()
    while booster.current_iteration() > best:
        booster.rollback_one_iter()
    captured: list[np.ndarray] = []

    def capture(scores: np.ndarray, _data: lgb.Dataset) -> list[Any]:
        captured.append(np.array(scores, copy=True))  # LightGBM reuses the buffer
        return []

    booster.eval_train(feval=capture)
    booster.eval_valid(feval=capture)
    fit_scores, valid_scores = captured
    return fit_scores, valid_scores


def _leaf_setting_source(
    settings: TrainingParams, tuned: dict[str, Any], name: str = "min_data_in_leaf"
) -> str:
    """Where the value of a row-scaled setting came from: tuning, auto or the YAML."""
    if any(row_scaled_name(key) == name for key in tuned):
        return "from training.tuning"
    declared = [v for k, v in settings.lgbm_params.items() if row_scaled_name(k) == name]
    return "declared" if declared and declared[0] != AUTO else "auto"


def check_has_split(
    booster: lgb.Booster,
    n_fitting_rows: int,
    params: dict[str, Any],
    source: str,
) -> None:
    """Refuse a model whose trees never split, naming the likely cause and the setting."""
    if booster.feature_importance("split", iteration=booster.best_iteration).sum() > 0:
        return
    canonical = _canonical(params)
    leaf = int(canonical.get("min_data_in_leaf", LIGHTGBM_DEFAULT_MIN_DATA_IN_LEAF))
    rows_per_tree = n_fitting_rows
    if canonical.get("bagging_freq", 0) > 0 and canonical.get("bagging_fraction", 1.0) < 1:
        rows_per_tree = int(n_fitting_rows * canonical["bagging_fraction"])
    key = "tuning.search_space" if source.endswith("tuning") else "lgbm_params"
    setting = f"training.{key}.min_data_in_leaf in {TRAINING_FILE}"
    head = (
        f"The model has no split (it predicts one constant for every row): {n_fitting_rows} "
        f"fitting rows with min_data_in_leaf={leaf} ({source})"
    )
    if 2 * leaf > rows_per_tree:
        bagged = (
            f", {rows_per_tree} per tree after bagging" if rows_per_tree < n_fitting_rows else ""
        )
        raise ModelWithoutSplitError(
            f"{head}{bagged}: a split needs two leaves of at least {leaf} rows each "
            f"({2 * leaf} rows); "
            f"lower {setting} or set it to auto (scaled from the fitting rows)"
        )
    raise ModelWithoutSplitError(
        f"{head}: no feature separates the rows within LightGBM's limits (min_data_in_leaf, "
        "min_gain_to_split, min_sum_hessian_in_leaf); the features may be constant or unrelated "
        f"to the target: check them (or lower {setting})"
    )


def threshold_candidates(
    valid_scores: np.ndarray, valid_rows: pd.DataFrame, spec: FeatureSpec
) -> dict[str, float] | None:
    """The binary decision threshold each rule picks on the early-stopping validation rows."""
    y = labels(valid_rows, spec)
    if len(np.unique(y)) < 2:
        return None
    return {rule: choose_threshold(rule, y, valid_scores) for rule in get_args(ThresholdRule)}


def fitting_row_scores(
    predicted: np.ndarray, fit_rows: pd.DataFrame, spec: FeatureSpec
) -> dict[str, float]:
    """LightGBM's training metrics on the fitting rows at the best iteration, computed once."""
    from sklearn import metrics as skm

    y = labels(fit_rows, spec)
    # The definitions LightGBM uses for these metric names (probabilities clipped at 1e-15).
    computed = {
        "auc": lambda: skm.roc_auc_score(y, predicted),
        "binary_logloss": lambda: skm.log_loss(y, np.clip(predicted, 1e-15, 1 - 1e-15)),
        "multi_logloss": lambda: skm.log_loss(
            y, np.clip(predicted, 1e-15, 1), labels=list(range(predicted.shape[1]))
        ),
        "rmse": lambda: math.sqrt(skm.mean_squared_error(y, predicted)),
        "l1": lambda: skm.mean_absolute_error(y, predicted),
    }
    return {f"train_{name}": float(computed[name]()) for name in LIGHTGBM_METRICS[spec.task]}


def _best_scores(history: dict[str, Any], best_iteration: int) -> dict[str, float]:
    """Metric values of each split at the best iteration."""
    index = max(best_iteration, 1) - 1
    return {
        f"{split}_{metric}": float(values[index])
        for split, metrics in history.items()
        for metric, values in metrics.items()
    }


@on_dask("cirrus.pipelines.training.on_dask:tune_hyperparameters")
def tune_hyperparameters(
    train: pd.DataFrame,
    spec: FeatureSpec,
    settings: TrainingParams,
    holdout_report: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Search the declared space with Optuna within the trial and time budget, if enabled."""
    if not settings.tuning.enabled:
        return {"enabled": False, "best_params": {}}
    import optuna

    by_time = validates_by_time(holdout_report, spec)

    space = settings.tuning.search_space
    settings = resolve_row_scaled(train, spec, settings)
    first_metric = objective_for(spec)["metric"][0]
    maximise = higher_is_better(first_metric)

    def objective(trial: optuna.Trial) -> float:
        overrides = {
            name: (
                trial.suggest_int(name, int(r.low), int(r.high), log=r.log)
                if r.kind == "int"
                else trial.suggest_float(name, r.low, r.high, log=r.log)
            )
            for name, r in space.items()
        }
        booster, history, _, _ = fit_with_early_stopping(
            train, spec, settings, lightgbm_params(spec, settings, overrides), by_time
        )
        return _best_scores(history, booster.best_iteration)[f"valid_{first_metric}"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if maximise else "minimize",
        sampler=optuna.samplers.TPESampler(seed=settings.seed),
    )
    study.optimize(
        objective,
        n_trials=settings.tuning.n_trials,
        timeout=settings.tuning.timeout_seconds,
        callbacks=[trial_progress(logger.info, settings.tuning.n_trials)],
    )
    logger.info(
        "Optuna: %d trials, best %s=%.5f", len(study.trials), first_metric, study.best_value
    )
    return {
        "enabled": True,
        "metric": f"valid_{first_metric}",
        "best_value": float(study.best_value),
        "n_trials": len(study.trials),
        "best_params": study.best_params,
    }


def _cross_validate(
    train: pd.DataFrame, spec: FeatureSpec, settings: TrainingParams, params: dict[str, Any]
) -> dict[str, Any]:
    """k-fold cross-validation of the final parameters on the training rows."""
    import lightgbm as lgb

    results = lgb.cv(
        params,
        _dataset(train, spec),
        num_boost_round=settings.num_boost_round,
        nfold=settings.cross_validation.folds,
        stratified=spec.task != "regression",
        seed=settings.seed,
        callbacks=[lgb.early_stopping(settings.early_stopping_rounds, verbose=False)],
    )
    return {
        key.replace("valid ", ""): float(values[-1])
        for key, values in results.items()
        if key.startswith("valid ")
    }


@on_dask("cirrus.pipelines.training.on_dask:train_model")
def train_model(
    train: pd.DataFrame,
    spec: FeatureSpec,
    settings: TrainingParams,
    tuning_result: dict[str, Any],
    holdout_report: dict[str, Any] | None = None,
) -> tuple[str, TrainingMetrics, pd.DataFrame]:
    """Train the LightGBM model; return it in native text format, its metrics and importance.

    `auto` settings are resolved from the training rows first; the values used are recorded
    in the metrics (`resolved_params`), and for a binary task so is the decision threshold
    each rule picks on the early-stopping validation rows (`thresholds`). After a time hold-out
    (`holdout_report`) the latest training rows validate (`validation_split: time`).
    """
    tuned = tuning_result.get("best_params") or {}
    source = _leaf_setting_source(settings, tuned)
    settings = resolve_row_scaled(train, spec, settings)
    params = lightgbm_params(spec, settings, tuned)
    by_time = validates_by_time(holdout_report, spec)
    booster, history, fit_rows, valid_rows = fit_with_early_stopping(
        train, spec, settings, params, by_time
    )
    check_has_split(booster, len(fit_rows), params, source)
    fit_scores, valid_scores = best_iteration_scores(booster)
    metrics: dict[str, Any] = {
        "task": spec.task,
        "best_iteration": int(booster.best_iteration),
        "n_training_rows": len(train),
        "n_features": booster.num_feature(),
        **fitting_row_scores(fit_scores, fit_rows, spec),
        **_best_scores(history, booster.best_iteration),
        "n_fitting_rows": len(fit_rows),
        "n_validation_rows": len(valid_rows),
        "validation_split": _validation_split_name(by_time, fit_rows, valid_rows, spec),
        "resolved_params": resolved_params(settings, params),
    }
    if spec.task == "binary":
        metrics["thresholds"] = threshold_candidates(valid_scores, valid_rows, spec)
    if settings.cross_validation.enabled:
        metrics["cross_validation"] = _cross_validate(train, spec, settings, params)
    model_text = booster.model_to_string(num_iteration=booster.best_iteration)
    # From the saved text, not the booster in memory: its gains are the ones anyone who loads
    # model.txt reads back (the text form rounds each split's gain).
    importance = feature_importance(load_booster(model_text))
    return model_text, TrainingMetrics.model_validate(metrics), importance


def _validation_split_name(
    by_time: bool, fit_rows: pd.DataFrame, valid_rows: pd.DataFrame, spec: FeatureSpec
) -> str:
    """How the early-stopping rows were chosen: `time` (the latest), `stratified` or `random`."""
    if by_time:
        column = str(spec.event_time_column)
        if valid_rows[column].min() >= fit_rows[column].max():
            return "time"
    return "random" if spec.task == "regression" else "stratified"


def feature_importance(booster: lgb.Booster) -> pd.DataFrame:
    """Gain and split importance per feature, highest gain first."""
    frame = pd.DataFrame(
        {
            "feature": booster.feature_name(),
            "gain": booster.feature_importance("gain"),
            "split": booster.feature_importance("split").astype(np.int64),
        }
    )
    total = frame["gain"].sum() or 1.0
    frame["gain_share"] = frame["gain"] / total
    return frame.sort_values(["gain", "feature"], ascending=[False, True]).reset_index(drop=True)

"""Training nodes: optional Optuna search, LightGBM with early stopping, metrics, importance."""

from __future__ import annotations

import logging
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from sklearn.model_selection import train_test_split

from cirrus.feature_spec import FeatureSpec
from cirrus.metrics import higher_is_better
from cirrus.modeling import labels, model_matrix, objective_for
from cirrus.parameters import TrainingParams

logger = logging.getLogger(__name__)


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


def _early_stopping_split(
    train: pd.DataFrame, spec: FeatureSpec, settings: TrainingParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carve the early-stopping validation rows out of the training rows."""
    stratify = train[spec.target] if spec.task != "regression" else None
    fit, valid = train_test_split(
        train,
        test_size=settings.validation_fraction,
        random_state=settings.seed,
        stratify=stratify,
    )
    return fit.sort_index(), valid.sort_index()


def _dataset(frame: pd.DataFrame, spec: FeatureSpec, reference: lgb.Dataset | None = None):
    """A LightGBM dataset with the spec's categorical features."""
    return lgb.Dataset(
        model_matrix(frame, spec),
        label=labels(frame, spec),
        categorical_feature=spec.categorical_features or "auto",
        reference=reference,
        free_raw_data=False,
    )


def _fit(
    train: pd.DataFrame, spec: FeatureSpec, settings: TrainingParams, params: dict[str, Any]
) -> tuple[lgb.Booster, dict[str, Any]]:
    """Train with early stopping on a validation split; return the booster and its curve."""
    fit_rows, valid_rows = _early_stopping_split(train, spec, settings)
    fit_set = _dataset(fit_rows, spec)
    valid_set = _dataset(valid_rows, spec, reference=fit_set)
    history: dict[str, Any] = {}
    booster = lgb.train(
        params,
        fit_set,
        num_boost_round=settings.num_boost_round,
        valid_sets=[fit_set, valid_set],
        valid_names=["train", "valid"],
        callbacks=[
            lgb.early_stopping(settings.early_stopping_rounds, verbose=False),
            lgb.record_evaluation(history),
        ],
    )
    return booster, history


def _best_scores(history: dict[str, Any], best_iteration: int) -> dict[str, float]:
    """Metric values of each split at the best iteration."""
    index = max(best_iteration, 1) - 1
    return {
        f"{split}_{metric}": float(values[index])
        for split, metrics in history.items()
        for metric, values in metrics.items()
    }


def tune_hyperparameters(
    train: pd.DataFrame, spec: FeatureSpec, settings: TrainingParams
) -> dict[str, Any]:
    """Search the declared space with Optuna within the trial and time budget, if enabled."""
    if not settings.tuning.enabled:
        return {"enabled": False, "best_params": {}}
    space = settings.tuning.search_space
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
        booster, history = _fit(train, spec, settings, lightgbm_params(spec, settings, overrides))
        return _best_scores(history, booster.best_iteration)[f"valid_{first_metric}"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if maximise else "minimize",
        sampler=optuna.samplers.TPESampler(seed=settings.seed),
    )
    study.optimize(
        objective, n_trials=settings.tuning.n_trials, timeout=settings.tuning.timeout_seconds
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


def train_model(
    train: pd.DataFrame,
    spec: FeatureSpec,
    settings: TrainingParams,
    tuning_result: dict[str, Any],
) -> tuple[str, dict[str, Any], pd.DataFrame]:
    """Train the LightGBM model; return it in native text format, its metrics and importance."""
    params = lightgbm_params(spec, settings, tuning_result.get("best_params"))
    booster, history = _fit(train, spec, settings, params)
    metrics: dict[str, Any] = {
        "task": spec.task,
        "best_iteration": int(booster.best_iteration),
        "n_training_rows": len(train),
        "n_features": booster.num_feature(),
        **_best_scores(history, booster.best_iteration),
    }
    if settings.cross_validation.enabled:
        metrics["cross_validation"] = _cross_validate(train, spec, settings, params)
    importance = feature_importance(booster)
    model_text = booster.model_to_string(num_iteration=booster.best_iteration)
    return model_text, metrics, importance


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

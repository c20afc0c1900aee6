"""Training on a Dask cluster with LightGBM's own `lightgbm.dask`.

`lightgbm.dask` has no early stopping (LightGBM issues 3712 and 6351: workers that stop apart
hang), so the rounds are trained in chunks of `early_stopping_rounds`, each continuing the
model so far (`init_model`). After each chunk the validation rows' loss at every new round is
computed on the cluster (the task's loss: binary or multiclass log loss, or squared error), and
training stops once `early_stopping_rounds` rounds pass without a lower one: the rule of
LightGBM's early stopping, judged on the loss (the pandas path also watches AUC for a binary
task). The model is saved at its best round, in LightGBM's text format, like the pandas path's.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import warnings
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from cirrus.dask.frames import hashed_fraction, map_rows, on_a_worker
from cirrus.errors import CirrusError
from cirrus.feature_spec import FeatureSpec
from cirrus.modeling import load_booster, model_matrix
from cirrus.parameters import TRAINING_FILE, ConfigError, TrainingParams
from cirrus.results import TrainingMetrics
from cirrus.runs.pause import pause_if

from .nodes import (
    _leaf_setting_source,
    check_has_split,
    feature_importance,
    fitting_row_scores,
    lightgbm_params,
    n_validation_rows,
    resolve_for_rows,
    resolved_params,
    threshold_candidates,
    validates_by_time,
)
from .nodes import tune_hyperparameters as tune_hyperparameters_pandas

logger = logging.getLogger(__name__)


class NotOnDaskError(ConfigError):
    """A training option the dask environment does not offer."""

    hint = f"Turn it off in {TRAINING_FILE} for `kedro run --env dask`, or run it on pandas."


def tune_hyperparameters(
    train: dd.DataFrame,
    spec: FeatureSpec,
    settings: TrainingParams,
    holdout_report: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """No search on the cluster: Optuna's trials would each train a distributed model."""
    if settings.tuning.enabled:
        raise NotOnDaskError(
            "training.tuning.enabled is true, but the dask environment does not run Optuna "
            "(each trial would train on the whole cluster); tune on a sample with the pandas "
            "path and declare the best values in training.lgbm_params."
        )
    return tune_hyperparameters_pandas.__wrapped__(train, spec, settings, holdout_report)


def _resolved(train: dd.DataFrame, spec: FeatureSpec, settings: TrainingParams) -> TrainingParams:
    """`resolve_row_scaled` from the row count and the rarest class's count."""
    n_rows = int(train.shape[0].compute())
    rarest = None
    if spec.task != "regression":
        rarest = int(train[spec.target].value_counts().min().compute())
    return resolve_for_rows(n_rows, rarest, spec, settings)


def _hashed_split(
    train: dd.DataFrame, spec: FeatureSpec, settings: TrainingParams
) -> tuple[dd.DataFrame, dd.DataFrame]:
    """A seeded share of the rows by a hash of each row's id (or whole row)."""
    salt = hashlib.sha256(f"cirrus-valid-{settings.seed}".encode()).hexdigest()[:16]
    columns = [spec.id_column] if spec.id_column else None
    fraction = float(settings.validation_fraction)
    held = train.map_partitions(
        lambda part: hashed_fraction(part, columns, salt) < fraction, meta=(None, "bool")
    )
    return train[~held], train[held]


def _latest_share(
    train: dd.DataFrame, spec: FeatureSpec, settings: TrainingParams
) -> tuple[dd.DataFrame, dd.DataFrame] | None:
    """The latest rows by event time as validation (`_latest_rows`); None when they miss a class."""
    column = str(spec.event_time_column)
    times = train[column].dropna()
    n_valid = n_validation_rows(int(times.shape[0].compute()), float(settings.validation_fraction))
    cut = on_a_worker(lambda t: t.nlargest(n_valid).min(), times)
    is_valid = train[column] >= cut
    fit_rows, valid_rows = train[~is_valid], train[is_valid]
    if spec.task != "regression":
        n_classes, n_valid_classes = dask.compute(
            train[spec.target].nunique(), valid_rows[spec.target].nunique()
        )
        if n_valid_classes < n_classes:
            return None
    return fit_rows, valid_rows


def _early_stopping_split(
    train: dd.DataFrame, spec: FeatureSpec, settings: TrainingParams, by_time: bool
) -> tuple[dd.DataFrame, dd.DataFrame, str]:
    """The fitting and validation rows, and how the validation rows were chosen."""
    if by_time:
        latest = _latest_share(train, spec, settings)
        if latest is not None:
            return *latest, "time"
        logger.warning(
            "The latest %.0f%% of the training rows miss a class of '%s': early stopping "
            "validates on a seeded random share instead",
            100 * float(settings.validation_fraction),
            spec.target,
        )
    return *_hashed_split(train, spec, settings), "random"


# Minutes a LightGBM worker waits on a silent peer before it gives up (LightGBM's default: 120).
NETWORK_TIME_OUT = 10


def _sklearn_params(params: dict[str, Any]) -> dict[str, Any]:
    """LightGBM parameters for the Dask estimators: threads are the workers' own, classes are
    counted from the labels."""
    kept = {k: v for k, v in params.items() if k not in ("num_threads", "num_class", "metric")}
    return {**kept, "time_out": NETWORK_TIME_OUT}


class WorkerLostError(CirrusError, RuntimeError):
    """A worker left the cluster while LightGBM trained on it."""

    hint = (
        "Run again (the previous outputs are unchanged); give the workers more memory in "
        "conf/dask/dask.yml if one was killed for using too much."
    )


def _workers(client: Any) -> set[str]:
    """The addresses of the cluster's workers now."""
    return set(client.scheduler_info(n_workers=-1)["workers"])


def fit_watched(model: Any, *args: Any, **kwargs: Any) -> None:
    """`model.fit(*args, **kwargs)`, failing at once if a worker leaves meanwhile: LightGBM's
    other workers would otherwise wait for it, and Dask would wait for them."""
    from distributed import get_client

    client = get_client()
    before = _workers(client)
    outcome: dict[str, BaseException | None] = {}

    def fit() -> None:
        try:
            model.fit(*args, **kwargs)
            outcome["error"] = None
        except BaseException as error:  # handed to the waiting thread
            outcome["error"] = error

    thread = threading.Thread(target=fit, name="lightgbm-dask-fit", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(timeout=0.5)
        lost = before - _workers(client)
        if thread.is_alive() and lost:
            raise WorkerLostError(
                f"Worker(s) {sorted(lost)} left the Dask cluster while LightGBM trained on them; "
                "nothing was published."
            )
    if outcome.get("error") is not None:
        raise outcome["error"]


def _estimator(spec: FeatureSpec) -> Any:
    """LightGBM's Dask estimator for the task."""
    import lightgbm.dask as lgb_dask

    if spec.task == "regression":
        return lgb_dask.DaskLGBMRegressor
    return lgb_dask.DaskLGBMClassifier


def _loss(raw: np.ndarray, y: np.ndarray, task: str) -> float:
    """The summed loss of raw scores: log loss (binary, multiclass) or squared error."""
    if task == "binary":
        p = np.clip(1.0 / (1.0 + np.exp(-raw)), 1e-15, 1 - 1e-15)
        return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).sum())
    if task == "multiclass":
        shifted = raw - raw.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return float(-np.clip(log_p[np.arange(len(y)), y.astype(int)], math.log(1e-15), 0).sum())
    return float(((raw - y) ** 2).sum())


def _round_losses(
    matrix: pd.DataFrame, y: pd.Series, model: str, start: int, stop: int, task: str
) -> np.ndarray:
    """A partition's summed loss after each round from `start` + 1 to `stop`."""
    booster = load_booster(model)
    values = np.asarray(y, dtype="float64")
    if len(values) == 0:
        return np.zeros(stop - start)
    raw = 0.0
    if start:
        raw = booster.predict(matrix, raw_score=True, num_iteration=start)
    losses = []
    for round_ in range(start, stop):
        raw = raw + booster.predict(matrix, raw_score=True, start_iteration=round_, num_iteration=1)
        losses.append(_loss(np.asarray(raw), values, task))
    return np.array(losses)


def _validation_losses(
    matrix: dd.DataFrame, y: dd.Series, model: str, start: int, stop: int, task: str
) -> np.ndarray:
    """The validation rows' mean loss after each round from `start` + 1 to `stop`."""
    parts = [
        dask.delayed(_round_losses)(m, t, model, start, stop, task)
        for m, t in zip(matrix.to_delayed(), y.to_delayed(), strict=True)
    ]
    sums = np.sum(dask.compute(*parts), axis=0)
    return sums / max(int(y.shape[0].compute()), 1)


LABEL = "__label__"  # the encoded target beside the model matrix, so both split alike


def _matrix_and_label(rows: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """A partition's model matrix with its encoded target as one more column."""
    return model_matrix(rows, spec).assign(**{LABEL: rows[spec.target].to_numpy("float64")})


def _workers_in_order(client: Any) -> list[str]:
    """The cluster's worker addresses, ordered by worker name (stable from run to run)."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return sorted(workers, key=lambda address: (str(workers[address].get("name")), address))


def _without_label(part: pd.DataFrame) -> pd.DataFrame:
    """A partition's model matrix."""
    return part.drop(columns=[LABEL])


def _label_of(part: pd.DataFrame) -> pd.Series:
    """A partition's encoded target."""
    return part[LABEL]


def placed(frame: dd.DataFrame) -> tuple[dd.DataFrame, dd.Series]:
    """The model matrix and target of `_matrix_and_label` rows, computed into the cluster's
    memory once for every chunk of rounds, partition i on worker i (modulo the workers, in name
    order) with both halves on the same worker: `lightgbm.dask` trains each worker on the rows
    it holds, so the rows are spread evenly and never move between chunks."""
    from distributed import get_client

    client = get_client()
    workers = _workers_in_order(client)
    matrix, label = [], []
    for i, part in enumerate(frame.to_delayed()):
        # A preference: if that worker dies, Dask computes the partition again elsewhere.
        where = {"workers": [workers[i % len(workers)]], "allow_other_workers": True}
        whole = client.compute(part, **where)
        matrix.append(client.submit(_without_label, whole, **where))
        label.append(client.submit(_label_of, whole, **where))
    meta = frame._meta
    return (
        dd.from_delayed(matrix, meta=_without_label(meta), verify_meta=False),
        dd.from_delayed(label, meta=_label_of(meta), verify_meta=False),
    )


def _fit_in_chunks(
    matrix: dd.DataFrame,
    y: dd.Series,
    valid_matrix: dd.DataFrame,
    valid_y: dd.Series,
    spec: FeatureSpec,
    settings: TrainingParams,
    params: dict[str, Any],
) -> tuple[Any, int]:
    """Train chunk by chunk until the validation loss stops improving: (booster, best round)."""
    estimator = _estimator(spec)
    chunk = max(int(settings.early_stopping_rounds), 1)
    booster, done, best, best_loss = None, 0, 0, math.inf
    while done < settings.num_boost_round:
        rounds = min(chunk, settings.num_boost_round - done)
        model = estimator(n_estimators=rounds, **_sklearn_params(params))
        with warnings.catch_warnings():
            # lightgbm.dask sets each worker's threads itself, and says so on every fit.
            warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
            fit_watched(
                model, matrix, y, init_model=booster, categorical_feature=spec.categorical_features
            )
        booster = model.to_local().booster_
        text = booster.model_to_string()
        losses = _validation_losses(valid_matrix, valid_y, text, done, done + rounds, spec.task)
        for offset, loss in enumerate(losses, start=1):
            if loss < best_loss:
                best, best_loss = done + offset, float(loss)
        done += rounds
        logger.info(
            "Training round %d of at most %d: validation loss %.5f (best %.5f at round %d)",
            done,
            settings.num_boost_round,
            float(losses[-1]),
            best_loss,
            best,
        )
        if done - best >= settings.early_stopping_rounds:
            break
        pause_if("round", str(done))
    booster.best_iteration = max(best, 1)
    return booster, max(best, 1)


def _scores(matrix: pd.DataFrame, model: str, best: int) -> pd.DataFrame:
    """A partition's model outputs at the best round, one column per output."""
    predicted = np.asarray(load_booster(model).predict(matrix, num_iteration=best))
    if predicted.ndim == 1:
        return pd.DataFrame({"s0": predicted})
    return pd.DataFrame({f"s{i}": predicted[:, i] for i in range(predicted.shape[1])})


def _row_metrics(scores: pd.DataFrame, rows: pd.DataFrame, spec: FeatureSpec) -> dict[str, Any]:
    """`fitting_row_scores` of concatenated scores (on a worker)."""
    values = scores.to_numpy()
    return fitting_row_scores(values[:, 0] if values.shape[1] == 1 else values, rows, spec)


def _thresholds(scores: pd.DataFrame, rows: pd.DataFrame, spec: FeatureSpec) -> Any:
    """`threshold_candidates` of concatenated validation scores (on a worker)."""
    return threshold_candidates(scores["s0"].to_numpy(), rows, spec)


def train_model(
    train: dd.DataFrame,
    spec: FeatureSpec,
    settings: TrainingParams,
    tuning_result: dict[str, Any],
    holdout_report: dict[str, Any] | None = None,
) -> tuple[str, TrainingMetrics, pd.DataFrame]:
    """`train_model` on the cluster: the same parameters, metrics and native text model."""
    if settings.cross_validation.enabled:
        raise NotOnDaskError(
            "training.cross_validation.enabled is true, but the dask environment does not "
            "cross-validate (each fold would train on the whole cluster)."
        )
    tuned = tuning_result.get("best_params") or {}
    source = _leaf_setting_source(settings, tuned)
    settings = _resolved(train, spec, settings)
    params = lightgbm_params(spec, settings, tuned)
    by_time = validates_by_time(holdout_report, spec)
    fit_rows, valid_rows, chosen = _early_stopping_split(train, spec, settings, by_time)
    matrix, y = placed(map_rows(fit_rows, _matrix_and_label, spec))
    valid_matrix, valid_y = placed(map_rows(valid_rows, _matrix_and_label, spec))
    booster, best = _fit_in_chunks(matrix, y, valid_matrix, valid_y, spec, settings, params)
    model_text = booster.model_to_string(num_iteration=best)
    n_fit, n_valid = dask.compute(y.shape[0], valid_y.shape[0])
    check_has_split(booster, int(n_fit), params, source)
    fit_scores, valid_scores = (
        map_rows(m, _scores, model_text, best) for m in (matrix, valid_matrix)
    )
    labelled = [rows[[spec.target]] for rows in (fit_rows, valid_rows)]
    train_scores = on_a_worker(_row_metrics, fit_scores, labelled[0], spec)
    valid_found = on_a_worker(_row_metrics, valid_scores, labelled[1], spec)
    validation_split = chosen if chosen == "time" else "random"
    metrics: dict[str, Any] = {
        "task": spec.task,
        "best_iteration": int(best),
        "n_training_rows": int(n_fit + n_valid),
        "n_features": booster.num_feature(),
        **train_scores,
        **{f"valid_{k.removeprefix('train_')}": v for k, v in valid_found.items()},
        "n_fitting_rows": int(n_fit),
        "n_validation_rows": int(n_valid),
        "validation_split": validation_split,
        "resolved_params": resolved_params(settings, params),
    }
    if spec.task == "binary":
        metrics["thresholds"] = on_a_worker(_thresholds, valid_scores, labelled[1], spec)
    importance = feature_importance(load_booster(model_text))
    return model_text, TrainingMetrics.model_validate(metrics), importance

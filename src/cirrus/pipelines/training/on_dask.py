"""Training on a Dask cluster with LightGBM's own `lightgbm.dask`, early stopping included.

`lightgbm.dask` leaves early stopping out (LightGBM issues 3712 and 6351): each worker judges
its own share of the validation rows, so workers can decide to stop at different rounds, and
the others then wait on them forever. Here every worker holds the same, whole validation set
beside its own share of the fitting rows, so each computes the same metrics on the same model
and all stop at the same round: LightGBM's own early stopping, on every metric the pandas path
watches. The model is saved at its best round in LightGBM's text format, like the pandas path's.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
import warnings
from typing import Any
from urllib.parse import urlparse

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from cirrus.dask.frames import hashed_share_rows, map_rows, on_a_worker, rows_before, rows_from
from cirrus.errors import CirrusError
from cirrus.feature_spec import FeatureSpec
from cirrus.modeling import load_booster, model_matrix
from cirrus.parameters import TRAINING_FILE, ConfigError, TrainingParams
from cirrus.results import TrainingMetrics
from cirrus.runs.pause import pause_if

from .nodes import (
    _best_scores,
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
    return (
        train.map_partitions(hashed_share_rows, columns, salt, fraction, False),
        train.map_partitions(hashed_share_rows, columns, salt, fraction, True),
    )


def _latest_share(
    train: dd.DataFrame, spec: FeatureSpec, settings: TrainingParams
) -> tuple[dd.DataFrame, dd.DataFrame] | None:
    """The latest rows by event time as validation (`_latest_rows`); None when they miss a class."""
    column = str(spec.event_time_column)
    times = train[column].dropna()
    n_valid = n_validation_rows(int(times.shape[0].compute()), float(settings.validation_fraction))
    cut = on_a_worker(lambda t: t.nlargest(n_valid).min(), times)
    fit_rows = train.map_partitions(rows_before, column, cut)
    valid_rows = train.map_partitions(rows_from, column, cut)
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


def _sklearn_params(params: dict[str, Any], settings: TrainingParams) -> dict[str, Any]:
    """LightGBM parameters for the Dask estimators: the rounds and early stopping of the pandas
    path's `lgb.train`; threads are the workers' own, classes counted from the labels."""
    kept = {k: v for k, v in params.items() if k not in ("num_threads", "num_class")}
    return {
        **kept,
        "n_estimators": settings.num_boost_round,
        "early_stopping_round": settings.early_stopping_rounds,
        "time_out": NETWORK_TIME_OUT,
    }


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


LABEL = "__label__"  # the encoded target beside the model matrix, so both split alike


def _matrix_and_label(rows: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """A partition's model matrix, its numbers as float32 (half the memory on every worker;
    LightGBM bins them all the same), with its encoded target as one more column."""
    matrix = model_matrix(rows, spec)
    wide = [c for c in matrix.columns if matrix[c].dtype == "float64"]
    matrix = matrix.astype(dict.fromkeys(wide, "float32"))
    return matrix.assign(**{LABEL: rows[spec.target].to_numpy("float64")})


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


def _joined(parts: list[pd.DataFrame], with_label: bool) -> pd.DataFrame | pd.Series:
    """Partitions as one: the model matrix, or the label alone."""
    whole = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return whole.drop(columns=[LABEL]) if with_label is False else whole[LABEL]


def placed(
    frame: dd.DataFrame, workers: list[str], whole_on_each: bool = False
) -> tuple[dd.DataFrame, dd.Series, list[str]]:
    """The model matrix and label of `_matrix_and_label` rows, computed into the workers'
    memory as one partition per worker (partitions i, i + n, ... on worker i of `workers`;
    empty ones left out), and the workers that hold rows. `whole_on_each`: every row on every
    worker (the validation set each worker judges).

    `lightgbm.dask` gives each worker's partitions, and the validation partition paired with
    each, to that worker: one training partition and one whole validation set per worker."""
    from distributed import get_client, wait

    client = get_client()
    computed = [
        client.compute(part, workers=[workers[i % len(workers)]], allow_other_workers=True)
        for i, part in enumerate(frame.to_delayed())
    ]
    sizes = client.gather([client.submit(len, part) for part in computed])
    kept = [(i, part) for i, (part, size) in enumerate(zip(computed, sizes, strict=True)) if size]
    matrices, labels, holders = [], [], []
    for j, worker in enumerate(workers):
        mine = [part for i, part in kept if whole_on_each or i % len(workers) == j]
        if not mine:
            continue
        # A preference: if that worker dies, Dask computes the partition again elsewhere.
        where = {"workers": [worker], "allow_other_workers": True}
        matrices.append(client.submit(_joined, mine, False, **where))
        labels.append(client.submit(_joined, mine, True, **where))
        holders.append(worker)
    # In memory before LightGBM looks for them: it trains each worker on the parts Dask reports
    # there, and parts still being computed would be reported wherever their task ends up.
    wait([*matrices, *labels])
    meta = frame._meta
    return (
        dd.from_delayed(matrices, meta=_joined([meta], False), verify_meta=False),
        dd.from_delayed(labels, meta=_joined([meta], True), verify_meta=False),
        holders,
    )


def _free_port() -> int:
    """A TCP port free on this machine now (for LightGBM's network)."""
    with socket.socket() as probe:
        probe.bind(("", 0))
        return int(probe.getsockname()[1])


def _machines(workers: list[str]) -> str:
    """LightGBM's `machines`, one free port per worker, in the workers' name order: each worker's
    rank is its place in this list, so the same workers train the same trees from run to run
    (left to `lightgbm.dask`, the ranks follow the order Dask reports the data in)."""
    from distributed import get_client

    ports = get_client().run(_free_port, workers=workers)
    return ",".join(f"{urlparse(w).hostname}:{ports[w]}" for w in workers)


def _fit(
    matrix: dd.DataFrame,
    y: dd.Series,
    valid_matrix: dd.DataFrame,
    valid_y: dd.Series,
    spec: FeatureSpec,
    settings: TrainingParams,
    params: dict[str, Any],
    workers: list[str],
) -> tuple[Any, dict[str, Any]]:
    """Train with early stopping on the validation rows: the booster and its metric history."""
    model = _estimator(spec)(**_sklearn_params(params, settings), machines=_machines(workers))
    pause_if("fit", "lightgbm")
    with warnings.catch_warnings():
        # lightgbm.dask sets each worker's threads itself, and says so on every fit.
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        fit_watched(
            model,
            matrix,
            y,
            eval_X=(valid_matrix,),
            eval_y=(valid_y,),
            eval_names=["valid"],
            categorical_feature=spec.categorical_features,
        )
    local = model.to_local()
    booster = local.booster_
    booster.best_iteration = local.best_iteration_ or booster.current_iteration()
    logger.info(
        "Trained %d round(s) on the cluster; the best is round %d",
        booster.current_iteration(),
        booster.best_iteration,
    )
    return booster, local.evals_result_


def _scores(matrix: pd.DataFrame, model: str, best: int) -> pd.DataFrame:
    """A partition's model outputs at the best round, one column per output."""
    if len(matrix) == 0:
        return pd.DataFrame({"s0": np.empty(0)})
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
    from distributed import get_client

    workers = _workers_in_order(get_client())
    matrix, y, holders = placed(map_rows(fit_rows, _matrix_and_label, spec), workers)
    valid_matrix, valid_y, _ = placed(map_rows(valid_rows, _matrix_and_label, spec), holders, True)
    booster, history = _fit(matrix, y, valid_matrix, valid_y, spec, settings, params, holders)
    best = booster.best_iteration
    model_text = booster.model_to_string(num_iteration=best)
    n_fit, n_valid = dask.compute(y.shape[0], valid_y.partitions[0].shape[0])
    check_has_split(booster, int(n_fit), params, source)
    fit_scores = map_rows(matrix, _scores, model_text, best)
    valid_scores = map_rows(valid_matrix.partitions[0], _scores, model_text, best)
    # The labels beside the scores, in the placed rows' order (not the tables').
    fit_labels = y.to_frame(name=spec.target)
    valid_labels = valid_y.partitions[0].to_frame(name=spec.target)
    train_scores = on_a_worker(_row_metrics, fit_scores, fit_labels, spec)
    validation_split = chosen if chosen == "time" else "random"
    metrics: dict[str, Any] = {
        "task": spec.task,
        "best_iteration": int(best),
        "n_training_rows": int(n_fit + n_valid),
        "n_features": booster.num_feature(),
        **train_scores,
        **_best_scores(history, best),
        "n_fitting_rows": int(n_fit),
        "n_validation_rows": int(n_valid),
        "validation_split": validation_split,
        "resolved_params": resolved_params(settings, params),
    }
    if spec.task == "binary":
        metrics["thresholds"] = on_a_worker(_thresholds, valid_scores, valid_labels, spec)
    importance = feature_importance(load_booster(model_text))
    return model_text, TrainingMetrics.model_validate(metrics), importance

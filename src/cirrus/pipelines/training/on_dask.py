"""Training on a Dask cluster with LightGBM's own distributed training, early stopping included.

Each worker runs the pandas path's `lgb.train` on the fitting rows it holds, joined to the
others by LightGBM's network (`machines`, data-parallel trees). `lightgbm.dask` would do the
same, but leaves early stopping out (LightGBM issues 3712 and 6351): each worker judges its own
share of the validation rows, so workers can decide to stop at different rounds, and the others
then wait on them forever. Here every worker holds the same, whole validation set beside its own
fitting rows, so each computes the same metrics on the same model and all stop at the same
round: LightGBM's own early stopping, on every metric the pandas path watches. As on the pandas
path, the fitting and validation rows' scores at the best round are the ones LightGBM kept while
it trained (`best_iteration_scores`), not predicted again. The model is saved at its best round
in LightGBM's text format, like the pandas path's.
"""

from __future__ import annotations

import hashlib
import logging
import socket
from typing import Any
from urllib.parse import urlparse

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from cirrus.dask.cluster import workers_now
from cirrus.dask.frames import hashed_share_rows, map_rows, on_a_worker, rows_before, rows_from
from cirrus.errors import CirrusError
from cirrus.feature_spec import FeatureSpec
from cirrus.modeling import labels, load_booster, model_matrix
from cirrus.parameters import TRAINING_FILE, ConfigError, TrainingParams
from cirrus.results import TrainingMetrics
from cirrus.runs.pause import pause_if

from .nodes import (
    _best_scores,
    _leaf_setting_source,
    best_iteration_scores,
    check_has_split,
    feature_importance,
    fitting_row_scores,
    lightgbm_params,
    n_validation_rows,
    resolve_for_rows,
    resolved_params,
    threshold_candidates,
    train_early_stopped,
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


def latest_cut(times: pd.Series, n_valid: int) -> Any:
    """The earliest of the `n_valid` latest times: `times.nlargest(n_valid).min()` by a partial
    sort of the times' integers (pandas' `nlargest` holds about 260 bytes a row for times, which
    at 24M rows is more than a worker's memory)."""
    values = times.array.asi8 if hasattr(times.array, "asi8") else times.to_numpy()
    k = len(values) - n_valid
    return times.iloc[int(np.argpartition(values, k)[k])]


def _latest_share(
    train: dd.DataFrame, spec: FeatureSpec, settings: TrainingParams
) -> tuple[dd.DataFrame, dd.DataFrame] | None:
    """The latest rows by event time as validation (`_latest_rows`); None when they miss a class."""
    column = str(spec.event_time_column)
    times = train[column].dropna()
    n_valid = n_validation_rows(int(times.shape[0].compute()), float(settings.validation_fraction))
    cut = on_a_worker(latest_cut, times, n_valid)
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


class WorkerLostError(CirrusError, RuntimeError):
    """A worker left the cluster while LightGBM trained on it."""

    hint = (
        "Run again (the previous outputs are unchanged); give the workers more memory in "
        "conf/dask/dask.yml if one was killed for using too much."
    )


def _workers(client: Any) -> set[str]:
    """The addresses of the cluster's workers now."""
    return set(workers_now(client))


def wait_watched(client: Any, futures: list[Any]) -> None:
    """Wait for the futures, failing at once if a worker leaves meanwhile: LightGBM's other
    workers would otherwise wait for it, and Dask would wait for them. A task's own error is
    raised as it is."""
    from distributed import wait

    before = _workers(client)
    while True:
        try:
            wait(futures, timeout=0.5)
            break
        except TimeoutError:
            lost = before - _workers(client)
            if lost:
                client.cancel(futures)
                raise WorkerLostError(
                    f"Worker(s) {sorted(lost)} left the Dask cluster while LightGBM trained on "
                    "them; nothing was published."
                ) from None
    for future in futures:
        if future.status == "error":
            future.result()


LABEL = "__label__"  # the encoded target beside the model matrix, so both split alike


def _matrix_and_label(rows: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """A partition's model matrix, its numbers as float32 (half the memory on every worker;
    LightGBM bins them all the same), with its encoded target as one more column."""
    matrix = model_matrix(rows, spec)
    wide = [c for c in matrix.columns if matrix[c].dtype == "float64"]
    matrix = matrix.astype(dict.fromkeys(wide, "float32"))
    return matrix.assign(**{LABEL: labels(rows, spec)})


def _workers_in_order(client: Any) -> list[str]:
    """The cluster's worker addresses, ordered by worker name (stable from run to run)."""
    workers = workers_now(client)
    return sorted(workers, key=lambda address: (str(workers[address].get("name")), address))


def _joined(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Partitions as one frame."""
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def placed(
    frame: dd.DataFrame, workers: list[str], whole_on_each: bool = False
) -> tuple[list[Any], list[str]]:
    """The `_matrix_and_label` rows of `frame` computed into the workers' memory, as one frame
    per worker (partitions i, i + n, ... on worker i of `workers`; empty ones left out), and the
    workers that hold rows. `whole_on_each`: every row on every worker (the validation set each
    worker judges)."""
    from distributed import get_client, wait

    client = get_client()
    computed = [
        client.compute(part, workers=[workers[i % len(workers)]], allow_other_workers=True)
        for i, part in enumerate(frame.to_delayed())
    ]
    sizes = client.gather([client.submit(len, part) for part in computed])
    kept = [(i, part) for i, (part, size) in enumerate(zip(computed, sizes, strict=True)) if size]
    joined, holders = [], []
    for j, worker in enumerate(workers):
        mine = [part for i, part in kept if whole_on_each or i % len(workers) == j]
        if not mine:
            continue
        # A preference: if that worker dies, Dask computes the partition again elsewhere.
        joined.append(client.submit(_joined, mine, workers=[worker], allow_other_workers=True))
        holders.append(worker)
    wait(joined)
    return joined, holders


def _free_port() -> int:
    """A TCP port free on this machine now (for LightGBM's network)."""
    with socket.socket() as probe:
        probe.bind(("", 0))
        return int(probe.getsockname()[1])


def _network(workers: list[str]) -> dict[str, dict[str, Any]]:
    """Each worker's LightGBM network parameters, one free port per worker, `machines` in the
    workers' name order: each worker's rank is its place in that list, so the same workers
    train the same trees from run to run."""
    from distributed import get_client

    ports = get_client().run(_free_port, workers=workers)
    machines = ",".join(f"{urlparse(w).hostname}:{ports[w]}" for w in workers)
    shared = {"machines": machines, "num_machines": len(workers), "time_out": NETWORK_TIME_OUT}
    return {w: {**shared, "local_listen_port": ports[w], "tree_learner": "data"} for w in workers}


def _worker_threads() -> int:
    """The threads of the Dask worker this runs on."""
    from distributed import get_worker

    return int(get_worker().state.nthreads)


def _train_here(
    fit: pd.DataFrame,
    valid: pd.DataFrame,
    params: dict[str, Any],
    spec: FeatureSpec,
    settings: TrainingParams,
    first: bool,
) -> dict[str, Any]:
    """LightGBM's own `lgb.train` on this worker's fitting rows, in step with the other workers
    (the network of `params`), with the pandas path's early stopping on the whole validation
    set. The fitting rows' scores at the best round as LightGBM kept them; from the first
    worker also the model, its curve and the validation scores."""
    import lightgbm as lgb

    fit_set = lgb.Dataset(
        fit.drop(columns=[LABEL]),
        label=fit[LABEL].to_numpy(),
        categorical_feature=spec.categorical_features or "auto",
    )
    valid_set = lgb.Dataset(
        valid.drop(columns=[LABEL]), label=valid[LABEL].to_numpy(), reference=fit_set
    )
    threads = {"num_threads": _worker_threads()}
    booster, history = train_early_stopped({**params, **threads}, fit_set, valid_set, settings)
    try:
        rounds = booster.current_iteration()
        best = booster.best_iteration or rounds
        booster.best_iteration = best
        fit_scores, valid_scores = best_iteration_scores(booster)
    finally:
        booster.free_network()
    result: dict[str, Any] = {"fit_scores": fit_scores, "fit_labels": fit[LABEL].to_numpy()}
    if first:
        result.update(
            model=booster.model_to_string(num_iteration=best),
            history=history,
            best=best,
            rounds=rounds,
            valid_scores=valid_scores,
            valid_labels=valid[LABEL].to_numpy(),
        )
    return result


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """The first worker's result without its score arrays."""
    return {k: v for k, v in result.items() if k not in ("fit_scores", "fit_labels")} | {
        "n_valid": len(result["valid_labels"])
    }


def _fit_metrics(results: list[dict[str, Any]], spec: FeatureSpec) -> dict[str, Any]:
    """`fitting_row_scores` of every worker's fitting rows (on a worker), and their count."""
    scores = np.concatenate([r["fit_scores"] for r in results])
    rows = pd.DataFrame({spec.target: np.concatenate([r["fit_labels"] for r in results])})
    return {"n_fit": len(rows), **fitting_row_scores(scores, rows, spec)}


def _thresholds(result: dict[str, Any], spec: FeatureSpec) -> Any:
    """`threshold_candidates` of the first worker's validation scores (on a worker)."""
    rows = pd.DataFrame({spec.target: result["valid_labels"]})
    return threshold_candidates(result["valid_scores"], rows, spec)


def _fit(
    fits: list[Any],
    valids: list[Any],
    workers: list[str],
    spec: FeatureSpec,
    settings: TrainingParams,
    params: dict[str, Any],
) -> list[Any]:
    """Train on every worker at once (`_train_here`); the futures of their results."""
    from distributed import get_client

    client = get_client()
    network = _network(workers)
    pause_if("fit", "lightgbm")
    kept = {k: v for k, v in params.items() if k != "num_threads"}
    futures = [
        client.submit(
            _train_here,
            fit,
            valid,
            {**kept, **network[worker]},
            spec,
            settings,
            rank == 0,
            workers=[worker],
            allow_other_workers=False,
            pure=False,  # each call is one member of a training that runs once
        )
        for rank, (worker, fit, valid) in enumerate(zip(workers, fits, valids, strict=True))
    ]
    wait_watched(client, futures)
    return futures


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

    client = get_client()
    fits, holders = placed(map_rows(fit_rows, _matrix_and_label, spec), _workers_in_order(client))
    valids, _ = placed(map_rows(valid_rows, _matrix_and_label, spec), holders, True)
    results = _fit(fits, valids, holders, spec, settings, params)
    first = client.submit(_summary, results[0]).result()
    fitted = client.submit(_fit_metrics, results, spec).result()
    best = int(first["best"])
    logger.info("Trained %d round(s) on the cluster; the best is round %d", first["rounds"], best)
    model_text = first["model"]
    booster = load_booster(model_text)
    n_fit, n_valid = int(fitted.pop("n_fit")), int(first["n_valid"])
    check_has_split(booster, n_fit, params, source)
    metrics: dict[str, Any] = {
        "task": spec.task,
        "best_iteration": best,
        "n_training_rows": n_fit + n_valid,
        "n_features": booster.num_feature(),
        **fitted,
        **_best_scores(first["history"], best),
        "n_fitting_rows": n_fit,
        "n_validation_rows": n_valid,
        "validation_split": chosen,
        "resolved_params": resolved_params(settings, params),
    }
    if spec.task == "binary":
        metrics["thresholds"] = client.submit(_thresholds, results[0], spec).result()
    importance = feature_importance(booster)
    return model_text, TrainingMetrics.model_validate(metrics), importance

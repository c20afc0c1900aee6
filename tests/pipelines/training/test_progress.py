"""Progress of long trainings: LightGBM rounds and Optuna trials, reported at a bounded rate."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import optuna

from cirrus.pipelines.training.nodes import round_progress, trial_progress


def small_datasets() -> tuple[lgb.Dataset, lgb.Dataset]:
    """A learnable binary problem, fitting and validation parts."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + rng.normal(scale=0.5, size=400) > 0).astype(float)
    fit = lgb.Dataset(x[:300], y[:300])
    return fit, lgb.Dataset(x[300:], y[300:], reference=fit)


def train_reporting(every_seconds: float) -> list[str]:
    """Five rounds with the progress callback; the messages it reported."""
    messages: list[str] = []
    fit, valid = small_datasets()
    params = {"objective": "binary", "metric": ["auc"], "verbose": -1, "num_threads": 1}
    lgb.train(
        params,
        fit,
        5,
        valid_sets=[valid],
        callbacks=[round_progress(messages.append, every_seconds)],
    )
    return messages


def test_each_round_is_reported_when_the_interval_allows_it() -> None:
    messages = train_reporting(every_seconds=0)

    assert len(messages) == 5
    assert messages[-1].startswith("Training round 5 of at most 5: auc 0.")


def test_a_short_training_reports_nothing() -> None:
    assert train_reporting(every_seconds=3600) == []


def test_each_trial_is_reported_with_the_best_value_so_far() -> None:
    messages: list[str] = []
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=1))
    values = iter([3.0, 1.0, 2.0])
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    study.optimize(
        lambda trial: next(values), n_trials=3, callbacks=[trial_progress(messages.append, 3)]
    )

    assert messages == [
        "Optuna trial 1 of at most 3: 3.00000 (best 3.00000)",
        "Optuna trial 2 of at most 3: 1.00000 (best 1.00000)",
        "Optuna trial 3 of at most 3: 2.00000 (best 1.00000)",
    ]

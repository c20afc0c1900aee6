"""Shared builders and fixtures of the unit tests, imported explicitly by the test modules.

Test modules re-export the fixtures they use (``contract_params = fx.contract_params``) so that
pytest finds them without relying on a conftest. Expensive objects (generated frames, fitted
specs, trained models) are built once per session by cached builders, and every public builder
returns a fresh copy, so a test can modify what it gets without affecting another test.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from cirrus.contract import DatasetContract
from cirrus.demo_data.generator import generate_applications
from cirrus.feature_spec import FeatureSpec, build_features
from cirrus.parameters import (
    DriftParams,
    EvaluationParams,
    FeatureParams,
    HoldoutParams,
    IngestionSplit,
    TrainingParams,
)
from cirrus.pipelines.features.nodes import fit_feature_spec, split_holdout
from cirrus.pipelines.training.nodes import train_model
from cirrus.results import (
    DriftSummary,
    EvaluationMetrics,
    HeldOut,
    ModelBundle,
    QualityGate,
    TrainingMetrics,
)
from cirrus.scoring import build_bundle
from cirrus.validation import treat_pii, validate_raw

REPO = Path(__file__).resolve().parents[1]
CONF_BASE = REPO / "conf" / "base"
START, END = "2025-01-01", "2026-01-01"
N_ROWS = 2500
SEED = 7
SALT = "unit-test-salt"
TASK_TARGETS = {"binary": "defaulted", "multiclass": "risk_grade", "regression": "interest_rate"}


# --- parameters -------------------------------------------------------------------------------


@cache
def _parameter_file(name: str) -> dict[str, Any]:
    return yaml.safe_load((CONF_BASE / f"parameters_{name}.yml").read_text())


def load_parameters(name: str) -> dict[str, Any]:
    """A deep copy of `conf/base/parameters_<name>.yml`, parsed with yaml.safe_load."""
    return copy.deepcopy(_parameter_file(name))


def contract_for(task: str = "binary") -> dict[str, Any]:
    """The committed contract, switched to another task and target of the generated data."""
    contract = load_parameters("contract")["contract"]
    if task == "binary":
        return contract
    target = TASK_TARGETS[task]
    contract["task"] = task
    contract["target"] = target
    contract.pop("positive_class", None)
    contract["columns"].pop("defaulted", None)
    for kind in ("numeric", "categorical", "datetime"):
        contract["features"][kind] = [c for c in contract["features"][kind] if c != target]
    return contract


def contract(task: str = "binary") -> DatasetContract:
    """The committed contract of a task (see contract_for), parsed."""
    return DatasetContract.parse(contract_for(task))


def fast_training(**overrides: Any) -> TrainingParams:
    """The fast training block (see fast_training_params), parsed."""
    return TrainingParams.parse(fast_training_params(**overrides))


def holdout(strategy: str = "stratified") -> HoldoutParams:
    """The committed `holdout` block, parsed, with a stratified split by default.

    The committed `auto` splits the generated rows by time; the unit tables keep the stratified
    split their expected numbers were measured on (the time hold-out has tests of its own).
    """
    return HoldoutParams.parse({**load_parameters("features")["holdout"], "strategy": strategy})


def features() -> FeatureParams:
    """The committed `features` block, parsed."""
    return FeatureParams.parse(load_parameters("features")["features"])


def evaluation(**overrides: Any) -> EvaluationParams:
    """The committed `evaluation` block, parsed, with top-level keys overridden."""
    return EvaluationParams.parse({**load_parameters("evaluation")["evaluation"], **overrides})


def drift(**overrides: Any) -> DriftParams:
    """The committed `drift` block, parsed, with top-level keys overridden."""
    return DriftParams.parse({**load_parameters("drift")["drift"], **overrides})


def split(**overrides: Any) -> IngestionSplit:
    """The committed `ingestion.split` block, parsed, with keys overridden."""
    return IngestionSplit.parse({**load_parameters("ingestion")["ingestion"]["split"], **overrides})


def fast_training_params(**overrides: Any) -> dict[str, Any]:
    """The committed training block, with fewer rounds and one thread to keep tests fast."""
    params = load_parameters("training")["training"]
    params.update(num_boost_round=60, early_stopping_rounds=10, num_threads=1)
    params["lgbm_params"].update(learning_rate=0.15, num_leaves=15)
    params.update(overrides)
    return params


def minimal_spec(
    task: str, classes: list[str] | None, target: str, numeric: list[str] | None = None
) -> FeatureSpec:
    """A hand-made spec with no transforms: the task, target, classes and numeric columns."""
    columns = list(numeric or [])
    return FeatureSpec(
        id_column="application_id",
        event_time_column="application_time",
        task=task,
        target=target,
        classes=classes,
        numeric=columns,
        log=[],
        ratios={},
        date_parts={},
        missing_indicators=[],
        categories={},
        rare_levels={},
        categorical_features=[],
        feature_columns=columns,
        drift_columns=columns,
        n_training_rows=0,
    )


# --- data builders (cached; public wrappers return copies) -----------------------------------


@cache
def _applications(n_rows: int, seed: int, start: str, end: str, id_offset: int) -> pd.DataFrame:
    return generate_applications(n_rows, seed=seed, start=start, end=end, id_offset=id_offset)


def applications(
    n_rows: int = N_ROWS, seed: int = SEED, start: str = START, end: str = END, id_offset: int = 0
) -> pd.DataFrame:
    """A generated raw applications frame (a copy of a cached one)."""
    return _applications(n_rows, seed, start, end, id_offset).copy()


@cache
def _validated(task: str) -> pd.DataFrame:
    return validate_raw(applications(), contract(task), source="raw_reference")


def validated_reference(task: str = "binary") -> pd.DataFrame:
    """Generated rows validated and typed against the contract of a task."""
    return _validated(task).copy()


@cache
def _holdout(task: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    reference = treat_pii(validated_reference(task), contract(task), SALT)
    return split_holdout(reference, contract(task), holdout())


def holdout_rows(task: str = "binary") -> tuple[pd.DataFrame, pd.DataFrame]:
    """PII-treated reference rows split into training and held-out test rows."""
    train, test = _holdout(task)
    return train.copy(), test.copy()


@cache
def _feature_tables(task: str) -> tuple[FeatureSpec, pd.DataFrame, pd.DataFrame]:
    train, test = holdout_rows(task)
    spec = fit_feature_spec(train, contract(task), features())
    return spec, build_features(train, spec), build_features(test, spec)


def feature_tables(task: str = "binary") -> tuple[FeatureSpec, pd.DataFrame, pd.DataFrame]:
    """The fitted (frozen) feature spec with the training and test model-input tables of a task."""
    spec, train, test = _feature_tables(task)
    return spec, train.copy(), test.copy()


@cache
def _trained(task: str) -> tuple[str, TrainingMetrics, pd.DataFrame]:
    spec, train, _ = feature_tables(task)
    return train_model(train, spec, fast_training(), {"enabled": False, "best_params": {}})


def trained_model(task: str = "binary") -> tuple[str, TrainingMetrics, pd.DataFrame]:
    """LightGBM model text, training metrics and importance of a task (trained once)."""
    model, metrics, importance = _trained(task)
    return model, copy.deepcopy(metrics), importance.copy()


def model_bundle(
    task: str = "binary",
    settings: EvaluationParams | None = None,
    held_out: HeldOut | None = None,
) -> ModelBundle:
    """The model bundle of a task's unit-test model (its spec, contract and threshold in effect
    under `settings`, the committed evaluation block by default), as evaluation assembles it."""
    model, metrics, _ = trained_model(task)
    spec, _, test = feature_tables(task)
    held_out = held_out or HeldOut(n_test_rows=len(test), metrics={})
    return build_bundle(model, spec, contract(task), settings or evaluation(), metrics, held_out)


# --- typed results, written by hand -----------------------------------------------------------


def drift_summary(**fields: Any) -> DriftSummary:
    """A drift summary with nothing drifted (and no retraining), `fields` set over it."""
    quiet = {
        "dataset_drift": False,
        "drifted_feature_share": 0.0,
        "drift_share_threshold": 0.5,
        "drifted_features": [],
        "prediction_drift": False,
        "target_drift": False,
        "alarm": {"correction": "holm", "family_error_rate": 0.05, "family_size": 16},
        "raw_drifted_features": [],
        "missing_shift": [],
        "out_of_range": {},
        "columns": {},
        "unseen_categories": {},
        "retrain_recommended": False,
        "retrain_reasons": [],
    }
    return DriftSummary.model_validate({**quiet, **fields})


def evaluation_metrics(**fields: Any) -> EvaluationMetrics:
    """Binary held-out metrics at threshold 0.5 with no interval, hold-out report or current
    batch, `fields` set over them."""
    plain = {
        "task": "binary",
        "n_test_rows": 500,
        "threshold": 0.5,
        "threshold_rule": None,
        "model": {"roc_auc": 0.8},
        "baseline": {"roc_auc": 0.5},
        "beats_baseline": {"roc_auc": True},
        "intervals": None,
        "holdout": None,
        "current_batch": None,
        "warnings": [],
    }
    return EvaluationMetrics.model_validate({**plain, **fields})


def quality_gate(**fields: Any) -> QualityGate:
    """A passed binary gate judged on the estimates with no rule, `fields` set over it."""
    passed = {
        "passed": True,
        "inconclusive": [],
        "task": "binary",
        "n_test_rows": 500,
        "judged_on": "estimate",
        "rules": {},
        "checks": {},
    }
    return QualityGate.model_validate({**passed, **fields})


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def contract_params() -> dict[str, Any]:
    """A deep copy of the committed `contract` block."""
    return contract_for("binary")


@pytest.fixture
def split_params() -> dict[str, Any]:
    """A deep copy of the committed `ingestion.split` block."""
    return load_parameters("ingestion")["ingestion"]["split"]


@pytest.fixture
def holdout_params() -> dict[str, Any]:
    """A deep copy of the committed `holdout` block."""
    return load_parameters("features")["holdout"]


@pytest.fixture
def feature_params() -> dict[str, Any]:
    """A deep copy of the committed `features` block."""
    return load_parameters("features")["features"]


@pytest.fixture
def training_params() -> dict[str, Any]:
    """The committed `training` block, made fast (see fast_training_params)."""
    return fast_training_params()


@pytest.fixture
def evaluation_params() -> dict[str, Any]:
    """A deep copy of the committed `evaluation` block."""
    return load_parameters("evaluation")["evaluation"]


@pytest.fixture
def drift_params() -> dict[str, Any]:
    """A deep copy of the committed `drift` block."""
    return load_parameters("drift")["drift"]


@pytest.fixture
def raw_applications() -> pd.DataFrame:
    """A realistic raw reference frame of 2500 generated applications."""
    return applications()

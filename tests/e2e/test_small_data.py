"""End to end: a 150-row table runs with the committed defaults, which scale from its rows."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb

from cirrus.pipelines.training.nodes import auto_min_data_in_leaf
from tests.conftest import base_parameters, kedro, make_project, override, write_raw

# 150 generated applications (120 training rows after the hold-out), and a later batch.
SMALL_TABLE = {
    "seed": 7,
    "reference": {"n_rows": 150, "start": "2025-01-01", "end": "2026-01-01"},
    "current": {"n_rows": 100, "start": "2026-01-01", "end": "2026-03-01"},
}


def _read(project: Path, path: str) -> dict:
    return json.loads((project / "data" / path).read_text())


def test_small_table_runs_with_the_defaults_and_beats_the_baseline(tmp_path: Path) -> None:
    # Arrange: first the value the project used before `auto`, then the committed defaults
    project = make_project(tmp_path / "small")
    write_raw(project, SMALL_TABLE)
    training = base_parameters("training")
    training["training"]["lgbm_params"]["min_data_in_leaf"] = 50
    override(project, "training", training)

    # Act
    fixed = kedro(project, "run")
    model_after_refusal = (project / "data/06_models/model.txt").exists()
    (project / "conf/local/parameters_training.yml").unlink()
    defaults = kedro(project, "run")

    # Assert: min_data_in_leaf 50 on so few rows is refused with its cause, and writes no model
    flat = " ".join((fixed.stdout + fixed.stderr).split())
    assert fixed.returncode != 0
    assert "The model has no split" in flat
    assert "fitting rows with min_data_in_leaf=50 (declared)" in flat
    assert (
        "lower training.lgbm_params.min_data_in_leaf in conf/base/parameters_training.yml" in flat
    )
    assert "Traceback" not in flat
    assert model_after_refusal is False
    # Assert: the defaults train a model that splits and beats the baseline, gate passed
    assert defaults.returncode == 0, defaults.stdout[-3000:] + defaults.stderr[-3000:]
    trained = _read(project, "06_models/training_metrics.json")
    resolved = trained["resolved_params"]
    assert trained["n_training_rows"] == 120
    assert resolved["min_data_in_leaf"] == auto_min_data_in_leaf(
        trained["n_fitting_rows"], "binary"
    )
    assert resolved["min_data_in_leaf"] < 50
    assert 0.2 <= resolved["validation_fraction"] <= 0.3
    booster = lgb.Booster(model_file=str(project / "data/06_models/model.txt"))
    assert booster.feature_importance("split").sum() > 0
    metrics = _read(project, "08_reporting/evaluation_metrics.json")
    assert metrics["beats_baseline"]["roc_auc"] is True
    assert metrics["model"]["roc_auc"] > metrics["baseline"]["roc_auc"] + 0.1
    assert metrics["beats_baseline"]["log_loss"] is True
    assert _read(project, "08_reporting/quality_gate.json")["passed"] is True

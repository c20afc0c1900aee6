"""End to end: the real `kedro run` CLI in a temporary copy of the project on small data."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import pandas as pd
import plotly.io as pio
import pytest

from tests.conftest import base_parameters, kedro, make_project, override, write_raw

# The binary task's figures: no regression panel (predicted vs actual, residuals) is drawn.
PLOTS = ("calibration", "confusion_matrix", "feature_importance", "pr_curve", "roc_curve")


def test_full_run_leaves_model_metrics_plots_and_drift_report(trained_project: Path) -> None:
    data = trained_project / "data"

    booster = lgb.Booster(model_file=str(data / "06_models/model.txt"))
    metrics = json.loads((data / "08_reporting/evaluation_metrics.json").read_text())
    summary = json.loads((data / "08_reporting/drift_summary.json").read_text())
    html = (data / "08_reporting/drift_report.html").read_text()

    assert booster.num_trees() > 0
    assert metrics["model"]["roc_auc"] > metrics["baseline"]["roc_auc"] + 0.1
    assert metrics["beats_baseline"]["log_loss"] is True
    assert sorted(p.stem for p in (data / "08_reporting/plots").iterdir()) == list(PLOTS)
    for plot in PLOTS:
        figure = pio.from_json((data / f"08_reporting/plots/{plot}.json").read_text())
        assert figure.layout.title.text and figure.data
    assert html.lstrip().lower().startswith("<html") or "<!doctype html" in html[:200].lower()
    assert isinstance(summary["retrain_recommended"], bool)
    # The small demo shifts annual_income by -40%: Evidently must flag it, and not the age.
    assert summary["columns"]["annual_income"]["drifted"] is True
    assert summary["columns"]["age"]["drifted"] is False


def test_pii_is_dropped_or_hashed_in_every_persisted_table(trained_project: Path) -> None:
    raw = pd.read_csv(trained_project / "data/01_raw/credit_applications.csv")
    reference = pd.read_parquet(trained_project / "data/03_primary/reference.parquet")

    assert "applicant_name" not in reference.columns
    assert not set(raw["email"]) & set(reference["email"])
    assert reference["email"].str.fullmatch(r"[0-9a-f]{64}").all()


def test_same_data_and_params_give_the_same_model_file(trained_project: Path, tmp_path: Path):
    again = make_project(tmp_path / "again")
    for name in ("credit_applications.csv", "credit_applications_current.csv"):
        (again / "data/01_raw" / name).write_bytes(
            (trained_project / "data/01_raw" / name).read_bytes()
        )

    result = kedro(again, "run", "--pipelines", "ingestion,features,training")

    assert result.returncode == 0, result.stderr[-2000:]
    first = (trained_project / "data/06_models/model.txt").read_bytes()
    assert (again / "data/06_models/model.txt").read_bytes() == first


@pytest.mark.parametrize(
    ("task", "target", "metric", "baseline_better"),
    [
        ("multiclass", "risk_grade", "macro_f1", False),
        ("regression", "interest_rate", "rmse", True),
    ],
)
def test_other_tasks_run_by_yaml_alone_and_beat_the_baseline(
    tmp_path: Path, task: str, target: str, metric: str, baseline_better: bool
) -> None:
    project = make_project(tmp_path / task)
    write_raw(project)
    parameters = base_parameters("contract")
    contract = parameters["contract"]
    contract.update(task=task, target=target)
    contract.pop("positive_class")
    contract["columns"].pop("defaulted")  # undeclared columns are dropped at ingestion
    override(project, "contract", parameters)

    result = kedro(project, "run")

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    metrics = json.loads((project / "data/08_reporting/evaluation_metrics.json").read_text())
    assert metrics["task"] == task
    model, baseline = metrics["model"][metric], metrics["baseline"][metric]
    assert (model < baseline) if baseline_better else (model > baseline)
    spec = json.loads((project / "data/04_feature/feature_spec.json").read_text())
    assert spec["task"] == task and target not in spec["feature_columns"]


def test_default_raw_files_are_absent_until_demo_data_runs(tmp_path: Path) -> None:
    project = make_project(tmp_path / "fresh")

    missing = kedro(project, "run", "--pipelines", "ingestion")
    generated = kedro(project, "run", "--pipelines", "demo_data")

    message = " ".join((missing.stdout + missing.stderr).split())
    assert missing.returncode != 0
    assert "Input data missing for this run: 'raw_current'" in message
    assert "credit_applications.csv): run `kedro run --pipelines demo_data` first" in message
    assert generated.returncode == 0, generated.stderr[-2000:]
    rows = pd.read_csv(project / "data/01_raw/credit_applications.csv")
    assert len(rows) == base_parameters("demo_data")["demo_data"]["reference"]["n_rows"]

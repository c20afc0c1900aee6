"""The production loop through the real CLIs: batch scoring, the prediction log, monitoring.

One trained project copy for the module; each test starts from an empty prediction log.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cirrus.cli import RETRAIN_EXIT_CODE
from tests.conftest import kedro, output_digests
from tests.e2e.test_pii import Grep

OUTCOMES = ["defaulted", "risk_grade", "interest_rate"]
PII = ["applicant_name", "email"]
LOG = Path("data/07_model_output/prediction_log")


@pytest.fixture(scope="module")
def project(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the trained project this module may write to."""
    target = tmp_path_factory.mktemp("loop") / "project"
    shutil.copytree(trained_project, target)
    return target


def start_from_an_empty_log(project: Path) -> None:
    """Remove the prediction log and any outcomes."""
    shutil.rmtree(project / LOG, ignore_errors=True)
    (project / "data/01_raw/outcomes.csv").unlink(missing_ok=True)


def raw_rows(project: Path, name: str, ids: list[str] | None = None) -> pd.DataFrame:
    """Rows of a raw CSV as text (so they are written back byte for byte), optionally by id."""
    frame = pd.read_csv(project / "data/01_raw" / name, dtype=str, keep_default_na=False)
    return frame if ids is None else frame[frame["application_id"].isin(ids)]


def score(project: Path, rows: pd.DataFrame) -> None:
    """Write rows (their outcomes removed) as raw_inference and run batch scoring."""
    rows.drop(columns=OUTCOMES).to_csv(
        project / "data/01_raw/credit_applications_new.csv", index=False
    )
    result = kedro(project, "run", "--pipelines", "inference")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def monitor(project: Path) -> tuple[int, dict]:
    """Run `kedro cirrus monitor`; its exit code and the summary it wrote."""
    result = kedro(project, "cirrus", "monitor")
    assert result.returncode in (0, RETRAIN_EXIT_CODE), (
        result.stdout[-3000:] + result.stderr[-3000:]
    )
    summary = json.loads((project / "data/08_reporting/monitoring/summary.json").read_text())
    # One verdict line, the summary's sentence: it leads with retraining, as the exit code does
    assert f"Verdict: {summary['verdict']}" in result.stdout.splitlines()
    retrain = result.returncode == RETRAIN_EXIT_CODE
    lead = "Retraining recommended (" if retrain else "No retraining needed."
    assert summary["verdict"].startswith(lead), summary["verdict"]
    return result.returncode, summary


def held_out_ids(project: Path) -> list[str]:
    """The ids of the rows the evaluation held out."""
    return pd.read_parquet(project / "data/03_primary/test_rows.parquet")["application_id"].tolist()


def test_batch_scores_of_held_out_rows_equal_the_evaluation_and_hold_no_raw_pii(
    project: Path,
) -> None:
    start_from_an_empty_log(project)
    rows = raw_rows(project, "credit_applications.csv", held_out_ids(project))

    score(project, rows)

    scored = pd.read_parquet(project / "data/07_model_output/scored.parquet")
    evaluated = pd.read_parquet(project / "data/07_model_output/test_predictions.parquet")
    by_id = evaluated.set_index("application_id")["score"]
    np.testing.assert_array_equal(
        scored["score"].to_numpy(), by_id.loc[scored["application_id"]].to_numpy()
    )
    logged = pd.read_parquet(project / LOG)
    assert len(logged) == len(rows) == len(scored)
    assert sorted(logged["row_id"]) == sorted(rows["application_id"])
    grep = Grep(sorted(set(rows[PII].to_numpy().ravel())), project.parent)
    written = [p for p in (project / "data").rglob("*") if p.is_file() and "01_raw" not in p.parts]
    assert grep.hits((project / "data/01_raw/credit_applications_new.csv").read_bytes())
    assert grep.hits_in_files(written) == {}


def test_monitor_passes_on_traffic_like_the_reference_and_scores_outcomes(project: Path) -> None:
    start_from_an_empty_log(project)
    rows = raw_rows(project, "credit_applications.csv", held_out_ids(project))
    score(project, rows)

    code, summary = monitor(project)

    assert code == 0, summary
    assert summary["drifted_features"] == [] and not summary["prediction_drift"]
    assert summary["window"]["rows"] == len(rows) and summary["live_metric"]["live"] is None

    # Outcomes arrive later, by id: the live metric of these rows is their held-out metric.
    rows[["application_id", "defaulted"]].to_csv(project / "data/01_raw/outcomes.csv", index=False)
    code, summary = monitor(project)

    assert code == 0, summary
    assert summary["window"]["rows_with_outcomes"] == len(rows)
    assert summary["target_drift"] is False
    live = summary["live_metric"]
    assert live["live"] == pytest.approx(live["held_out"], rel=1e-12)


def test_monitor_exits_3_on_drifted_traffic(project: Path) -> None:
    start_from_an_empty_log(project)
    score(project, raw_rows(project, "credit_applications_current.csv"))

    code, summary = monitor(project)

    assert code == RETRAIN_EXIT_CODE
    assert "annual_income" in summary["drifted_features"]
    assert summary["retrain_reasons"]


def test_bad_rows_to_score_name_the_column_and_change_nothing(project: Path) -> None:
    start_from_an_empty_log(project)
    score(project, raw_rows(project, "credit_applications.csv", held_out_ids(project)))
    before = output_digests(project)
    bad = raw_rows(project, "credit_applications.csv").head(50).drop(columns=OUTCOMES)
    bad.drop(columns=["credit_score"]).to_csv(
        project / "data/01_raw/credit_applications_new.csv", index=False
    )

    result = kedro(project, "run", "--pipelines", "inference")

    assert result.returncode != 0
    assert "raw_inference" in result.stderr and "credit_score" in result.stderr
    assert output_digests(project) == before


def test_scoring_the_same_rows_again_logs_them_once(project: Path) -> None:
    # Arrange
    start_from_an_empty_log(project)
    rows = raw_rows(project, "credit_applications_current.csv").head(40)
    score(project, rows)
    first = logged(project)

    # Act
    score(project, rows)
    again = logged(project)
    changed = rows.copy()
    changed.loc[changed.index[0], "loan_amount"] = "12345"
    score(project, changed)
    after_change = logged(project)

    # Assert
    assert len(first) == 40 and first["request_id"].nunique() == 1
    assert len(again) == 40  # the same input, the same model: not appended twice
    assert len(after_change) == 80 and after_change["request_id"].nunique() == 2


def logged(project: Path) -> pd.DataFrame:
    """Every row of the project's prediction log."""
    files = sorted((project / LOG).rglob("*.parquet"))
    return pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)

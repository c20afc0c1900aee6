"""End to end: init-contract on a file whose times end in `Z` (UTC), then `kedro run` with no
edit. The old code wrote `current_from: '... +00:00'` and the split failed after validation with
`TypeError: Cannot compare tz-naive and tz-aware datetime-like objects`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from tests import shapes
from tests.conftest import kedro, make_project


def _hourly_binary_in_utc(n_rows: int = 1500) -> pd.DataFrame:
    """Hourly rows with ISO times ending in Z and a binary target (high demand)."""
    frame = shapes.hourly_regression(n_rows=n_rows)
    times = pd.to_datetime(frame["timestamp"])
    frame["timestamp"] = times.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    demand = frame.pop("demand")
    frame["busy"] = np.where(demand > demand.quantile(0.7), "yes", "no")
    return frame


def test_init_contract_on_a_z_suffixed_file_then_kedro_run_works(tmp_path: Path):
    # Arrange
    project = make_project(tmp_path / "utc")
    _hourly_binary_in_utc().to_csv(project / "data/01_raw/hours.csv", index=False)

    # Act
    init = kedro(
        project, "cirrus", "init-contract", "data/01_raw/hours.csv", "--target", "busy", "--force"
    )
    run = kedro(project, "run")

    # Assert
    assert init.returncode == 0, init.stdout[-3000:] + init.stderr[-3000:]
    conf = project / "conf/base"
    contract = yaml.safe_load((conf / "parameters_contract.yml").read_text())["contract"]
    split = yaml.safe_load((conf / "parameters_ingestion.yml").read_text())["ingestion"]["split"]
    evaluation = yaml.safe_load((conf / "parameters_evaluation.yml").read_text())["evaluation"]
    holdout = yaml.safe_load((conf / "parameters_features.yml").read_text())["holdout"]
    assert contract["time_zone"] == "UTC" and contract["event_time_column"] == "timestamp"
    assert "+" not in split["current_from"]
    assert evaluation["threshold"] == "auto" and holdout["strategy"] == "time"
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    reporting = project / "data/08_reporting"
    report = json.loads((reporting / "ingestion_report.json").read_text())
    assert report["reference_rows"] + report["current_rows"] == 1500
    assert 0.19 <= report["current_rows"] / 1500 <= 0.21
    assert json.loads((reporting / "quality_gate.json").read_text())["passed"] is True

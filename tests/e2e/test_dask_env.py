"""`kedro run --env dask` against `kedro run` on the same generated data: the same validated
rows, split, hold-out and feature spec, the same drift verdicts, metrics within a stated
tolerance; the small artefacts it writes serve the pandas path's inference unchanged; and a
worker killed in training leaves the previous outputs or a complete new set.

Each run starts a LocalCluster of two worker processes (1 GiB each, no dashboard).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest
import yaml

from tests.conftest import kedro, make_project, output_digests, write_raw

SMALL_CLUSTER = {
    "dask": {
        "local_cluster": {
            "n_workers": 2,
            "threads_per_worker": 1,
            "memory_limit": "1GiB",
            "dashboard_address": None,
        }
    }
}
# The large tables: a Parquet file on the pandas path, a folder of parts on the Dask path.
TABLES = {
    "validated_reference": "02_intermediate/validated_reference",
    "validated_current": "02_intermediate/validated_current",
    "reference_table": "03_primary/reference",
    "current_table": "03_primary/current",
    "train_rows": "03_primary/train_rows",
    "test_rows": "03_primary/test_rows",
    "test_features": "05_model_input/test",
}
SAME_JSON = (
    "04_feature/feature_spec.json",
    "04_feature/unseen_categories.json",
    "08_reporting/holdout.json",
    "08_reporting/ingestion_report.json",
)
# Two LightGBM models trained on the same rows, one on one process and one on two workers with
# chunked early stopping (see cirrus.pipelines.training.on_dask), differ a little: on these
# 4,160 training rows, held-out ROC AUC within 0.02 (the 10M-row benchmark's goal is 0.003).
AUC_TOLERANCE = 0.02


def use_small_cluster(project: Path) -> None:
    """A cluster that leaves room for the rest of the suite on two cores."""
    (project / "conf" / "dask" / "dask.yml").write_text(yaml.safe_dump(SMALL_CLUSTER))


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One project run on pandas, then on Dask: both runs' tables and reports."""
    project = make_project(tmp_path_factory.mktemp("dask") / "project")
    write_raw(project)
    use_small_cluster(project)
    data = project / "data"

    on_pandas = kedro(project, "run")
    assert on_pandas.returncode == 0, on_pandas.stderr[-3000:]
    pandas_side = {
        "tables": {n: pd.read_parquet(data / f"{p}.parquet") for n, p in TABLES.items()},
        "json": {n: json.loads((data / n).read_text()) for n in SAME_JSON},
        "evaluation": json.loads((data / "08_reporting/evaluation_metrics.json").read_text()),
        "drift": json.loads((data / "08_reporting/drift_summary.json").read_text()),
    }
    on_dask = kedro(project, "run", "--env", "dask")
    assert on_dask.returncode == 0, on_dask.stderr[-3000:]
    dask_side = {
        "tables": {n: pd.read_parquet(data / f"{p}.parts") for n, p in TABLES.items()},
        "json": {n: json.loads((data / n).read_text()) for n in SAME_JSON},
        "evaluation": json.loads((data / "08_reporting/evaluation_metrics.json").read_text()),
        "drift": json.loads((data / "08_reporting/drift_summary.json").read_text()),
    }
    return {
        "project": project,
        "pandas": pandas_side,
        "dask": dask_side,
        "log": on_dask.stdout + on_dask.stderr,
    }


def _as_set(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in id order, whatever order the partitions hold them in."""
    return frame.sort_values("application_id").reset_index(drop=True)


@pytest.mark.parametrize("table", list(TABLES))
def test_same_rows(both_runs: dict[str, Any], table: str) -> None:
    expected = _as_set(both_runs["pandas"]["tables"][table])
    found = _as_set(both_runs["dask"]["tables"][table])

    assert len(found) == len(expected) > 0
    pd.testing.assert_frame_equal(found, expected, check_categorical=False)


@pytest.mark.parametrize("name", SAME_JSON)
def test_same_spec_and_reports(both_runs: dict[str, Any], name: str) -> None:
    assert both_runs["dask"]["json"][name] == both_runs["pandas"]["json"][name]


def test_same_drift_verdicts(both_runs: dict[str, Any]) -> None:
    expected, found = both_runs["pandas"]["drift"], both_runs["dask"]["drift"]

    assert found["drifted_features"] == expected["drifted_features"]
    assert found["dataset_drift"] == expected["dataset_drift"]
    assert found["target_drift"] == expected["target_drift"]
    for column, verdict in expected["columns"].items():
        if column == "prediction":
            continue  # the two models' own outputs; compared through the metrics below
        # Holm's correction ranks every column's p-value, the prediction's too: the adjusted
        # p-values move with the model, the verdicts must not.
        same = {k: v for k, v in verdict.items() if k != "adjusted_p_value"}
        assert {k: found["columns"][column][k] for k in same} == same, column


def test_metrics_within_tolerance(both_runs: dict[str, Any]) -> None:
    expected = both_runs["pandas"]["evaluation"]["model"]["roc_auc"]
    found = both_runs["dask"]["evaluation"]["model"]["roc_auc"]

    assert abs(found - expected) <= AUC_TOLERANCE, (found, expected)


def test_the_run_says_where_the_cluster_is(both_runs: dict[str, Any]) -> None:
    log = both_runs["log"]

    assert "Dask: a local cluster of 2 worker(s), 1 thread(s) and 1GiB each." in log
    assert "Stage training" in log and "round(s) on the cluster; the best is round" in log


def test_pandas_inference_scores_with_the_dask_model(both_runs: dict[str, Any]) -> None:
    project = both_runs["project"]

    result = kedro(project, "run", "--pipelines", "inference")

    assert result.returncode == 0, result.stderr[-3000:]
    scored = project / "data" / "07_model_output" / "scored.parquet"
    assert len(pd.read_parquet(scored)) == 800


def _worker_processes(run: subprocess.Popen) -> list[psutil.Process]:
    """The Dask worker processes a `kedro run` started (its spawned children)."""
    children = psutil.Process(run.pid).children(recursive=True)
    return [c for c in children if "spawn_main" in " ".join(c.cmdline())]


def test_a_worker_killed_in_training(both_runs: dict[str, Any], tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(both_runs["project"], project)
    before = output_digests(project)
    marker = tmp_path / "paused"
    env = {
        **os.environ,
        "CIRRUS_PAUSE_AT": "fit:lightgbm",
        "CIRRUS_PAUSE_FILE": str(marker),
        "KEDRO_DISABLE_TELEMETRY": "true",
    }
    kedro_bin = Path(sys.executable).with_name("kedro")
    run = subprocess.Popen(
        [str(kedro_bin), "run", "--env", "dask"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert run.poll() is None, run.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "the run never reached its LightGBM fit"
            time.sleep(0.2)
        workers = _worker_processes(run)
        assert len(workers) == 2
        marker.unlink()  # training goes on, and a worker dies under it
        time.sleep(0.3)
        os.kill(workers[0].pid, signal.SIGKILL)
        output, _ = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.kill()
    after = output_digests(project)
    if run.returncode == 0:  # Dask moved the work to the other worker: a complete new set
        assert set(after) >= set(before), sorted(set(before) - set(after))
        assert after != before
    else:  # the run failed: every output is the previous run's
        assert after == before, output[-3000:]
        assert "nothing was published" in output or "no output was changed" in output
    assert not list((project / "data" / ".cirrus" / "staging").glob("*/*"))


def test_a_multiclass_table_without_time(tmp_path: Path) -> None:
    """Another shape by YAML alone: three classes, no event-time column (seeded hash hold-out
    and early-stopping split, a multiclass model on the cluster)."""
    project = make_project(tmp_path / "project")
    write_raw(project)
    use_small_cluster(project)
    parameters = yaml.safe_load((project / "conf/base/parameters_contract.yml").read_text())
    contract = parameters["contract"]
    contract.update(task="multiclass", target="risk_grade", event_time_column=None)
    contract["features"]["datetime"] = []
    contract.pop("positive_class")
    contract["columns"].pop("defaulted")
    (project / "conf/dask/parameters_contract.yml").write_text(yaml.safe_dump(parameters))

    result = kedro(project, "run", "--env", "dask")

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = project / "data"
    metrics = json.loads((data / "08_reporting/evaluation_metrics.json").read_text())
    holdout = json.loads((data / "08_reporting/holdout.json").read_text())
    assert metrics["task"] == "multiclass"
    assert metrics["model"]["macro_f1"] > metrics["baseline"]["macro_f1"]
    assert holdout["strategy"] == "stratified" and holdout["cut"] is None
    assert 0.15 < holdout["n_test_rows"] / (holdout["n_train_rows"] + holdout["n_test_rows"]) < 0.25

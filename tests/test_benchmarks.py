"""The benchmark scripts run: the hand-written floor on a small generated project, the per-stage
accounting of the full-run benchmark and its scaling plot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_full  # noqa: E402
from bench_pipelines import copy_project, write_raw_data  # noqa: E402


@pytest.fixture(scope="module")
def small_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy with 3,000 reference and 750 current demo rows."""
    project = copy_project(tmp_path_factory.mktemp("bench"))
    write_raw_data(project, 3_000)
    return project


def test_the_floor_runs_every_stage_and_fits_a_useful_model(small_project: Path) -> None:
    # Act: the floor as the benchmark runs it, in its own process
    out = small_project / "floor.json"
    subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "floor.py"),
            "--project",
            str(small_project),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    result = json.loads(out.read_text())

    # Assert: every stage timed, a model better than chance, the demo's drifted column found
    stages = bench_full.floor_stages(result)
    assert set(stages) == set(bench_full.STAGES)
    assert all(seconds > 0 for seconds in stages.values())
    assert result["total"] == pytest.approx(sum(result["seconds"].values()))
    assert result["checks"]["test_roc_auc"] > 0.65
    assert "annual_income" in result["checks"]["drifted_columns"]
    assert result["peak_mb"] > 0


def test_cirrus_stages_add_each_stages_nodes_and_their_io() -> None:
    # Arrange
    profile = {
        "stages": {"training": {"nodes": 2.0, "io": 0.5}, "drift": {"nodes": 1.0, "io": 0.0}}
    }

    # Act
    stages = bench_full.cirrus_stages(profile)

    # Assert: stages that did not run count zero
    assert stages == {
        "ingestion": 0.0,
        "features": 0.0,
        "training": 2.5,
        "evaluation": 0.0,
        "drift": 1.0,
    }


def test_the_scaling_plot_is_a_png(tmp_path: Path) -> None:
    # Arrange
    sizes = [
        {
            "rows": rows,
            "cirrus": {"wall": rows / 1e4, "peak_mb": rows / 1e3},
            "floor": {"wall": rows / 2e4, "peak_mb": rows / 2e3},
        }
        for rows in (100_000, 1_000_000)
    ]
    path = tmp_path / "plots" / "scaling.png"

    # Act
    bench_full.write_plot(sizes, path)

    # Assert
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


def test_bench_shapes_compares_a_real_run_with_a_plain_fit_on_the_same_rows(tmp_path: Path):
    # Arrange
    import bench_shapes

    # Act: init-contract and kedro run in a project copy, then the plain fit
    result = bench_shapes.run_shape("yes_no_labels", seed=4, rows=600, root=tmp_path)

    # Assert
    assert "error" not in result, result
    assert result["task"] == "binary" and result["metric"] == "roc_auc"
    assert result["passed"] is True
    assert 80 <= result["n_test_rows"] <= 110  # 20% of the 80% reference share of 600 rows
    assert result["cirrus"] > 0.6 and result["plain"] > 0.6
    assert result["baseline"] == 0.5
    assert result["dataset_drift"] is False


def test_bench_dask_writes_raw_data_a_chunk_at_a_time(tmp_path: Path, monkeypatch) -> None:
    import bench_dask
    import pandas as pd

    monkeypatch.setattr(bench_dask, "CHUNK_ROWS", 1000)
    project = copy_project(tmp_path)

    bench_dask.write_raw(project, 2500)

    raw = project / "data" / "01_raw"
    reference = pd.read_csv(raw / bench_dask.RAW["reference"])
    current = pd.read_csv(raw / bench_dask.RAW["current"])
    assert (len(reference), len(current)) == (2500, 625)
    assert pd.concat([reference["application_id"], current["application_id"]]).is_unique
    times = pd.to_datetime(reference["application_time"])
    assert times.is_monotonic_increasing

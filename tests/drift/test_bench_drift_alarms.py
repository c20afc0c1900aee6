"""The drift-alarm benchmark runs its scenarios on a generated table (one seed, a few seconds)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_drift_alarms as bench  # noqa: E402


def test_one_seed_of_every_scenario_on_a_generated_table(capsys) -> None:
    # Arrange: the hourly regression table (no prior shift: not a classification)
    table = bench.hourly_table()
    settings = bench.drift_settings()

    # Act
    result = bench.run_table(table, seeds=1, settings=settings)
    bench.print_results([result], "holm")

    # Assert: each scenario ran once, the shifts were found, the random split raised nothing
    counts = result["counts"]
    assert counts["random split"]["runs"] == 1
    assert counts["random split"]["retrain holm"] == 0
    assert counts["mean shift"]["detected holm"] == 1
    assert counts["new category"]["detected holm"] == 1
    assert counts["prior shift"] == {}
    assert "goal: retraining recommended on at most 5%" in capsys.readouterr().out

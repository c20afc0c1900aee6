"""A run the quality gate rejects keeps the previous outputs and its own reports aside."""

from __future__ import annotations

import json
from pathlib import Path

from cirrus.drift.verdict import verdict_in_words
from cirrus.results import DriftSummary
from tests.conftest import base_parameters, kedro, output_digests, override


def test_a_rejected_model_can_be_diagnosed(trained_project: Path, project_factory) -> None:
    # Arrange: another threshold changes the metrics; the unreachable gate rejects the run
    project = project_factory(trained_project)
    before = output_digests(project)
    evaluation = base_parameters("evaluation")
    evaluation["evaluation"]["threshold"] = 0.3
    evaluation["evaluation"]["quality_gate"]["binary"] = {"roc_auc": {"min": 0.999}}
    override(project, "evaluation", evaluation)

    # Act
    result = kedro(project, "run", "--pipelines", "evaluation")

    # Assert
    output = " ".join((result.stdout + result.stderr).split())
    runs = list((project / "data/08_reporting/rejected").iterdir())
    assert result.returncode != 0
    assert output_digests(project) == before  # the previous outputs stay in place
    assert len(runs) == 1  # a folder of this run's own: <time>-<run id>
    rejected = runs[0]
    assert f"The failed run's reports are in {rejected.as_posix()}" in output
    kept = json.loads((rejected / "evaluation_metrics.json").read_text())
    published = json.loads((project / "data/08_reporting/evaluation_metrics.json").read_text())
    assert kept["threshold"] == 0.3 and published["threshold"] == 0.5
    assert "Quality gate failed" in (rejected / "reason.txt").read_text()
    assert (rejected / "plots" / "roc_curve.json").is_file()


def test_a_successful_run_ends_with_a_summary(trained_project: Path, project_factory) -> None:
    # Arrange
    project = project_factory(trained_project)

    # Act
    result = kedro(project, "run", "--pipelines", "evaluation,drift")

    # Assert
    output = " ".join((result.stdout + result.stderr).split())
    metrics = json.loads((project / "data/08_reporting/evaluation_metrics.json").read_text())
    assert result.returncode == 0, output[-3000:]
    assert "Run summary:" in output
    assert f"binary model: roc_auc {metrics['model']['roc_auc']:.4f} beats" in output
    assert "quality gate: passed (roc_auc min 0.7)" in output
    summary = json.loads((project / "data/08_reporting/drift_summary.json").read_text())
    verdict = verdict_in_words(DriftSummary.model_validate(summary))
    assert f"drift: {verdict}" in output
    assert "data/08_reporting/drift_report.html" in output

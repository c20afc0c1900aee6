"""`evaluation_metrics.json` and `quality_gate.json`: the held-out verdicts."""

from __future__ import annotations

from typing import Any, Literal

from cirrus.results.base import Result

Task = Literal["binary", "multiclass", "regression"]


class CurrentBatch(Result):
    """The model on the current rows that have an outcome (`model` None: `reason` says why)."""

    n_rows: int
    n_rows_with_outcome: int
    model: dict[str, float | None] | None
    baseline: dict[str, float | None] | None
    reason: str | None


class EvaluationMetrics(Result):
    """Held-out metrics beside the trivial baseline's, and where they were measured."""

    task: Task
    n_test_rows: int
    threshold: float | None  # binary: the decision threshold in effect
    threshold_rule: str | None  # the rule that chose it (None: declared as a number)
    model: dict[str, float | None]
    baseline: dict[str, float | None]
    beats_baseline: dict[str, bool | None]
    intervals: dict[str, Any] | None
    holdout: dict[str, Any] | None
    current_batch: CurrentBatch | None
    warnings: list[dict[str, Any]]


class GateCheck(Result):
    """One gated metric: its value, its interval when computed, and the verdict."""

    value: float | None
    interval: list[float] | None
    verdict: Literal["pass", "fail", "inconclusive"]


class QualityGate(Result):
    """The quality gate's verdict on the held-out metrics."""

    passed: bool
    inconclusive: list[str]
    task: Task
    n_test_rows: int | None
    judged_on: Literal["interval", "estimate"]
    rules: dict[str, dict[str, float | None]]
    checks: dict[str, GateCheck]

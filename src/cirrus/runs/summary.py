"""What a run tells a person at its end: the model against the baseline, the gate, the drift."""

from __future__ import annotations

from typing import Any

from cirrus.drift.verdict import verdict_in_words
from cirrus.metrics import PRIMARY_METRIC
from cirrus.results import DriftSummary, EvaluationMetrics, QualityGate
from cirrus.results.evaluation import CurrentBatch


def describe_evaluation(metrics: EvaluationMetrics) -> list[str]:
    """The primary metric against the trivial baseline's, the hold-out it was measured on, the
    model on the current batch, and the evaluation's warnings."""
    name = PRIMARY_METRIC[metrics.task]
    if metrics.model.get(name) is None:
        return []
    model, baseline = metrics.model[name], metrics.baseline[name]
    verdict = "beats" if metrics.beats_baseline.get(name) else "does NOT beat"
    lines = [
        f"{metrics.task} model: {name} {model:.4f} {verdict} the trivial baseline's {baseline:.4f}"
    ]
    if metrics.holdout is not None:
        lines.append(f"  held out: {describe_holdout(metrics.holdout)}")
    if metrics.current_batch is not None:
        lines.append(f"  {describe_current_batch(metrics.current_batch, name)}")
    lines += [f"  warning: {w['message']}" for w in metrics.warnings]
    return lines


def describe_current_batch(current: CurrentBatch, name: str) -> str:
    """The model on the current rows with an outcome, or why there is no such metric."""
    rows = f"{current.n_rows_with_outcome} of {current.n_rows} rows with an outcome"
    if not current.model:
        return f"current batch: no metrics ({current.reason}; {rows})"
    shown = ", ".join(
        f"{metric} {current.model[metric]:.4f}"
        for metric in dict.fromkeys([name, "f1", "macro_f1", "rmse"])
        if current.model.get(metric) is not None
    )
    return f"current batch: {shown} ({rows})"


def describe_holdout(report: dict[str, Any]) -> str:
    """The hold-out report as one phrase: strategy, cut and gap of a time split, row counts."""
    rows = f"{report.get('n_train_rows')} training / {report.get('n_test_rows')} test rows"
    if report.get("strategy") != "time":
        return f"{report.get('strategy')} (seed {report.get('seed')}), {rows}"
    gap = ""
    if report.get("gap"):
        gap = f"; gap {report['gap']}: {report.get('n_gap_rows')} training rows dropped"
    return f"time (test rows from {report.get('cut')}{gap}), {rows}"


def describe_gate(gate: QualityGate) -> list[str]:
    """The quality gate's verdict."""
    rules = ", ".join(
        f"{name} {' '.join(f'{k} {v}' for k, v in bounds.items() if v is not None)}"
        for name, bounds in gate.rules.items()
    )
    verdict = "passed" if gate.passed else "failed"
    lines = [f"quality gate: {verdict}" + (f" ({rules})" if rules else "")]
    if gate.inconclusive:
        lines.append(
            f"  inconclusive on {gate.n_test_rows} held-out rows: " + "; ".join(gate.inconclusive)
        )
    return lines


def describe_drift(summary: DriftSummary) -> list[str]:
    """The drift verdict in words (the same sentences as the report, monitoring and card)."""
    return [f"drift: {verdict_in_words(summary)}"]


def run_summary(outputs: dict[str, Any], locations: dict[str, str | None]) -> list[str]:
    """Summary lines from whichever of the run's outputs are at hand, then where they are."""
    lines = []
    if isinstance(outputs.get("evaluation_metrics"), EvaluationMetrics):
        lines += describe_evaluation(outputs["evaluation_metrics"])
    if isinstance(outputs.get("quality_gate_result"), QualityGate):
        lines += describe_gate(outputs["quality_gate_result"])
    if isinstance(outputs.get("drift_summary"), DriftSummary):
        lines += describe_drift(outputs["drift_summary"])
    lines += [f"{name}: {where}" for name, where in locations.items() if where]
    return lines

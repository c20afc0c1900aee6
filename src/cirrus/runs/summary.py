"""What a run tells a person at its end: the model against the baseline, the gate, the drift."""

from __future__ import annotations

from typing import Any

from cirrus.metrics import PRIMARY_METRIC


def describe_evaluation(metrics: dict[str, Any]) -> list[str]:
    """The primary metric against the trivial baseline's, the hold-out it was measured on, the
    model on the current batch, and the evaluation's warnings."""
    task = metrics.get("task", "")
    name = PRIMARY_METRIC.get(task)
    if name is None or name not in metrics.get("model", {}):
        return []
    model, baseline = metrics["model"][name], metrics["baseline"][name]
    verdict = "beats" if metrics.get("beats_baseline", {}).get(name) else "does NOT beat"
    lines = [f"{task} model: {name} {model:.4f} {verdict} the trivial baseline's {baseline:.4f}"]
    if isinstance(metrics.get("holdout"), dict):
        lines.append(f"  held out: {describe_holdout(metrics['holdout'])}")
    current = metrics.get("current_batch")
    if isinstance(current, dict):
        lines.append(f"  {describe_current_batch(current, name)}")
    lines += [f"  warning: {w['message']}" for w in metrics.get("warnings") or []]
    return lines


def describe_current_batch(current: dict[str, Any], name: str) -> str:
    """The model on the current rows with an outcome, or why there is no such metric."""
    rows = f"{current.get('n_rows_with_outcome')} of {current.get('n_rows')} rows with an outcome"
    if not current.get("model"):
        return f"current batch: no metrics ({current.get('reason')}; {rows})"
    shown = ", ".join(
        f"{metric} {current['model'][metric]:.4f}"
        for metric in dict.fromkeys([name, "f1", "macro_f1", "rmse"])
        if metric in current["model"]
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


def describe_gate(gate: dict[str, Any]) -> list[str]:
    """The quality gate's verdict."""
    rules = ", ".join(
        f"{name} {' '.join(f'{k} {v}' for k, v in bounds.items() if v is not None)}"
        for name, bounds in gate.get("rules", {}).items()
    )
    verdict = "passed" if gate.get("passed") else "failed"
    lines = [f"quality gate: {verdict}" + (f" ({rules})" if rules else "")]
    if gate.get("inconclusive"):
        lines.append(
            f"  inconclusive on {gate.get('n_test_rows')} held-out rows: "
            + "; ".join(gate["inconclusive"])
        )
    return lines


def describe_drift(summary: dict[str, Any]) -> list[str]:
    """The drift verdict, the drifted columns and whether retraining is recommended."""
    drifted = summary.get("drifted_features", [])
    lines = [
        f"drift: {len(drifted)} drifted feature(s) {drifted} "
        f"({summary.get('drifted_feature_share', 0):.0%}; dataset drift: "
        f"{'yes' if summary.get('dataset_drift') else 'no'})"
    ]
    if summary.get("retrain_recommended"):
        lines.append("retraining recommended: " + "; ".join(summary.get("retrain_reasons", [])))
    return lines


def run_summary(outputs: dict[str, Any], locations: dict[str, str | None]) -> list[str]:
    """Summary lines from whichever of the run's outputs are at hand, then where they are."""
    lines = []
    if isinstance(outputs.get("evaluation_metrics"), dict):
        lines += describe_evaluation(outputs["evaluation_metrics"])
    if isinstance(outputs.get("quality_gate_result"), dict):
        lines += describe_gate(outputs["quality_gate_result"])
    if isinstance(outputs.get("drift_summary"), dict):
        lines += describe_drift(outputs["drift_summary"])
    lines += [f"{name}: {where}" for name, where in locations.items() if where]
    return lines

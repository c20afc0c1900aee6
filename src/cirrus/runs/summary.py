"""What a run tells a person at its end: the model against the baseline, the gate, the drift."""

from __future__ import annotations

from typing import Any

from cirrus.metrics import PRIMARY_METRIC


def describe_evaluation(metrics: dict[str, Any]) -> list[str]:
    """The primary metric against the trivial baseline's."""
    task = metrics.get("task", "")
    name = PRIMARY_METRIC.get(task)
    if name is None or name not in metrics.get("model", {}):
        return []
    model, baseline = metrics["model"][name], metrics["baseline"][name]
    verdict = "beats" if metrics.get("beats_baseline", {}).get(name) else "does NOT beat"
    return [f"{task} model: {name} {model:.4f} {verdict} the trivial baseline's {baseline:.4f}"]


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

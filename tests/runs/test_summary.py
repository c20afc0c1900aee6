"""Tests of the run summary's lines: the gate's verdict, inconclusive bounds included."""

from __future__ import annotations

from cirrus.runs.summary import describe_gate
from tests import unit_fixtures as fx


def test_a_gate_passed_on_its_estimates_is_one_line():
    # Arrange
    gate = fx.quality_gate(passed=True, rules={"roc_auc": {"min": 0.7, "max": None}})

    # Act
    lines = describe_gate(gate)

    # Assert
    assert lines == ["quality gate: passed (roc_auc min 0.7)"]


def test_an_inconclusive_bound_is_named_with_the_held_out_rows():
    # Arrange
    reason = "roc_auc = 0.6600 is below the minimum 0.7, but its interval [0.45, 0.85] reaches it"
    gate = fx.quality_gate(
        passed=True,
        rules={"roc_auc": {"min": 0.7, "max": None}},
        inconclusive=[reason],
        n_test_rows=30,
        judged_on="interval",
    )

    # Act
    lines = describe_gate(gate)

    # Assert
    assert lines[0] == "quality gate: passed (roc_auc min 0.7)"
    assert lines[1] == f"  inconclusive on 30 held-out rows: {reason}"

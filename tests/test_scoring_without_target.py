"""Batch scoring needs no target column, whatever the task (a regression target was refused)."""

from __future__ import annotations

import pytest

from cirrus.pipelines.inference.nodes import score_new_rows, validate_inference_rows
from tests.unit_fixtures import (
    applications,
    contract,
    feature_tables,
    model_bundle,
    trained_model,
)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_rows_without_the_target_column_are_validated_and_scored(task: str) -> None:
    # Arrange
    declared = contract(task)
    raw = applications(60, seed=11, id_offset=900_000).drop(columns=[declared.target])
    model, _, _ = trained_model(task)
    spec, _, _ = feature_tables(task)

    # Act
    rows = validate_inference_rows(raw, declared, "salt")
    scored, logged, report = score_new_rows(rows, model, spec, declared, model_bundle(task))

    # Assert
    assert rows[declared.target].isna().all()
    assert len(scored) == len(logged) == report["rows_scored"] == 60
    assert scored["prediction"].notna().all()

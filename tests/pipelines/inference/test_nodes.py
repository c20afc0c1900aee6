"""Tests of the inference nodes: validation as ingestion does it, PII treated, rows logged."""

from __future__ import annotations

import pandas as pd
import pytest

from cirrus.contract import DataContractViolation
from cirrus.pipelines.inference.nodes import score_new_rows, validate_inference_rows
from cirrus.prediction_log import HEADER, ROW_ID, SOURCE
from cirrus.scoring import Scorer
from tests import unit_fixtures as fx


def new_rows(n: int = 40) -> pd.DataFrame:
    """Raw rows after the reference period, without any outcome column."""
    rows = fx.applications(n_rows=n, seed=99, start="2026-03-01", end="2026-03-08", id_offset=10**6)
    return rows.drop(columns=["defaulted", "risk_grade", "interest_rate"])


def test_rows_without_a_target_are_validated_and_their_pii_treated() -> None:
    raw = new_rows()

    rows = validate_inference_rows(raw, fx.contract(), fx.SALT)

    assert "applicant_name" not in rows
    assert not set(raw["email"]) & set(rows["email"])


def test_a_missing_column_names_the_dataset_and_the_column() -> None:
    with pytest.raises(DataContractViolation, match=r"'raw_inference'.*\['credit_score'\]"):
        validate_inference_rows(new_rows().drop(columns=["credit_score"]), fx.contract(), fx.SALT)


def test_scored_rows_and_log_rows_carry_the_same_predictions_and_identity() -> None:
    spec, _, _ = fx.feature_tables()
    model, _, _ = fx.trained_model()
    bundle = fx.model_bundle()
    raw = new_rows()
    rows = validate_inference_rows(raw, fx.contract(), fx.SALT)

    scored, logged, report = score_new_rows(rows, model, spec, fx.contract(), bundle)

    scorer = Scorer.load(model, spec, fx.contract(), bundle)
    assert scored["score"].tolist() == logged["score"].tolist()
    assert (
        scored["application_id"].tolist()
        == logged[ROW_ID].tolist()
        == raw["application_id"].tolist()
    )
    assert set(scored["model_version"]) == {scorer.model_version} == {report["model_version"]}
    assert report["bundle_version"] == scorer.bundle_version == bundle.version
    assert list(logged.columns[: len(HEADER)]) == list(HEADER)
    assert set(logged[SOURCE]) == {"batch"} and report["rows_scored"] == len(raw)
    raw_pii = set(raw["email"]) | set(raw["applicant_name"])
    assert not raw_pii & set(logged.astype(str).to_numpy().ravel())

"""Inference nodes: validate new rows as ingestion does, score them, log what was predicted."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from cirrus.contract import DatasetContract
from cirrus.feature_spec import FeatureSpec, report_unseen_categories
from cirrus.prediction_log import (
    FEATURE_SPEC_HASH,
    MODEL_VERSION,
    REQUEST_ID,
    UNKNOWN_COLUMNS,
    log_identity,
    log_rows,
)
from cirrus.results import ModelBundle
from cirrus.scoring import ROW_KEY, Scorer, row_keys, utc_now
from cirrus.validation import (
    expected_ranges,
    out_of_range_columns,
    out_of_range_counts,
    treat_pii,
    validate_raw,
)

SCORED_AT = "scored_at"
BATCH_SOURCE = "batch"


def validate_inference_rows(
    raw: pd.DataFrame, contract: DatasetContract, pii_salt: str | None
) -> pd.DataFrame:
    """Validate new rows (dataset `raw_inference`, no target needed) and treat their PII."""
    validated = validate_raw(raw, contract, source="raw_inference", labelled=False)
    return treat_pii(validated, contract, pii_salt)


def batch_id(rows: pd.DataFrame, scorer: Scorer) -> str:
    """The request id of a scoring batch, from its rows and the model that scores them: the same
    input scored by the same model again is the same batch, which the log keeps once."""
    digest = hashlib.sha256(f"{scorer.model_version}:{scorer.feature_spec_hash}".encode())
    values = pd.util.hash_pandas_object(rows.astype(str), index=False).to_numpy()
    digest.update(values.tobytes())
    return f"batch-{digest.hexdigest()[:16]}"


def score_new_rows(
    rows: pd.DataFrame,
    model: str,
    spec: FeatureSpec,
    contract: DatasetContract,
    bundle: ModelBundle,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Score validated rows with the model bundle (its model, spec and decision threshold):
    the scored table, the rows for the prediction log, a report."""
    scorer = Scorer.load(model, spec, contract, bundle)
    features, predictions, unknown = scorer.score(rows)
    scored_at = utc_now()
    identity = log_identity(batch_id(rows, scorer), scored_at, scorer, BATCH_SOURCE)
    ids = rows[contract.id_column].reset_index(drop=True) if contract.id_column else None
    # Without an id column a key from each row's input values joins a scored row to its input.
    key = (
        pd.DataFrame({contract.id_column: ids})
        if ids is not None
        else pd.DataFrame({ROW_KEY: row_keys(rows, contract).to_numpy()})
    )
    scored = pd.concat([key, predictions], axis=1).assign(
        **{
            MODEL_VERSION: scorer.model_version,
            FEATURE_SPEC_HASH: scorer.feature_spec_hash,
            SCORED_AT: pd.Timestamp(scored_at),
            UNKNOWN_COLUMNS: unknown,
        }
    )
    beyond = out_of_range_columns(rows, expected_ranges(contract))
    logged = log_rows(features, predictions, unknown, spec, identity, ids, beyond)
    unseen = report_unseen_categories(rows, spec)
    report = {
        "rows_scored": len(scored),
        REQUEST_ID: identity[REQUEST_ID],
        MODEL_VERSION: scorer.model_version,
        FEATURE_SPEC_HASH: scorer.feature_spec_hash,
        SCORED_AT: scored_at.isoformat(),
        "bundle_version": scorer.bundle_version,
        "threshold": scorer.threshold,
        "rows_with_unseen_levels": sum(bool(columns) for columns in unknown),
        "unseen_categories": unseen,
        "out_of_expected_range": out_of_range_counts(rows, contract),
    }
    return scored, logged, report

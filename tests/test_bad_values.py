"""Bad values are named and counted right: text in a numeric column counts only the bad values
(blanks are missing, not bad) with no internal errors in the message; a feature column without
any value in the training data is refused, naming it."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from cirrus.contract import DataContractViolation
from cirrus.validation import validate_raw
from tests.unit_fixtures import applications, contract


def _through_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame as a CSV file holding it reads back."""
    text = io.StringIO()
    frame.to_csv(text, index=False)
    text.seek(0)
    return pd.read_csv(text)


def test_one_word_in_a_numeric_column_with_blanks_is_one_bad_value() -> None:
    # Arrange
    raw = applications(300)
    raw["credit_score"] = raw["credit_score"].astype(object)
    raw.loc[raw.index[:100], "credit_score"] = np.nan
    raw.loc[raw.index[150], "credit_score"] = "unknown"

    # Act
    with pytest.raises(DataContractViolation) as refused:
        validate_raw(_through_csv(raw), contract("binary"), source="raw_reference")

    # Assert
    message = str(refused.value)
    assert "column 'credit_score' holds 1 value(s) that are not numbers" in message
    assert "rows [150]" in message and "'unknown'" in message
    assert "TypeError" not in message and "failed" not in message


@pytest.mark.parametrize("column", ["credit_score", "loan_purpose"])
def test_a_feature_column_without_any_value_is_refused_in_training_data(column: str) -> None:
    # Arrange
    raw = applications(300)
    raw[column] = np.nan

    # Act
    with pytest.raises(DataContractViolation) as refused:
        validate_raw(raw, contract("binary"), source="raw_reference")

    # Assert
    assert f"no value at all in feature column(s) ['{column}']" in str(refused.value)


def test_an_empty_feature_column_in_rows_to_score_is_accepted() -> None:
    # Arrange: a batch may miss a value everywhere; it is scored (and monitored), not refused
    raw = applications(50).drop(columns=["defaulted"])
    raw["credit_score"] = np.nan

    # Act
    rows = validate_raw(raw, contract("binary"), source="raw_inference", labelled=False)

    # Assert
    assert rows["credit_score"].isna().all() and len(rows) == 50

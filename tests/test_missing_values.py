"""Texts that mean missing are the contract's `missing_values`, not a reader's guess: the raw CSV
reader keeps every text but an empty cell, validation turns exactly the declared texts into
nulls, and any other text in a numeric column is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from cirrus.contract import DEFAULT_MISSING_VALUES, DataContractViolation, DatasetContract
from cirrus.contract_inference.read import read_table
from cirrus.datasets import CheckedCSVDataset
from cirrus.validation import validate_raw
from tests.unit_fixtures import applications, contract


def _raw_csv(tmp_path: Path, edits: dict[int, dict[str, str]]) -> Path:
    """The generated applications as a CSV file, some cells replaced by texts."""
    frame = applications(200).astype({"credit_score": object, "channel": object})
    for row, cells in edits.items():
        for column, text in cells.items():
            frame.loc[frame.index[row], column] = text
    path = tmp_path / "raw.csv"
    frame.to_csv(path, index=False)
    return path


def _with_missing_values(values: list[str]) -> DatasetContract:
    """The binary unit contract declaring other missing-value texts."""
    return contract("binary").model_copy(update={"missing_values": values})


def test_declared_texts_are_missing_and_an_undeclared_one_is_refused_by_name(
    tmp_path: Path,
) -> None:
    # Arrange
    path = _raw_csv(tmp_path, {3: {"credit_score": "N/A"}, 7: {"credit_score": "#N/A"}})
    raw = CheckedCSVDataset(filepath=str(path)).load()

    # Act
    with pytest.raises(DataContractViolation) as refused:
        validate_raw(raw, contract("binary"), source="raw_reference")
    declared = validate_raw(
        raw, _with_missing_values([*DEFAULT_MISSING_VALUES, "#N/A"]), "raw_reference"
    )

    # Assert: pandas would have read both as missing without a word
    message = str(refused.value)
    assert "column 'credit_score' holds 1 value(s) that are not numbers, in rows [7]" in message
    assert "'#N/A'" in message and "contract.missing_values" in message
    assert declared["credit_score"].isna()[[3, 7]].all()


def test_a_level_written_like_a_missing_text_is_kept_when_not_declared(tmp_path: Path) -> None:
    # Arrange: 'NA' as a real level of channel (say, a region code), so no allowed list for it
    path = _raw_csv(tmp_path, {row: {"channel": "NA"} for row in range(5)})
    raw = CheckedCSVDataset(filepath=str(path)).load()
    rules = {c: r for c, r in contract("binary").columns.items() if c != "channel"}
    default = contract("binary").model_copy(update={"columns": rules})
    without_na = default.model_copy(
        update={"missing_values": [t for t in DEFAULT_MISSING_VALUES if t != "NA"]}
    )

    # Act
    missing = validate_raw(raw, default, "raw_reference")
    kept = validate_raw(raw, without_na, "raw_reference")

    # Assert
    assert missing["channel"].head(5).isna().all()
    assert kept["channel"].head(5).tolist() == ["NA"] * 5


def test_init_contract_reads_declared_texts_as_missing_and_numbers_stay_numbers(
    tmp_path: Path,
) -> None:
    # Arrange
    path = _raw_csv(tmp_path, {3: {"credit_score": "NA"}, 8: {"credit_score": "null"}})

    # Act
    frame, _ = read_table(str(path))

    # Assert
    assert frame["credit_score"].dtype == "float64"
    assert frame["credit_score"].isna()[[3, 8]].all()

"""Expected ranges warn, hard ranges refuse: what init-contract writes, what validation refuses,
what ingestion counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from cirrus.contract import ContractError, DataContractViolation, DatasetContract
from cirrus.contract_inference import infer_configuration, render_contract
from cirrus.contract_inference.decide import plain_value
from cirrus.parameters import IngestionSplit
from cirrus.pipelines.ingestion.nodes import report_ingestion, split_reference_current
from cirrus.validation import expected_ranges, out_of_range_columns, validate_raw


def _survey(n_rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """A survey: ages 17-42, a count of children, an amount spent, a signed score, a level."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(17, 43, n_rows),
            "num_children": rng.integers(0, 4, n_rows),
            "amount_spent": rng.gamma(2.0, 50.0, n_rows).round(2),
            "balance_score": rng.normal(0, 1, n_rows),
            "region": rng.choice(["north", "south", "east"], n_rows),
            "year": np.full(n_rows, 2013),
            "answered": rng.integers(0, 2, n_rows),
        }
    )


def _contract(**rule) -> DatasetContract:
    """A contract with one numeric feature `age` under the given rule."""
    return DatasetContract(
        name="survey",
        target="answered",
        task="binary",
        features={"numeric": ["age"]},
        columns={"age": {"dtype": "int", **rule}},
    )


# --- what init-contract writes ------------------------------------------------------------------


def test_init_contract_writes_observed_ranges_as_expected_and_hard_limits_only_when_certain():
    # Act
    config = infer_configuration(_survey(), "survey.csv", "csv", "answered")

    # Assert: the old code wrote the observed min/max as hard limits (age max 42 refused 70)
    rules = config.contract["columns"]
    assert rules["age"]["expected_min"] == 17 and rules["age"]["expected_max"] == 42
    assert rules["age"]["min"] == 0 and "max" not in rules["age"]  # an age is never negative
    assert rules["num_children"]["min"] == 0 and "max" not in rules["num_children"]
    assert rules["amount_spent"]["min"] == 0 and "max" not in rules["amount_spent"]
    assert "min" not in rules["balance_score"] and "max" not in rules["balance_score"]
    assert "expected_min" in rules["balance_score"]
    assert "allowed" not in rules["region"]  # a new level scores as __unknown__
    assert "review: min 0 refuses negative values" in config.rule_comments["num_children"]


def test_each_hard_limit_written_has_a_review_comment_and_the_yaml_reads_back():
    # Arrange
    config = infer_configuration(_survey(), "survey.csv", "csv", "answered")

    # Act
    text = render_contract(config)

    # Assert
    lines = text.splitlines()
    for column in ("age", "num_children", "amount_spent"):
        at = next(i for i, line in enumerate(lines) if line.startswith(f"    {column}:"))
        around = lines[max(0, at - 3) : at + 1]  # the comment is inline or on the lines above
        assert any("# review: min 0 refuses negative values" in line for line in around), around
    contract = yaml.safe_load(text)["contract"]
    assert {c for c, rule in contract["columns"].items() if "min" in rule} == {
        "age",
        "num_children",
        "amount_spent",
    }
    DatasetContract.parse(contract)


def test_a_constant_column_is_named_with_a_plain_python_value():
    # Act
    config = infer_configuration(_survey(), "survey.csv", "csv", "answered")

    # Assert: the old message read `constant (always np.int64(2013))`
    reasons = {item.column: item.reason for item in config.left_out}
    assert reasons["year"] == "constant (always 2013)"
    assert plain_value(np.float64(1.5)) == 1.5 and type(plain_value(np.int64(2))) is int
    assert plain_value(pd.Timestamp("2013-01-01")) == "2013-01-01T00:00:00"


# --- validation and ingestion -------------------------------------------------------------------


def test_a_value_beyond_the_expected_range_validates_and_is_listed():
    # Arrange
    contract = _contract(expected_min=17, expected_max=42)
    raw = pd.DataFrame({"age": [30, 70, 10, None], "answered": [0, 1, 0, 1]})

    # Act
    validated = validate_raw(raw, contract, "raw_current", labelled=False)

    # Assert
    assert validated["age"].tolist()[:3] == [30, 70, 10]
    assert out_of_range_columns(validated, expected_ranges(contract)) == [[], ["age"], ["age"], []]


def test_a_range_the_user_declares_is_still_enforced():
    # Arrange
    contract = _contract(min=18, max=120, expected_max=90)
    raw = pd.DataFrame({"age": [30, 100, 121], "answered": [0, 1, 0]})

    # Act
    with pytest.raises(DataContractViolation) as excinfo:
        validate_raw(raw, contract, "raw_reference")

    # Assert: 100 is only unexpected; 121 breaks the declared maximum
    message = str(excinfo.value)
    assert "column 'age': failed less_than_or_equal_to(120" in message
    assert "in 1 row(s)" in message and "121" in message


def test_expected_ranges_apply_to_numbers_only_and_in_order():
    # Act / Assert
    with pytest.raises(ContractError, match=r"expected_min 50\.0 is above expected_max 40\.0"):
        _contract(expected_min=50, expected_max=40)
    with pytest.raises(ContractError, match=r"\['expected_max'\] apply to numeric columns only"):
        DatasetContract(
            name="s",
            target="answered",
            task="binary",
            features={"categorical": ["region"]},
            columns={"region": {"dtype": "string", "expected_max": 3}},
        )


def test_the_ingestion_report_counts_values_beyond_the_expected_range_per_side():
    # Arrange: the current rows hold two ages past the expected 17-42
    contract = _contract(expected_min=17, expected_max=42)
    reference = validate_raw(
        pd.DataFrame({"age": [20, 30, 40, 25], "answered": [0, 1, 0, 1]}),
        contract,
        "raw_reference",
    )
    current = validate_raw(
        pd.DataFrame({"age": [70, 35, 90], "answered": [None, None, None]}),
        contract,
        "raw_current",
        labelled=False,
    )
    split = IngestionSplit(mode="files")
    ref, cur = split_reference_current(reference, current, contract, split)

    # Act
    report = report_ingestion(reference, current, ref, cur, contract, split)

    # Assert
    assert report["out_of_expected_range"] == {"reference": {"age": 0}, "current": {"age": 2}}

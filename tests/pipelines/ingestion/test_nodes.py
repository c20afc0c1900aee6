"""Tests of the ingestion nodes: contract validation, PII treatment, reference/current split."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from cirrus.contract import ContractError, DataContractViolation, DatasetContract
from cirrus.parameters import ConfigError, IngestionSplit
from cirrus.pipelines.ingestion.nodes import (
    report_ingestion,
    split_reference_current,
    validate_raw_current,
    validate_raw_reference,
)
from cirrus.validation import salted_hash, treat_pii, validate_raw
from tests import unit_fixtures as fx

contract_params = fx.contract_params
split_params = fx.split_params
raw_applications = fx.raw_applications

INGESTION_FILE = "conf/base/parameters_ingestion.yml"
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
CUTOFF = "2025-10-01"


@pytest.fixture
def contract() -> DatasetContract:
    """The committed binary contract, parsed."""
    return fx.contract()


@pytest.fixture
def split() -> IngestionSplit:
    """The committed `ingestion.split` block (files mode), parsed."""
    return fx.split()


def _violation(raw: pd.DataFrame, contract: DatasetContract, labelled: bool = True) -> str:
    """The message of the DataContractViolation that validating `raw` must raise."""
    with pytest.raises(DataContractViolation) as excinfo:
        validate_raw(raw, contract, source="raw_reference", labelled=labelled)
    return str(excinfo.value)


# --- validate_raw -----------------------------------------------------------------------------


def test_validate_raw_types_columns(raw_applications, contract):
    # Act
    validated = validate_raw(raw_applications, contract, source="raw_reference")

    # Assert
    assert validated["age"].dtype == "Int64"
    assert validated["num_open_accounts"].dtype == "Int64"
    assert validated["annual_income"].dtype == "float64"
    assert validated["application_id"].dtype == "string"
    assert validated["home_ownership"].dtype == "string"
    assert validated["defaulted"].dtype == "string"
    assert pd.api.types.is_datetime64_ns_dtype(validated["application_time"])
    assert set(validated["defaulted"]) == {"0", "1"}
    assert len(validated) == len(raw_applications)


def test_validate_raw_coerces_text_input(raw_applications, contract):
    # Arrange: a CSV read without dtype inference gives text everywhere
    as_text = raw_applications.head(50).astype(str)

    # Act
    validated = validate_raw(as_text, contract, source="raw_reference")

    # Assert
    assert validated["age"].dtype == "Int64"
    assert validated["age"].tolist() == raw_applications["age"].head(50).tolist()
    assert pd.api.types.is_datetime64_ns_dtype(validated["application_time"])
    assert (
        validated["annual_income"].isna().sum()
        == raw_applications["annual_income"].head(50).isna().sum()
    )


def test_validate_raw_keeps_only_declared_columns(raw_applications, contract):
    # Arrange
    raw_applications["unexpected_extra"] = 1

    # Act
    validated = validate_raw(raw_applications, contract, source="raw_reference")

    # Assert
    assert list(validated.columns) == contract.known_columns
    assert "interest_rate" not in validated
    assert "risk_grade" not in validated
    assert "unexpected_extra" not in validated


def test_float_labels_become_integer_text(raw_applications, contract):
    # Arrange
    raw_applications["defaulted"] = raw_applications["defaulted"].astype("float64")

    # Act
    validated = validate_raw(raw_applications, contract, source="raw_reference")

    # Assert
    assert set(validated["defaulted"]) == {"0", "1"}


def test_missing_column_error_names_column_and_dataset(raw_applications, contract):
    # Arrange
    raw = raw_applications.drop(columns=["credit_score"])

    # Act / Assert
    with pytest.raises(DataContractViolation) as excinfo:
        validate_raw_reference(raw, contract, fx.SALT)
    assert "'raw_reference'" in str(excinfo.value)
    assert "['credit_score']" in str(excinfo.value)


def test_missing_column_in_current_names_the_current_dataset(raw_applications, contract):
    # Arrange
    raw = raw_applications.drop(columns=["channel"])

    # Act / Assert
    with pytest.raises(DataContractViolation, match=r"'raw_current'.*\['channel'\]"):
        validate_raw_current(raw, contract, fx.SALT)


def test_wrong_type_error_names_the_column(raw_applications, contract):
    # Arrange
    raw = raw_applications.head(100).copy()
    raw["age"] = raw["age"].astype(object)
    raw.loc[3, "age"] = "abc"

    # Act
    message = _violation(raw, contract)

    # Assert
    assert "column 'age'" in message
    assert "'abc'" in message
    assert "column 'loan_amount'" not in message


def test_non_integer_value_in_int_column_is_rejected(raw_applications, contract):
    # Arrange
    raw = raw_applications.head(100).copy()
    raw["num_open_accounts"] = raw["num_open_accounts"].astype("float64")
    raw.loc[5, "num_open_accounts"] = 2.5

    # Act
    message = _violation(raw, contract)

    # Assert
    assert "column 'num_open_accounts'" in message


def test_nulls_in_target_rejected_for_reference(raw_applications, contract):
    # Arrange
    raw_applications["defaulted"] = raw_applications["defaulted"].astype("float64")
    raw_applications.loc[[2, 4, 6], "defaulted"] = np.nan

    # Act
    message = _violation(raw_applications, contract)

    # Assert
    assert "column 'defaulted'" in message
    assert "not_nullable in 3 row(s)" in message


def test_nulls_in_target_allowed_for_current(raw_applications, contract):
    # Arrange
    raw_applications["defaulted"] = raw_applications["defaulted"].astype("float64")
    raw_applications.loc[[2, 4, 6], "defaulted"] = np.nan

    # Act
    validated = validate_raw(raw_applications, contract, source="raw_current", labelled=False)

    # Assert
    assert validated["defaulted"].isna().sum() == 3
    assert set(validated["defaulted"].dropna()) == {"0", "1"}


def test_target_column_absent_allowed_for_current(raw_applications, contract):
    # Arrange
    raw = raw_applications.drop(columns=["defaulted"])

    # Act
    validated = validate_raw_current(raw, contract, fx.SALT)

    # Assert
    assert "defaulted" in validated
    assert validated["defaulted"].isna().all()
    assert len(validated) == len(raw)


def test_target_column_absent_rejected_for_reference(raw_applications, contract):
    # Arrange
    raw = raw_applications.drop(columns=["defaulted"])

    # Act / Assert
    with pytest.raises(DataContractViolation, match=r"\['defaulted'\]"):
        validate_raw_reference(raw, contract, fx.SALT)


def test_other_non_nullable_columns_stay_required_for_current(raw_applications, contract):
    # Arrange
    raw = raw_applications.drop(columns=["defaulted"])
    raw.loc[1, "loan_amount"] = np.nan

    # Act / Assert
    with pytest.raises(DataContractViolation, match="column 'loan_amount': failed not_nullable"):
        validate_raw_current(raw, contract, fx.SALT)


def test_empty_frame_rejected(raw_applications, contract):
    # Act / Assert
    with pytest.raises(DataContractViolation, match="'raw_reference' has no rows"):
        validate_raw_reference(raw_applications.iloc[:0], contract, fx.SALT)


def test_range_violations_are_named(raw_applications, contract):
    # Arrange
    raw = raw_applications.head(100).copy()
    raw.loc[1, "age"] = 15
    raw.loc[2, "credit_score"] = 900.0
    raw.loc[3, "loan_amount"] = -5.0

    # Act
    message = _violation(raw, contract)

    # Assert
    assert "column 'age': failed greater_than_or_equal_to(18" in message
    assert "column 'credit_score': failed less_than_or_equal_to(850" in message
    assert "column 'loan_amount': failed greater_than_or_equal_to(0" in message
    assert "(e.g. ['15" in message


def test_allowed_value_violations_are_named(raw_applications, contract):
    # Arrange
    raw = raw_applications.head(100).copy()
    raw.loc[[1, 2], "home_ownership"] = "CASTLE"
    raw.loc[3, "loan_term_months"] = 18

    # Act
    message = _violation(raw, contract)

    # Assert
    assert "column 'home_ownership': failed isin" in message
    assert "in 2 row(s)" in message
    assert "CASTLE" in message
    assert "column 'loan_term_months': failed isin" in message


def test_duplicate_ids_pass_validation_for_the_split_to_resolve(raw_applications, contract):
    # Arrange
    raw = raw_applications.head(100).copy()
    raw.loc[7, "application_id"] = raw.loc[0, "application_id"]

    # Act
    validated = validate_raw(raw, contract, source="raw_reference")

    # Assert
    assert len(validated) == 100


def test_an_id_in_both_files_keeps_its_latest_record(contract, split):
    # Arrange
    reference, current = _validated_batches(contract)
    later = reference.iloc[[3]].assign(
        application_time=current["application_time"].max(), loan_amount=999.0
    )
    current = pd.concat([current, later], ignore_index=True)
    moved_id = later["application_id"].iloc[0]

    # Act
    ref, cur = split_reference_current(reference, current, contract, split)

    # Assert
    assert moved_id not in set(ref["application_id"])
    assert cur.loc[cur["application_id"] == moved_id, "loan_amount"].tolist() == [999.0]


def test_numeric_allowed_labels_accept_a_numeric_target(raw_applications, contract_params):
    # Arrange
    contract_params["columns"]["defaulted"] = {"allowed": [0, 1]}
    contract = DatasetContract.parse(contract_params)

    # Act
    validated = validate_raw(raw_applications, contract, source="raw_reference")

    # Assert
    assert len(validated) == len(raw_applications)


def test_inf_in_a_float_column_is_refused_naming_the_column(raw_applications, contract):
    # Arrange
    raw = raw_applications.head(100).copy()
    raw.loc[[1, 2], "annual_income"] = [np.inf, -np.inf]

    # Act
    message = _violation(raw, contract)

    # Assert
    assert "column 'annual_income': failed finite" in message
    assert "in 2 row(s) (e.g. ['inf', '-inf'])" in message
    assert "allow_inf: true" in message
    assert "column 'loan_amount'" not in message


def test_inf_passes_where_the_rule_allows_it(raw_applications, contract_params):
    # Arrange
    contract_params["columns"]["annual_income"] = {"min": 0, "allow_inf": True}
    contract = DatasetContract.parse(contract_params)
    raw = raw_applications.head(100).copy()
    raw.loc[1, "annual_income"] = np.inf

    # Act
    validated = validate_raw(raw, contract, source="raw_reference")

    # Assert
    assert validated.loc[1, "annual_income"] == np.inf


def _as_csv_text(raw: pd.DataFrame, time_format: str) -> pd.DataFrame:
    """The frame as read from a CSV whose event times are written in `time_format`."""
    times = pd.to_datetime(raw["application_time"]).dt.strftime(time_format)
    return raw.assign(application_time=times.astype(object))


def test_datetime_text_in_another_format_names_found_and_expected(raw_applications, contract):
    # Arrange: day-first times where ISO 8601 is expected
    raw = _as_csv_text(raw_applications.head(200), "%d/%m/%Y %H:%M")

    # Act
    message = _violation(raw, contract)

    # Assert
    assert "column 'application_time': 200 value(s) not in the expected format ISO 8601" in message
    assert "they look like '%d/%m/%Y %H:%M'" in message
    assert "contract.columns.application_time" in message
    assert "object" not in message


def test_the_format_found_is_settled_by_values_late_in_the_column(raw_applications, contract):
    # Arrange: 290 distinct times that read either day or month first, then day-first ones
    times = pd.Series(pd.date_range("2025-01-01", periods=300, freq="37min"))
    times[290:] = pd.Timestamp("2025-01-25 10:00")
    raw = raw_applications.head(300).assign(
        application_time=times.dt.strftime("%d/%m/%Y %H:%M").astype(object)
    )

    # Act
    message = _violation(raw, contract)

    # Assert
    assert "they look like '%d/%m/%Y %H:%M' (e.g." in message
    assert "%m/%d/%Y" not in message


def test_datetime_text_in_the_declared_format_is_parsed_with_it(raw_applications, contract_params):
    # Arrange
    contract_params["columns"]["application_time"] = {"format": "%d/%m/%Y %H:%M"}
    contract = DatasetContract.parse(contract_params)
    raw = raw_applications.head(200)
    expected = pd.to_datetime(raw["application_time"]).dt.floor("min")

    # Act
    validated = validate_raw(_as_csv_text(raw, "%d/%m/%Y %H:%M"), contract, source="raw_reference")

    # Assert: day first, as declared (2025-01-02 is not read as February 1st)
    assert validated["application_time"].tolist() == expected.tolist()


def test_missing_times_in_a_nullable_datetime_column_are_nulls(raw_applications, contract_params):
    # Arrange: a nullable datetime feature written as ISO text, blanks as pandas writes them
    contract_params["features"]["datetime"].append("first_payment_time")
    contract = DatasetContract.parse(contract_params)
    raw = raw_applications.head(4).assign(
        first_payment_time=["2025-02-01", "NaT", None, "2025-03-01T10:30:00"]
    )

    # Act
    validated = validate_raw(raw, contract, source="raw_reference")

    # Assert
    assert validated["first_payment_time"].tolist()[::3] == [
        pd.Timestamp("2025-02-01"),
        pd.Timestamp("2025-03-01 10:30"),
    ]
    assert validated["first_payment_time"].isna().tolist() == [False, True, True, False]


def test_a_format_on_a_column_of_another_dtype_is_refused(contract_params):
    # Arrange
    contract_params["columns"]["age"]["format"] = "%Y"

    # Act / Assert
    with pytest.raises(ContractError) as excinfo:
        DatasetContract.parse(contract_params)
    assert "'contract.columns.age': format applies to datetime columns only" in str(excinfo.value)


def test_a_format_that_is_no_strptime_pattern_is_refused(contract_params):
    # Arrange
    contract_params["columns"]["application_time"] = {"format": "dd/mm/yyyy"}

    # Act / Assert
    with pytest.raises(ContractError, match=r"'contract\.columns\.application_time\.format'"):
        DatasetContract.parse(contract_params)


def test_allow_inf_on_a_text_column_is_refused(contract_params):
    # Arrange
    contract_params["columns"]["application_id"]["allow_inf"] = True

    # Act / Assert
    with pytest.raises(ContractError, match="allow_inf applies to float columns only"):
        DatasetContract.parse(contract_params)


# --- validation nodes: PII treated before anything is written ---------------------------------


def test_validation_nodes_return_tables_with_pii_treated(raw_applications, contract):
    # Arrange
    first_email = raw_applications["email"].iloc[0]

    # Act
    reference = validate_raw_reference(raw_applications, contract, fx.SALT)
    current = validate_raw_current(raw_applications.drop(columns="defaulted"), contract, fx.SALT)

    # Assert: the name dropped, the email the salted SHA-256 it always was
    for table in (reference, current):
        assert "applicant_name" not in table
        assert not set(raw_applications["email"]) & set(table["email"])
        assert (
            table["email"].iloc[0] == hashlib.sha256(f"{fx.SALT}{first_email}".encode()).hexdigest()
        )


def test_pii_rules_are_checked_on_the_raw_values(raw_applications, contract_params):
    # Arrange: a rule on the dropped column only holds if validation sees it before the drop
    contract_params["columns"]["applicant_name"] = {"nullable": False}
    contract = DatasetContract.parse(contract_params)
    raw = raw_applications.head(100).copy()
    raw.loc[4, "applicant_name"] = None

    # Act / Assert
    with pytest.raises(DataContractViolation, match="column 'applicant_name': failed not_nullable"):
        validate_raw_reference(raw, contract, fx.SALT)


def test_validation_nodes_need_the_salt_to_hash(raw_applications, contract):
    # Act / Assert
    with pytest.raises(DataContractViolation, match="CIRRUS_PII_SALT"):
        validate_raw_current(raw_applications, contract, None)


# --- treat_pii --------------------------------------------------------------------------------


def test_treat_pii_drops_and_hashes(raw_applications, contract):
    # Arrange
    validated = validate_raw(raw_applications, contract, source="raw_reference")
    raw_emails = set(raw_applications["email"])

    # Act
    treated = treat_pii(validated, contract, fx.SALT)

    # Assert
    assert "applicant_name" not in treated
    assert treated["email"].map(lambda v: bool(SHA256_HEX.fullmatch(v))).all()
    assert not raw_emails & set(treated["email"])
    assert not treated["email"].str.contains("@").any()
    assert treated.drop(columns="email").equals(validated.drop(columns=["email", "applicant_name"]))


def test_same_value_and_salt_give_same_hash():
    # Arrange
    emails = pd.Series(["ann@example.com", "bob@example.com", "ann@example.com"])

    # Act
    hashed = salted_hash(emails, "pepper")

    # Assert
    assert hashed[0] == hashed[2]
    assert hashed[0] != hashed[1]
    assert salted_hash(emails, "pepper").equals(hashed)


def test_hash_is_the_sha256_of_salt_then_value():
    # Arrange
    emails = pd.Series(["ann@example.com", "bob@example.com"], dtype="string", index=[7, 3])

    # Act
    hashed = salted_hash(emails, "pepper")

    # Assert
    assert hashed.tolist() == [
        hashlib.sha256(b"pepperann@example.com").hexdigest(),
        hashlib.sha256(b"pepperbob@example.com").hexdigest(),
    ]
    assert hashed.index.tolist() == [7, 3]
    assert hashed.dtype == "string"


def test_different_salt_gives_different_hash():
    # Arrange
    emails = pd.Series(["ann@example.com"])

    # Act
    first, second = salted_hash(emails, "salt-a"), salted_hash(emails, "salt-b")

    # Assert
    assert first[0] != second[0]


def test_null_pii_values_stay_null():
    # Arrange
    emails = pd.Series(["ann@example.com", None], dtype="string")

    # Act
    hashed = salted_hash(emails, "pepper")

    # Assert
    assert hashed.isna().tolist() == [False, True]


@pytest.mark.parametrize("salt", [None, ""])
def test_missing_salt_error_names_the_env_variable(raw_applications, contract, salt):
    # Arrange
    contract = contract

    # Act / Assert
    with pytest.raises(DataContractViolation, match="CIRRUS_PII_SALT") as excinfo:
        treat_pii(raw_applications, contract, salt)
    assert "email" in str(excinfo.value)


def test_drop_only_pii_needs_no_salt(raw_applications, contract_params):
    # Arrange
    contract_params["pii"]["email"] = "drop"
    contract = DatasetContract.parse(contract_params)

    # Act
    treated = treat_pii(raw_applications, contract, None)

    # Assert
    assert "email" not in treated
    assert "applicant_name" not in treated


# --- split_reference_current ------------------------------------------------------------------


def _validated_batches(contract: DatasetContract) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A validated reference batch (2025) and a validated, unlabelled current batch (2026), as
    the validation nodes return them: PII already treated."""
    reference = treat_pii(fx.validated_reference(), contract, fx.SALT)
    current_raw = fx.applications(
        n_rows=600, seed=fx.SEED + 1, start="2026-01-01", end="2026-03-01", id_offset=fx.N_ROWS
    )
    current = validate_raw_current(current_raw.drop(columns=["defaulted"]), contract, fx.SALT)
    return reference, current


def test_files_mode_keeps_each_file_on_its_side(contract, split):
    # Arrange
    reference, current = _validated_batches(contract)

    # Act
    ref, cur = split_reference_current(reference, current, contract, split)

    # Assert
    assert len(ref) == len(reference)
    assert len(cur) == len(current)
    assert not set(ref["application_id"]) & set(cur["application_id"])
    assert list(ref.columns) == list(reference.columns)
    assert list(cur.columns) == list(current.columns)


def test_the_split_passes_treated_pii_through_unchanged(contract, split):
    # Arrange: the validation nodes already hashed the emails
    reference, current = _validated_batches(contract)

    # Act
    ref, cur = split_reference_current(reference, current, contract, split)

    # Assert: not hashed a second time
    assert ref["email"].tolist() == reference["email"].tolist()
    assert cur["email"].tolist() == current["email"].tolist()
    assert "applicant_name" not in ref


def test_files_mode_keeps_a_shared_id_once_on_the_side_of_its_latest_record(contract, split):
    # Arrange
    reference, current = _validated_batches(contract)
    shared = reference["application_id"].iloc[:5].tolist()
    current.loc[current.index[:5], "application_id"] = shared

    # Act
    ref, cur = split_reference_current(reference, current, contract, split)

    # Assert: the current rows are the later records, so they win
    assert set(shared) <= set(cur["application_id"])
    assert not set(shared) & set(ref["application_id"])
    assert len(ref) == len(reference) - 5


def test_duplicate_ids_dropped_keeping_last(contract, split):
    # Arrange
    reference, current = _validated_batches(contract)
    correction = reference.iloc[[10]].assign(loan_amount=123_456.0)
    reference = pd.concat([reference, correction], ignore_index=True)
    duplicated_id = correction["application_id"].iloc[0]

    # Act
    ref, _ = split_reference_current(reference, current, contract, split)

    # Assert
    rows = ref[ref["application_id"] == duplicated_id]
    assert len(rows) == 1
    assert rows["loan_amount"].iloc[0] == 123_456.0
    assert ref["application_id"].is_unique


def test_event_time_mode_respects_the_cutoff(contract):
    # Arrange
    reference, current = _validated_batches(contract)
    split = fx.split(mode="event_time", current_from=CUTOFF)
    cutoff = pd.Timestamp(CUTOFF)

    # Act
    ref, cur = split_reference_current(reference, current, contract, split)

    # Assert
    assert (ref["application_time"] < cutoff).all()
    assert (cur["application_time"] >= cutoff).all()
    assert len(ref) + len(cur) == len(reference) + len(current)
    assert len(ref) == (reference["application_time"] < cutoff).sum()
    assert not set(ref["application_id"]) & set(cur["application_id"])


def test_event_time_mode_keeps_the_last_version_of_a_duplicated_id(contract):
    # Arrange: a reference row corrected in the current file, with a time after the cutoff
    reference, current = _validated_batches(contract)
    split = fx.split(mode="event_time", current_from=CUTOFF)
    original = reference[reference["application_time"] < pd.Timestamp(CUTOFF)].iloc[[0]]
    corrected = original.assign(
        application_time=pd.Timestamp("2026-01-15"), loan_amount=777.0, defaulted=pd.NA
    )
    current = pd.concat([current, corrected], ignore_index=True)
    duplicated_id = original["application_id"].iloc[0]

    # Act
    ref, cur = split_reference_current(reference, current, contract, split)

    # Assert
    assert duplicated_id not in set(ref["application_id"])
    assert cur.loc[cur["application_id"] == duplicated_id, "loan_amount"].tolist() == [777.0]
    assert not set(ref["application_id"]) & set(cur["application_id"])


def test_event_time_mode_requires_current_from(split_params: dict[str, Any]):
    # Arrange: refused when the block is parsed, before any node runs
    split_params.update(mode="event_time", current_from=None)

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        IngestionSplit.parse(split_params)
    message = str(excinfo.value)
    assert "'ingestion.split': current_from is required" in message
    assert INGESTION_FILE in message


def test_unknown_split_key_names_file_and_key(split_params: dict[str, Any]):
    # Arrange
    split_params["mod"] = "files"

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        IngestionSplit.parse(split_params)
    assert "unknown key 'ingestion.split.mod'" in str(excinfo.value)
    assert INGESTION_FILE in str(excinfo.value)


def test_cutoff_before_every_row_leaves_no_reference(contract):
    # Arrange
    reference, current = _validated_batches(contract)
    split = fx.split(mode="event_time", current_from="2000-01-01")

    # Act / Assert
    with pytest.raises(DataContractViolation, match="No reference rows left"):
        split_reference_current(reference, current, contract, split)


def test_single_class_target_is_rejected(contract, split):
    # Arrange
    reference, current = _validated_batches(contract)
    reference = reference[reference["defaulted"] == "0"]

    # Act / Assert
    with pytest.raises(DataContractViolation) as excinfo:
        split_reference_current(reference, current, contract, split)
    message = str(excinfo.value)
    assert "Target 'defaulted'" in message
    assert "1 class(es) ['0']" in message
    assert "task 'binary' needs exactly 2" in message


def test_multiclass_with_two_classes_is_rejected(split):
    # Arrange
    contract = fx.contract("multiclass")
    reference = fx.validated_reference("multiclass")
    reference = reference[reference["risk_grade"].isin(["A", "B"])]

    # Act / Assert
    with pytest.raises(DataContractViolation, match=r"needs at least 3"):
        split_reference_current(reference, reference.iloc[:0], contract, split)


def test_positive_class_must_be_a_target_class(contract, contract_params, split):
    # Arrange
    reference, current = _validated_batches(contract)
    unknown_positive = DatasetContract.parse({**contract_params, "positive_class": "yes"})

    # Act / Assert
    with pytest.raises(DataContractViolation, match="positive_class 'yes' is not among"):
        split_reference_current(reference, current, unknown_positive, split)


# --- tables without time or id, the fraction split, and what a split must leave ----------------


def _without(contract_params: dict[str, Any], *roles: str) -> DatasetContract:
    """The committed contract with the event-time and/or id column taken away."""
    params = dict(contract_params)
    for role in roles:
        column = params[role]
        params[role] = None
        params["columns"] = {k: v for k, v in params["columns"].items() if k != column}
        params["features"] = {
            kind: [c for c in columns if c != column]
            for kind, columns in params["features"].items()
        }
    return DatasetContract.parse(params)


def test_fraction_mode_takes_the_declared_share_by_id_the_same_way_each_run(contract):
    # Arrange: one file behind both raw entries
    reference, _ = _validated_batches(contract)
    split = fx.split(mode="fraction", current_share=0.2)

    # Act
    ref, cur = split_reference_current(reference, reference.copy(), contract, split)
    again_ref, again_cur = split_reference_current(reference, reference.copy(), contract, split)

    # Assert
    assert len(ref) + len(cur) == len(reference)
    assert 0.15 < len(cur) / len(reference) < 0.25
    assert not set(ref["application_id"]) & set(cur["application_id"])
    pd.testing.assert_frame_equal(cur, again_cur)
    pd.testing.assert_frame_equal(ref, again_ref)


def test_fraction_mode_keeps_an_id_on_its_side_whatever_else_the_file_holds(contract):
    # Arrange
    reference, _ = _validated_batches(contract)
    split = fx.split(mode="fraction", current_share=0.3, seed=3)
    half = reference.iloc[: len(reference) // 2]

    # Act
    _, cur_all = split_reference_current(reference, reference, contract, split)
    _, cur_half = split_reference_current(half, half, contract, split)
    _, other_seed = split_reference_current(
        reference, reference, contract, fx.split(mode="fraction", current_share=0.3, seed=4)
    )

    # Assert
    in_half = set(half["application_id"])
    assert set(cur_half["application_id"]) == set(cur_all["application_id"]) & in_half
    assert set(other_seed["application_id"]) != set(cur_all["application_id"])


def test_fraction_mode_without_id_or_time_hashes_whole_rows(contract_params):
    # Arrange
    contract = _without(contract_params, "event_time_column", "id_column")
    reference = treat_pii(
        validate_raw(fx.applications(n_rows=800), contract, source="raw_reference"),
        contract,
        fx.SALT,
    )
    split = fx.split(mode="fraction", current_share=0.25)

    # Act
    ref, cur = split_reference_current(reference, reference.copy(), contract, split)

    # Assert: one copy split (no row twice), about a quarter current
    assert len(ref) + len(cur) == len(reference)
    assert 0.18 < len(cur) / len(reference) < 0.32
    assert "application_time" not in ref.columns


def test_without_time_the_last_row_of_an_id_in_file_order_wins(contract_params):
    # Arrange: a corrected copy of a row, later in the reference file
    contract = _without(contract_params, "event_time_column")
    raw = fx.applications(n_rows=400).drop(columns=["application_time"])
    correction = raw.iloc[[5]].assign(loan_amount=4321.0)
    raw = pd.concat([raw, correction], ignore_index=True)
    reference = treat_pii(validate_raw(raw, contract, source="raw_reference"), contract, fx.SALT)
    split = fx.split(mode="fraction", current_share=0.2)

    # Act
    ref, cur = split_reference_current(reference, reference.copy(), contract, split)
    union = pd.concat([ref, cur])

    # Assert
    rows = union[union["application_id"] == correction["application_id"].iloc[0]]
    assert rows["loan_amount"].tolist() == [4321.0]
    assert len(union) == len(raw) - 1


def test_files_mode_with_the_same_rows_in_both_says_why_and_what_to_use(contract):
    # Arrange: what one file behind both raw entries gives
    reference, _ = _validated_batches(contract)

    # Act / Assert
    with pytest.raises(DataContractViolation) as excinfo:
        split_reference_current(reference, reference.copy(), contract, fx.split())
    message = str(excinfo.value)
    assert "hold the same rows, but ingestion.split.mode is 'files'" in message
    assert "every duplicated id resolves to the current copy" in message
    assert "'fraction' (with current_share" in message and "'event_time' (with" in message


def test_an_empty_current_batch_is_refused_naming_the_split_and_the_counts(contract):
    # Arrange: a cut after every row
    reference, current = _validated_batches(contract)
    split = fx.split(mode="event_time", current_from="2030-01-01")

    # Act / Assert
    with pytest.raises(DataContractViolation) as excinfo:
        split_reference_current(reference, current, contract, split)
    message = str(excinfo.value)
    n_rows = len(reference) + len(current)
    assert "No current rows left after the split" in message
    assert "ingestion.split.mode: event_time, current_from: '2030-01-01'" in message
    assert f"{n_rows} reference row(s), 0 current row(s)" in message


def test_an_empty_reference_is_refused_naming_the_split_and_the_counts(contract):
    # Arrange
    reference, current = _validated_batches(contract)
    split = fx.split(mode="event_time", current_from="2000-01-01")

    # Act / Assert
    with pytest.raises(DataContractViolation) as excinfo:
        split_reference_current(reference, current, contract, split)
    message = str(excinfo.value)
    assert "ingestion.split.mode: event_time, current_from: '2000-01-01'" in message
    assert f"0 reference row(s), {len(reference) + len(current)} current row(s)" in message


def test_an_event_time_column_holding_numbers_names_the_key(raw_applications, contract):
    # Arrange: step numbers where times are declared
    raw = raw_applications.assign(application_time=range(len(raw_applications)))

    # Act
    message = _violation(raw, contract)

    # Assert
    assert "column 'application_time' holds numbers (int64, e.g. [0, 1, 2])" in message
    assert "contract.event_time_column makes it a datetime" in message
    assert "event_time_column: null with ingestion.split.mode: fraction" in message


def test_dropped_duplicate_ids_are_counted_in_the_report(contract, split):
    # Arrange: two corrected copies of reference rows
    reference, current = _validated_batches(contract)
    reference = pd.concat([reference, reference.iloc[[3, 7]]], ignore_index=True)
    ref, cur = split_reference_current(reference, current, contract, split)

    # Act
    report = report_ingestion(reference, current, ref, cur, contract, split)

    # Assert
    assert report["duplicate_id_rows_dropped"] == 2
    assert report["reference_rows"] == len(reference) - 2
    assert report["current_rows"] == len(current)
    assert report["split"] == {"mode": "files", "seed": 42}


def test_one_file_behind_both_entries_is_read_once_in_the_report(contract):
    # Arrange
    reference, _ = _validated_batches(contract)
    split = fx.split(mode="fraction", current_share=0.2)
    ref, cur = split_reference_current(reference, reference.copy(), contract, split)

    # Act
    report = report_ingestion(reference, reference.copy(), ref, cur, contract, split)

    # Assert
    assert report["same_rows_in_both"] is True
    assert report["duplicate_id_rows_dropped"] == 0
    assert report["reference_rows"] + report["current_rows"] == len(reference)


# --- the split block --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["143", "2026", "yesterday", 143])
def test_a_current_from_that_is_no_date_names_the_key(split_params: dict[str, Any], value: Any):
    # Arrange
    split_params.update(mode="event_time", current_from=value)

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        IngestionSplit.parse(split_params)
    message = str(excinfo.value)
    assert f"'ingestion.split.current_from': {str(value)!r} is not an ISO date" in message
    assert INGESTION_FILE in message


def test_an_unquoted_yaml_date_is_the_date_it_reads_as(split_params: dict[str, Any]):
    # Arrange
    split_params.update(yaml.safe_load("{mode: event_time, current_from: 2026-10-01}"))

    # Act
    split = IngestionSplit.parse(split_params)

    # Assert
    assert split.current_from == "2026-10-01"


def test_fraction_mode_requires_its_share(split_params: dict[str, Any]):
    # Arrange
    split_params.update(mode="fraction")

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        IngestionSplit.parse(split_params)
    assert "'ingestion.split': current_share is required when mode is 'fraction'" in str(
        excinfo.value
    )


def test_a_share_outside_fraction_mode_is_refused(split_params: dict[str, Any]):
    # Arrange
    split_params.update(mode="files", current_share=0.2)

    # Act / Assert
    with pytest.raises(ConfigError, match="current_share applies to mode 'fraction' only"):
        IngestionSplit.parse(split_params)

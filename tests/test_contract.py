"""Tests of the dataset contract: strict parsing, role consistency and per-column rules."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
import yaml

from cirrus.contract import CONTRACT_FILE, ContractError, DatasetContract, parse_contract
from cirrus.parameters import ConfigError
from tests import unit_fixtures as fx

contract_params = fx.contract_params

FILE = "conf/base/parameters_contract.yml"


def test_contract_file_defines_the_contract_block_and_parse_errors_name_it():
    # Arrange
    parameters = yaml.safe_load((fx.REPO / CONTRACT_FILE).read_text())
    assert isinstance(parameters.get("contract"), dict), f"{CONTRACT_FILE} has no contract block"
    broken = {**parameters["contract"], "featurs": []}

    # Act
    contract = parse_contract(parameters["contract"])

    # Assert: the committed block is the contract; a broken one is reported against that file
    assert contract.target == parameters["contract"]["target"]
    with pytest.raises(ContractError) as excinfo:
        parse_contract(broken)
    assert CONTRACT_FILE in str(excinfo.value)


def test_default_contract_parses(contract_params: dict[str, Any]):
    # Act
    contract = DatasetContract.parse(contract_params)

    # Assert
    assert isinstance(contract, DatasetContract)
    assert contract.task == "binary"
    assert contract.target == "defaulted"
    assert contract.features.numeric == contract_params["features"]["numeric"]
    assert contract.features.all == [
        *contract_params["features"]["numeric"],
        *contract_params["features"]["categorical"],
        *contract_params["features"]["datetime"],
    ]
    assert contract.pii == {"applicant_name": "drop", "email": "hash"}


def test_known_columns_lists_every_role_once_id_first(contract_params: dict[str, Any]):
    # Act
    known = DatasetContract.parse(contract_params).known_columns

    # Assert
    assert known[0] == "application_id"
    assert len(known) == len(set(known))
    assert {"application_time", "defaulted", "applicant_name", "email", "age"} <= set(known)
    assert "interest_rate" not in known


@pytest.mark.parametrize(
    ("path", "dotted"),
    [
        ((), "contract.featurs"),
        (("features",), "contract.features.numric"),
        (("columns", "age"), "contract.columns.age.nulable"),
    ],
)
def test_unknown_key_names_file_and_dotted_key(
    contract_params: dict[str, Any], path: tuple[str, ...], dotted: str
):
    # Arrange
    block = contract_params
    for key in path:
        block = block[key]
    block[dotted.rsplit(".", 1)[-1]] = ["age"]

    # Act / Assert
    with pytest.raises(ContractError) as excinfo:
        DatasetContract.parse(contract_params)
    message = str(excinfo.value)
    assert FILE in message
    assert f"unknown key '{dotted}'" in message


def test_misspelt_key_reports_both_unknown_and_missing(contract_params: dict[str, Any]):
    # Arrange
    contract_params["featurs"] = contract_params.pop("features")

    # Act / Assert
    with pytest.raises(ContractError) as excinfo:
        DatasetContract.parse(contract_params)
    assert "unknown key 'contract.featurs'" in str(excinfo.value)
    assert "missing required key 'contract.features'" in str(excinfo.value)


def test_wrong_literal_names_the_key(contract_params: dict[str, Any]):
    # Arrange
    contract_params["task"] = "classification"

    # Act / Assert
    with pytest.raises(ContractError, match=r"'contract\.task'") as excinfo:
        DatasetContract.parse(contract_params)
    assert FILE in str(excinfo.value)


def test_missing_block_names_the_file():
    # Act / Assert
    with pytest.raises(ContractError, match="Missing parameters block 'contract'") as excinfo:
        DatasetContract.parse(None)
    assert FILE in str(excinfo.value)


def test_contract_error_is_a_config_error_and_not_a_value_error():
    # Assert: a ValueError raised in a validator would become one more pydantic error
    assert issubclass(ContractError, ConfigError)
    assert not issubclass(ConfigError, ValueError)
    assert not issubclass(ContractError, ValueError)


@pytest.mark.parametrize(
    ("role", "column"), [("target", "defaulted"), ("id_column", "application_id")]
)
def test_role_listed_as_feature_is_rejected(
    contract_params: dict[str, Any], role: str, column: str
):
    # Arrange
    contract_params["features"]["categorical"].append(column)

    # Act / Assert
    with pytest.raises(ContractError, match=f"{role} '{column}' must not also be a feature"):
        DatasetContract.parse(contract_params)


def test_pii_column_listed_as_feature_is_rejected(contract_params: dict[str, Any]):
    # Arrange
    contract_params["features"]["categorical"].append("email")

    # Act / Assert
    with pytest.raises(ContractError, match=r"pii columns must not be features: \['email'\]"):
        DatasetContract.parse(contract_params)


def test_feature_declared_twice_is_rejected(contract_params: dict[str, Any]):
    # Arrange
    contract_params["features"]["categorical"].append("age")

    # Act / Assert
    with pytest.raises(ContractError, match=r"declared twice: \['age'\]"):
        DatasetContract.parse(contract_params)


def test_contract_without_features_is_rejected(contract_params: dict[str, Any]):
    # Arrange
    contract_params["features"] = {"numeric": [], "categorical": [], "datetime": []}

    # Act / Assert
    with pytest.raises(ContractError, match="at least one feature"):
        DatasetContract.parse(contract_params)


def test_rule_for_column_with_no_role_is_rejected(contract_params: dict[str, Any]):
    # Arrange
    contract_params["columns"]["interest_rate"] = {"min": 0}

    # Act / Assert
    with pytest.raises(ContractError, match="no role") as excinfo:
        DatasetContract.parse(contract_params)
    assert "interest_rate" in str(excinfo.value)
    assert FILE in str(excinfo.value)


def test_positive_class_outside_binary_is_rejected(contract_params: dict[str, Any]):
    # Arrange
    contract_params.update(task="multiclass", target="risk_grade")
    contract_params["columns"].pop("defaulted")

    # Act / Assert
    with pytest.raises(ContractError, match="positive_class applies to task 'binary' only"):
        DatasetContract.parse(contract_params)


def test_invalid_pii_treatment_names_the_key(contract_params: dict[str, Any]):
    # Arrange
    contract_params["pii"]["email"] = "encrypt"

    # Act / Assert
    with pytest.raises(ContractError, match=r"'contract\.pii\.email'"):
        DatasetContract.parse(contract_params)


def test_rule_for_id_column_is_not_nullable(contract_params: dict[str, Any]):
    # Arrange
    contract = DatasetContract.parse(contract_params)

    # Act
    rule = contract.rule_for("application_id")

    # Assert: duplicates are allowed here; ingestion keeps the latest record of each id
    assert rule.unique is False
    assert rule.nullable is False
    assert rule.dtype == "string"


def test_rule_for_target_is_not_nullable_and_keeps_declared_values(
    contract_params: dict[str, Any],
):
    # Arrange
    contract = DatasetContract.parse(contract_params)

    # Act
    rule = contract.rule_for("defaulted")

    # Assert
    assert rule.nullable is False
    assert rule.unique is False
    assert rule.dtype == "string"
    assert rule.allowed == ["0", "1"]


def test_rule_for_event_time_is_a_non_null_datetime(contract_params: dict[str, Any]):
    # Act
    rule = DatasetContract.parse(contract_params).rule_for("application_time")

    # Assert
    assert rule.dtype == "datetime"
    assert rule.nullable is False


@pytest.mark.parametrize(
    ("column", "dtype", "nullable"),
    [
        ("age", "int", False),  # declared
        ("annual_income", "float", True),  # numeric feature default
        ("postcode_area", "string", True),  # categorical feature, no rule at all
        ("email", "string", True),  # pii
    ],
)
def test_rule_for_features_uses_declared_or_role_defaults(
    contract_params: dict[str, Any], column: str, dtype: str, nullable: bool
):
    # Act
    rule = DatasetContract.parse(contract_params).rule_for(column)

    # Assert
    assert rule.dtype == dtype
    assert rule.nullable is nullable
    assert rule.unique is False


def test_regression_target_defaults_to_float():
    # Arrange
    contract = fx.contract("regression")

    # Act
    rule = contract.rule_for("interest_rate")

    # Assert
    assert rule.dtype == "float"
    assert rule.nullable is False


def test_rule_for_does_not_change_the_declared_rule(contract_params: dict[str, Any]):
    # Arrange
    contract = DatasetContract.parse(contract_params)

    # Act
    contract.rule_for("application_id")

    # Assert
    assert contract.columns["application_id"].unique is False
    assert contract.columns["application_id"].nullable is True


def test_contract_is_frozen(contract_params: dict[str, Any]):
    # Arrange
    contract = DatasetContract.parse(contract_params)

    # Act / Assert
    with pytest.raises(pydantic.ValidationError):
        contract.target = "risk_grade"


# --- tables without time or id; YAML booleans; the event-time column's dtype ----------------


def test_a_table_without_event_time_or_id_parses(contract_params: dict[str, Any]):
    # Arrange
    contract_params.update(event_time_column=None, id_column=None)
    contract_params["features"]["datetime"] = []
    for column in ("application_time", "application_id"):
        contract_params["columns"].pop(column, None)

    # Act
    contract = DatasetContract.parse(contract_params)

    # Assert
    assert contract.event_time_column is None and contract.id_column is None
    assert None not in contract.known_columns
    assert contract.known_columns[0] == "age"


@pytest.mark.parametrize("spelled", [True, False])
def test_a_yaml_boolean_positive_class_asks_to_quote_it(
    contract_params: dict[str, Any], spelled: bool
):
    # Arrange: `positive_class: Yes` (or No) unquoted, as YAML reads it
    contract_params["positive_class"] = spelled

    # Act / Assert
    with pytest.raises(ContractError) as excinfo:
        DatasetContract.parse(contract_params)
    message = str(excinfo.value)
    assert f"'contract.positive_class': is the boolean {spelled}" in message
    assert "unquoted yes/no, true/false and on/off are YAML booleans" in message
    assert 'quote the label as the data holds it, e.g. positive_class: "Yes"' in message


def test_yaml_booleans_in_allowed_ask_to_quote_them(contract_params: dict[str, Any]):
    # Arrange: `allowed: [Yes, No]` unquoted, as YAML reads it
    parsed = yaml.safe_load("allowed: [Yes, No]")
    contract_params["columns"]["channel"] = parsed

    # Act / Assert
    with pytest.raises(ContractError) as excinfo:
        DatasetContract.parse(contract_params)
    message = str(excinfo.value)
    assert "'contract.columns.channel.allowed': holds the boolean(s) [True, False]" in message
    assert 'quote the values as the data spells them, e.g. ["Yes", "No"]' in message
    assert FILE in message


def test_booleans_in_allowed_of_a_boolean_column_are_kept(contract_params: dict[str, Any]):
    # Arrange
    contract_params["columns"]["channel"] = {"dtype": "bool", "allowed": [True, False]}

    # Act
    contract = DatasetContract.parse(contract_params)

    # Assert
    assert contract.columns["channel"].allowed == [True, False]


def test_an_event_time_column_declared_as_a_number_names_the_key(
    contract_params: dict[str, Any],
):
    # Arrange
    contract_params["columns"]["application_time"] = {"dtype": "int"}

    # Act / Assert
    with pytest.raises(ContractError) as excinfo:
        DatasetContract.parse(contract_params)
    message = str(excinfo.value)
    assert "event_time_column 'application_time' must hold dates or times" in message
    assert "columns.application_time declares dtype 'int'" in message
    assert "event_time_column: null (and ingestion.split.mode: fraction)" in message

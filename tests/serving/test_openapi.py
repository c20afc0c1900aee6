"""The server's own /openapi.json: every request field with its type, range and allowed values;
and property-based requests generated from it (schemathesis) never get a 5xx."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cirrus.serving.schema import TIME_RANGE
from tests.serving.live import TOKEN, LiveServer

AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_EXAMPLES = 50  # per operation: bounded, so the run takes seconds
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def document(server: LiveServer) -> dict[str, Any]:
    """The served OpenAPI document."""
    with server.client() as client:
        return client.get("/openapi.json").json()


def component(document: dict[str, Any], name: str) -> dict[str, Any]:
    """A schema of the document's components."""
    return document["components"]["schemas"][name]


def kinds(field: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A field's schema by JSON type (a nullable field is anyOf the type and null)."""
    options = field.get("anyOf", [field])
    return {option.get("type", "enum"): option for option in options}


def test_every_request_field_is_documented_with_its_rule(document, columns):
    row = component(document, "CreditApplicationsRow")
    assert row["additionalProperties"] is False
    assert list(row["properties"]) == columns
    fields = {name: kinds(spec) for name, spec in row["properties"].items()}
    assert fields["age"]["integer"]["minimum"] == 18 and fields["age"]["integer"]["maximum"] == 120
    assert set(fields["annual_income"]) == {"number", "null"}
    assert fields["annual_income"]["number"]["minimum"] == 0
    assert fields["credit_score"]["number"]["maximum"] == 850
    assert fields["loan_term_months"]["integer"]["enum"] == [12, 24, 36, 48, 60]
    assert fields["home_ownership"]["string"]["enum"] == ["RENT", "OWN", "MORTGAGE", "OTHER"]
    assert fields["channel"]["string"]["enum"] == ["web", "branch", "partner", "phone"]
    assert "null" in fields["channel"]
    assert fields["application_time"]["string"]["format"] == "date-time"
    assert fields["postcode_area"]["string"]["maxLength"] == 128
    assert set(row["required"]) == {
        "application_time",
        "age",
        "loan_amount",
        "loan_term_months",
        "num_open_accounts",
        "num_delinquencies",
        "home_ownership",
        "employment_type",
    }


def test_the_answer_is_documented(document):
    result = component(document, "CreditApplicationsPrediction")["properties"]
    assert result["score"]["type"] == "number"
    assert result["prediction"]["enum"] == ["0", "1"]
    assert set(result["unknown_columns"]["items"]["enum"]) == {
        "home_ownership",
        "loan_purpose",
        "employment_type",
        "channel",
        "postcode_area",
    }
    ranged = result["out_of_range"]["items"]  # the ranged columns: one is a `const`
    assert ranged.get("enum", [ranged.get("const")]) == ["age"]
    assert "expected range" in result["out_of_range"]["description"]
    answer = component(document, "CreditApplicationsPredictResponse")
    assert set(answer["required"]) == {
        "request_id",
        "model_version",
        "feature_spec_hash",
        "bundle_version",
        "predictions",
    }
    predict = document["paths"]["/v1/predict"]["post"]
    assert {"200", "401", "422", "500", "503"} <= set(predict["responses"])


def in_range_times() -> st.SearchStrategy[str]:
    """ISO 8601 times the API accepts (what datetime64[ns] holds), naive or with an offset:
    schemathesis's own years 1 to 9999 are refused, so few requests would reach the model."""
    zones = st.one_of(st.none(), st.timezones())
    stamps = st.datetimes(min_value=TIME_RANGE[0], max_value=TIME_RANGE[1], timezones=zones)
    return stamps.map(datetime.isoformat)


def test_generated_requests_get_no_server_error(server: LiveServer):
    schemathesis.openapi.format("date-time", in_range_times())
    api = schemathesis.openapi.from_url(f"{server.url}/openapi.json", headers=AUTH)
    operations = [result.ok() for result in api.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/predict", "/v1/model", "/readyz", "/healthz"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            case.call_and_validate(base_url=server.url, headers=AUTH, checks=CHECKS)

        call()

"""Requests to /v1/predict: the answer's shape, and a 422 naming the field and what it expects
for every kind of bad request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.serving.conftest import MAX_ROWS
from tests.serving.live import LiveServer


def predict(server: LiveServer, body: Any = None, **request: Any) -> Any:
    """POST /v1/predict with the token."""
    with server.client() as client:
        if body is not None:
            return client.post("/v1/predict", json=body, **request)
        return client.post("/v1/predict", **request)


def problems(answer: Any) -> tuple[list[tuple[Any, ...]], str]:
    """The (path, type) of each problem of a 422, and its one-line message."""
    assert answer.status_code == 422, answer.text
    body = answer.json()
    return [(tuple(p["loc"]), p["type"]) for p in body["detail"]], body["message"]


def test_an_answer_has_a_result_per_row_in_order(server: LiveServer, row: dict[str, Any]):
    other = {**row, "application_id": "APP-X", "postcode_area": "PA-never-seen"}
    answer = predict(server, {"rows": [row, other]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {
        "request_id",
        "model_version",
        "feature_spec_hash",
        "bundle_version",
        "predictions",
    }
    assert answer.headers["x-request-id"] == body["request_id"]
    first, second = body["predictions"]
    assert first["application_id"] == row["application_id"]
    assert second["application_id"] == "APP-X"
    assert set(first) == {
        "application_id",
        "score",
        "prediction",
        "unknown_columns",
        "out_of_range",
    }
    assert 0 <= first["score"] <= 1 and first["prediction"] in {"0", "1"}
    assert first["unknown_columns"] == []
    assert second["unknown_columns"] == ["postcode_area"]
    assert first["out_of_range"] == second["out_of_range"] == []


def test_a_value_beyond_the_expected_range_is_scored_and_reported(
    server: LiveServer, row: dict[str, Any]
):
    # Arrange: the contract expects ages up to 90 (the training rows' range) and refuses
    # above 120; 100 is unlike the training rows but possible
    old = {**row, "age": 100}

    # Act
    answer = predict(server, {"rows": [row, old]})

    # Assert
    assert answer.status_code == 200, answer.text
    usual, unusual = answer.json()["predictions"]
    assert 0 <= unusual["score"] <= 1
    assert unusual["out_of_range"] == ["age"]
    assert usual["out_of_range"] == []


def test_nullable_columns_may_be_left_out(server: LiveServer, row: dict[str, Any]):
    for column in ("annual_income", "credit_score", "channel", "application_id"):
        row.pop(column)
    answer = predict(server, {"rows": [row]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"][0]["application_id"] is None


def test_a_missing_field_is_named(server: LiveServer, row: dict[str, Any]):
    del row["age"]
    found, message = problems(predict(server, {"rows": [row]}))
    assert found == [(("body", "rows", 0, "age"), "missing")]
    assert message == "rows[0].age: Field required"


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("age", "33", "Input should be a valid integer"),
        ("age", 33.5, "Input should be a valid integer"),
        ("loan_amount", "1000", "Input should be a valid number"),
        ("home_ownership", 1, "Input should be 'RENT', 'OWN', 'MORTGAGE' or 'OTHER'"),
        ("application_time", "last tuesday", "Input should be a valid datetime"),
        ("application_time", 1767225600, "ISO 8601"),
        ("postcode_area", True, "Input should be a valid string"),
    ],
)
def test_a_wrong_type_is_named(
    server: LiveServer, row: dict[str, Any], column: str, value: Any, expected: str
):
    row[column] = value
    found, message = problems(predict(server, {"rows": [row]}))
    assert [loc for loc, _ in found] == [("body", "rows", 0, column)]
    assert message.startswith(f"rows[0].{column}: ") and expected in message


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("age", 17, "greater than or equal to 18"),
        ("age", 121, "less than or equal to 120"),
        ("credit_score", 900.0, "less than or equal to 850"),
        ("loan_amount", -1.0, "greater than or equal to 0"),
        ("loan_term_months", 18, "Input should be 12, 24, 36, 48 or 60"),
        ("channel", "fax", "Input should be 'web', 'branch', 'partner' or 'phone'"),
        ("application_time", "1500-01-01T00:00:00", "between 1677-09-21"),
        ("age", None, "valid integer"),
    ],
)
def test_a_value_outside_the_contract_is_named(
    server: LiveServer, row: dict[str, Any], column: str, value: Any, expected: str
):
    row[column] = value
    found, message = problems(predict(server, {"rows": [row]}))
    assert [loc for loc, _ in found] == [("body", "rows", 0, column)]
    assert expected in message, message


def test_an_unknown_field_is_named(server: LiveServer, row: dict[str, Any]):
    found, message = problems(predict(server, {"rows": [{**row, "email": "a@b.c"}]}))
    assert found == [(("body", "rows", 0, "email"), "extra_forbidden")]
    assert message == "rows[0].email: Extra inputs are not permitted"
    assert "a@b.c" not in json.dumps(predict(server, {"rows": [{**row, "email": "a@b.c"}]}).json())


def test_every_problem_of_every_row_is_listed(server: LiveServer, row: dict[str, Any]):
    bad = [{**row, "age": 5}, row, {**row, "channel": "fax", "loan_amount": None}]
    found, _ = problems(predict(server, {"rows": bad}))
    assert sorted(loc for loc, _ in found) == [
        ("body", "rows", 0, "age"),
        ("body", "rows", 2, "channel"),
        ("body", "rows", 2, "loan_amount"),
    ]


def test_too_many_rows_are_refused(server: LiveServer, row: dict[str, Any]):
    found, message = problems(predict(server, {"rows": [row] * (MAX_ROWS + 1)}))
    assert found == [(("body", "rows"), "too_long")]
    assert f"at most {MAX_ROWS} items" in message


def test_no_rows_are_refused(server: LiveServer):
    found, message = problems(predict(server, {"rows": []}))
    assert found == [(("body", "rows"), "too_short")]
    assert "at least 1 item" in message


@pytest.mark.parametrize("body", [{}, {"row": []}, [], "rows"])
def test_a_body_that_is_not_rows_is_refused(server: LiveServer, body: Any):
    found, _ = problems(predict(server, body))
    assert found


def test_malformed_json_is_refused(server: LiveServer):
    answer = predict(server, content=b'{"rows": [', headers={"content-type": "application/json"})
    found, message = problems(answer)
    assert found[0][1] == "json_invalid"
    assert message.startswith("body: not valid JSON")


def test_a_declared_body_too_large_is_refused_before_reading(
    server: LiveServer, row: dict[str, Any]
):
    huge = b'{"rows": [' + b" " * 10_000_000 + b"]}"
    found, message = problems(predict(server, content=huge))
    assert found == [(("body",), "body_too_large")]
    assert f"at most {MAX_ROWS} rows" in message


def test_a_streamed_body_too_large_is_refused(server: LiveServer):
    def chunks():
        yield b'{"rows": ['
        for _ in range(200):
            yield b" " * 65536  # no Content-Length: the size is counted as it arrives
        yield b"]}"

    found, _ = problems(predict(server, content=chunks()))
    assert found == [(("body",), "body_too_large")]


def test_the_server_answers_after_bad_requests(server: LiveServer, row: dict[str, Any]):
    assert predict(server, content=b"\xff\xfe garbage").status_code == 422
    assert predict(server, {"rows": [row]}).status_code == 200

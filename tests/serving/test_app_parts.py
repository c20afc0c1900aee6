"""The parts of the server on their own: the log rows it writes, its error answers, the token
and host checks. The app is built in this process here (a failure is injected into scoring);
everything about the served API itself is tested against the real server process."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from cirrus.contract import parse_contract
from cirrus.prediction_log import log_rows
from cirrus.scoring import Scorer, numeric_matrix, utc_now
from cirrus.serving.app import create_app, score_request
from cirrus.serving.artifacts import load_project
from cirrus.serving.config import ServeError, ServeOptions, check_auth, is_loopback, resolve_token
from cirrus.serving.guard import bearer_token, token_matches
from cirrus.serving.logbuffer import log_frame, logged_ids, pack
from cirrus.serving.models import build_served
from cirrus.serving.responses import place
from cirrus.serving.schema import body_limit
from tests.conftest import base_parameters
from tests.serving.live import TOKEN, request_rows


@pytest.fixture(scope="module")
def app_parts(serving_project: Path, monkeypatch_module: pytest.MonkeyPatch) -> Any:
    """The app of the trained project, built in this process, with its model loaded."""
    monkeypatch_module.setenv("CIRRUS_API_TOKEN", TOKEN)
    project = load_project(serving_project, None)
    app = create_app(ServeOptions(project_path=str(serving_project)), project)
    served = build_served(project.read_artifacts(), app.state.schema)
    app.state.holder.swap(served)
    return app, served


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    """A monkeypatch that lasts for the module."""
    with pytest.MonkeyPatch.context() as patch:
        yield patch


class ExplodingScorer(Scorer):
    """A scorer whose scoring fails, as a bug would."""

    def score_matrix(self, rows: pd.DataFrame) -> Any:
        raise RuntimeError("scoring exploded")


async def post_rows(app: Any, rows: list[dict[str, Any]]) -> httpx.Response:
    """POST /v1/predict to the in-process app."""
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return await client.post("/v1/predict", json={"rows": rows}, headers=headers)


def test_a_scoring_failure_is_a_500_with_the_request_id_and_the_next_request_works(
    app_parts: Any, test_rows: pd.DataFrame, columns: list[str], caplog: pytest.LogCaptureFixture
):
    app, served = app_parts
    rows = request_rows(test_rows.head(1), columns)
    exploding = ExplodingScorer(
        **{f.name: getattr(served.scorer, f.name) for f in dataclasses.fields(Scorer)}
    )
    app.state.holder.swap(dataclasses.replace(served, scorer=exploding))
    failed = asyncio.run(post_rows(app, rows))
    assert failed.status_code == 500
    request_id = failed.json()["request_id"]
    assert request_id in failed.json()["detail"]
    assert f"Scoring request {request_id} failed" in caplog.text
    app.state.holder.swap(served)
    assert asyncio.run(post_rows(app, rows)).status_code == 200


def test_log_rows_of_a_batch_of_requests_equal_batch_scoring_rows(
    app_parts: Any, test_rows: pd.DataFrame, columns: list[str]
):
    app, served = app_parts
    schema, scorer = app.state.schema, served.scorer
    requests = [test_rows.iloc[i : i + 3] for i in range(0, 12, 3)]
    answered, expected = [], []
    for index, table in enumerate(requests):
        validated = schema.request.model_validate({"rows": request_rows(table, columns)})
        payload, answer = score_request(validated.rows, served, schema, f"r{index}", utc_now())
        answered.append(answer)
        features, predictions, unknown = scorer.score(schema.frame(validated.rows, utc_now()))
        ids = table["application_id"].reset_index(drop=True).astype(object)
        expected.append(log_rows(features, predictions, unknown, scorer.spec, answer.identity, ids))
        assert [row["score"] for row in payload["predictions"]] == predictions["score"].tolist()
    (packed,) = pack(answered)
    logged = log_frame(packed, schema.contract, None)
    pd.testing.assert_frame_equal(logged, pd.concat(expected, ignore_index=True), check_exact=True)


def test_a_value_beyond_the_expected_range_is_answered_and_logged(
    app_parts: Any, test_rows: pd.DataFrame, columns: list[str]
):
    # Arrange: two rows, the second aged 100 (expected up to 90, refused above 120)
    app, served = app_parts
    schema = app.state.schema
    rows = request_rows(test_rows.head(2), columns)
    rows[1]["age"] = 100
    validated = schema.request.model_validate({"rows": rows})

    # Act
    payload, answer = score_request(validated.rows, served, schema, "r-range", utc_now())
    logged = log_frame(pack([answer])[0], schema.contract, None)

    # Assert
    assert [row["out_of_range"] for row in payload["predictions"]] == [[], ["age"]]
    assert logged["out_of_range"].tolist() == [[], ["age"]]
    assert logged["age"].tolist()[1] == 100


def test_a_hashed_pii_id_is_logged_hashed_and_a_dropped_one_not_at_all():
    contract = parse_contract(
        {**base_parameters("contract")["contract"], "pii": {"application_id": "hash"}}
        | {"features": base_parameters("contract")["contract"]["features"]}
    )
    hashed = logged_ids(["APP-1", None], contract, "salt")
    assert hashed.iloc[0] != "APP-1" and len(hashed.iloc[0]) == 64 and pd.isna(hashed.iloc[1])
    dropped = contract.model_copy(update={"pii": {"application_id": "drop"}})
    assert logged_ids(["APP-1"], dropped, "salt") is None


def test_the_token_comes_from_the_environment_first():
    assert resolve_token({"api_token": "from-file"}, {}) == "from-file"
    assert resolve_token({"api_token": "from-file"}, {"CIRRUS_API_TOKEN": "env"}) == "env"
    assert resolve_token({}, {}) is None and resolve_token({"api_token": ""}, {}) is None


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (b"Bearer abc", "abc"),
        (b"bearer   abc ", "abc"),
        (b"Basic abc", None),
        (b"Bearer", None),
    ],
)
def test_the_bearer_token_is_read_from_the_header(header: bytes, token: str | None):
    assert bearer_token([(b"authorization", header)]) == token


def test_tokens_are_compared_whole():
    assert token_matches("abc", "abc")
    assert not token_matches("ab", "abc") and not token_matches(None, "abc")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.org", False),
    ],
)
def test_only_loopback_hosts_may_serve_without_a_token(host: str, loopback: bool):
    assert is_loopback(host) is loopback
    options = ServeOptions(project_path=".", host=host, auth=False)
    if loopback:
        check_auth(options, None)
    else:
        with pytest.raises(ServeError, match="--no-auth is refused"):
            check_auth(options, None)


def test_the_body_limit_grows_with_the_rows():
    contract = parse_contract(base_parameters("contract")["contract"])
    assert body_limit(contract, 2000) > 2 * body_limit(contract, 1000) - 5000
    assert 1_000_000 < body_limit(contract, 1000) < 20_000_000


def test_a_problem_names_the_field_as_it_is_written():
    assert place(("body", "rows", 3, "age")) == "rows[3].age"
    assert place(("body",)) == "body"


def test_options_reach_the_workers_unchanged():
    options = ServeOptions(project_path="/p", env="cloud", port=9, workers=3, max_rows=7)
    assert ServeOptions.from_env({"CIRRUS_SERVE_OPTIONS": options.to_env()}) == options
    with pytest.raises(ServeError):
        ServeOptions.from_env({})


def test_the_request_path_scores_as_the_features_table(app_parts: Any, test_rows):
    scorer = app_parts[1].scorer
    frame = test_rows.head(40).drop(columns=["defaulted", "email"])
    matrix, columns, unknown = scorer.score_matrix(frame)
    features, predictions, unknown_too = scorer.score(frame)
    np.testing.assert_array_equal(matrix, numeric_matrix(features, scorer.spec))
    pd.testing.assert_frame_equal(pd.DataFrame(columns), predictions, check_exact=True)
    assert unknown == unknown_too

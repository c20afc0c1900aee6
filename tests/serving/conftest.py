"""One trained project for the serving tests, and one server on it for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cirrus.contract import parse_contract
from cirrus.demo_data.generator import generate_incoming_rows
from cirrus.parameters import DemoDataParams
from cirrus.serving.schema import request_columns
from tests.conftest import SMALL_DEMO, base_parameters, kedro, make_project, write_raw
from tests.serving.live import LiveServer, request_rows, start_server

MAX_ROWS = 50  # the shared server's --max-rows: small, so "too many rows" is cheap to send
INCOMING = {"n_rows": 300, "start": "2026-03-01", "end": "2026-03-08"}


@pytest.fixture(scope="session")
def serving_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy after `kedro run` on small data, with new rows to score in
    data/01_raw/credit_applications_new.csv (`raw_inference`)."""
    project = make_project(tmp_path_factory.mktemp("serving"))
    write_raw(project)
    incoming = generate_incoming_rows(DemoDataParams.parse({**SMALL_DEMO, "incoming": INCOMING}))
    incoming.to_csv(project / "data/01_raw/credit_applications_new.csv", index=False)
    result = kedro(project, "run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


@pytest.fixture(scope="session")
def server(serving_project: Path) -> Iterator[LiveServer]:
    """`kedro cirrus serve` on the trained project (read-only for the tests that use it)."""
    live = start_server(serving_project, "--max-rows", str(MAX_ROWS))
    yield live
    live.stop()


@pytest.fixture(scope="session")
def columns() -> list[str]:
    """The fields of a request row, from the committed contract."""
    return request_columns(parse_contract(base_parameters("contract")["contract"]))


@pytest.fixture(scope="session")
def test_rows(serving_project: Path) -> pd.DataFrame:
    """The held-out rows the evaluation scored."""
    return pd.read_parquet(serving_project / "data/03_primary/test_rows.parquet")


@pytest.fixture
def row(test_rows: pd.DataFrame, columns: list[str]) -> dict[str, Any]:
    """One valid request row (a fresh copy for each test to change)."""
    return request_rows(test_rows.head(1), columns)[0]

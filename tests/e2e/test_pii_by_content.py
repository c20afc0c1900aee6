"""A table with people's names, e-mails, phones and ids of every cardinality, adapted with
`init-contract` alone and run through training and batch scoring: no raw value of a column it
marks as PII is in any output, committed configuration file, console output, report, model or
OpenAPI document. A column of six staff names (too few values for the old name check) is one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cirrus.serving.app import create_app
from cirrus.serving.artifacts import load_project
from cirrus.serving.config import ServeOptions
from tests import shapes
from tests.conftest import kedro, make_project
from tests.e2e.test_pii import Grep
from tests.serving.live import TOKEN

STAFF = ["Anna Meyer", "Ben Schmidt", "Carla Novak", "David Rossi", "Emma Dubois", "Felix Garcia"]
SALT = "salt-for-the-pii-scan-8d21"


def _table() -> pd.DataFrame:
    """The churn shape (an id, full names, e-mails, phones) plus a column of six staff names."""
    frame = shapes.churn_without_time(n_rows=1200, seed=4)
    frame["handled_by"] = np.random.default_rng(4).choice(STAFF, len(frame))
    return frame


def _openapi(project: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The API's OpenAPI document for the trained project, built in this process."""
    monkeypatch.setenv("CIRRUS_API_TOKEN", TOKEN)
    monkeypatch.setenv("CIRRUS_PII_SALT", SALT)
    app = create_app(ServeOptions(project_path=str(project)), load_project(project, None))
    return json.dumps(app.openapi()).encode()


def test_no_raw_pii_value_anywhere_after_init_contract_and_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange
    project = make_project(tmp_path / "project")
    raw = _table()
    raw.to_csv(project / "data/01_raw/customers.csv", index=False)
    env = {"CIRRUS_PII_SALT": SALT}

    # Act
    init = kedro(
        project,
        "cirrus",
        "init-contract",
        "data/01_raw/customers.csv",
        "--target",
        "churned",
        "--force",
        env=env,
    )
    run = kedro(project, "run", env=env)
    scoring = kedro(project, "run", "--pipelines", "inference", env=env)
    contract = yaml.safe_load((project / "conf/base/parameters_contract.yml").read_text())
    openapi = _openapi(project, monkeypatch)

    # Assert
    for result in (init, run, scoring):
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    pii = contract["contract"]["pii"]
    assert {"handled_by", "full_name", "email", "phone"} <= set(pii)
    assert "review" in (project / "conf/base/parameters_contract.yml").read_text()
    values = sorted({str(v) for column in pii for v in raw[column].dropna().unique()})
    grep = Grep(values, tmp_path)
    outputs = [
        path
        for path in (project / "data").rglob("*")
        if path.is_file() and "01_raw" not in path.parts
    ]
    committed = [path for path in (project / "conf").rglob("*") if path.is_file()]
    assert len(outputs) > 20
    assert grep.hits_in_files(outputs) == {}
    assert grep.hits_in_files(committed) == {}
    for result in (init, run, scoring):
        assert grep.hits((result.stdout + result.stderr).encode()) == set()
    assert grep.hits(openapi) == set()

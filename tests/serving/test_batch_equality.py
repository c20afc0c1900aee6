"""The API scores exactly as batch scoring and the evaluation do, and logs in the same schema."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cirrus.prediction_log import PredictionLog
from tests.conftest import kedro
from tests.serving.conftest import MAX_ROWS
from tests.serving.live import LiveServer, request_rows

LOG_ROOT = "data/07_model_output/prediction_log"


def api_scores(server: LiveServer, table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Every row of a validated table scored through the API, MAX_ROWS per request."""
    results = []
    with server.client() as client:
        for start in range(0, len(table), MAX_ROWS):
            rows = request_rows(table.iloc[start : start + MAX_ROWS], columns)
            answer = client.post("/v1/predict", json={"rows": rows})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            for result in body["predictions"]:
                results.append({**result, "model_version": body["model_version"]})
    return pd.DataFrame(results)


@pytest.fixture(scope="module")
def batch(serving_project: Path) -> dict[str, pd.DataFrame]:
    """`kedro run --pipelines inference` on the project's rows to score: what it validated and
    what it scored."""
    result = kedro(serving_project, "run", "--pipelines", "inference")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = serving_project / "data"
    return {
        "validated": pd.read_parquet(data / "02_intermediate/validated_inference.parquet"),
        "scored": pd.read_parquet(data / "07_model_output/scored.parquet"),
    }


def test_api_scores_equal_batch_scores(server: LiveServer, batch: dict[str, Any], columns):
    api = api_scores(server, batch["validated"], columns)
    scored = batch["scored"]
    assert len(api) == len(scored) > 0
    assert api["application_id"].tolist() == scored["application_id"].tolist()
    assert api["score"].tolist() == scored["score"].tolist()  # exactly
    assert api["prediction"].tolist() == scored["prediction"].tolist()
    assert api["model_version"].unique().tolist() == scored["model_version"].unique().tolist()
    assert api["unknown_columns"].map(list).tolist() == scored["unknown_columns"].map(list).tolist()


def test_api_scores_equal_the_evaluation_on_held_out_rows(
    server: LiveServer, serving_project: Path, test_rows: pd.DataFrame, columns
):
    evaluated = pd.read_parquet(serving_project / "data/07_model_output/test_predictions.parquet")
    api = api_scores(server, test_rows, columns)
    assert api["application_id"].tolist() == evaluated["application_id"].tolist()
    np.testing.assert_allclose(api["score"], evaluated["score"], rtol=0, atol=1e-12)
    # The evaluation writes the class index; the API the class label.
    assert (api["prediction"].astype(float) == evaluated["prediction"]).all()


def logged(project: Path, source: str, at_least: int) -> pd.DataFrame:
    """The log rows of a source, once it holds at least that many (the API flushes every 2 s)."""
    log = PredictionLog(fsspec.filesystem("file"), str(project / LOG_ROOT))
    deadline = time.monotonic() + 15
    while True:
        rows = log.read()
        rows = rows[rows["source"] == source] if "source" in rows else rows
        if len(rows) >= at_least or time.monotonic() > deadline:
            return rows.reset_index(drop=True)
        time.sleep(0.2)


def test_api_and_batch_log_the_same_schema_and_values(
    server: LiveServer, serving_project: Path, batch: dict[str, Any], columns
):
    validated = batch["validated"].head(20)
    api_scores(server, validated, columns)
    api_rows = logged(serving_project, "api", len(validated))
    batch_rows = logged(serving_project, "batch", len(batch["scored"]))
    files = sorted((serving_project / LOG_ROOT).rglob("part-*.parquet"))
    schemas = {str(pq.read_schema(path).remove_metadata()) for path in files}
    assert len(schemas) == 1, schemas  # every file, from either source, has the same columns
    ids = validated["application_id"].tolist()
    api_values, batch_values = (comparable(rows, ids) for rows in (api_rows, batch_rows))
    pd.testing.assert_frame_equal(api_values, batch_values, check_exact=True)


def comparable(rows: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """What a log row says about a scored row (not who asked or when), for the given ids."""
    identity = ["request_id", "received_at", "source"]
    latest = rows.drop_duplicates("row_id", keep="last").set_index("row_id").loc[ids]
    return latest.drop(columns=identity).assign(unknown_columns=latest["unknown_columns"].map(list))

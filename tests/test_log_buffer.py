"""The prediction-log buffer never jams: a request whose rows cannot be logged is dropped and
named while the others are written, and a log that stays unwritable loses a counted number of
rows at shutdown, said in the log, never silently."""

from __future__ import annotations

import logging
from pathlib import Path

import fsspec
import pytest

from cirrus.prediction_log import REQUEST_ID, PredictionLog, log_identity
from cirrus.scoring import Scorer, numeric_matrix, utc_now
from cirrus.serving.logbuffer import API_SOURCE, Answered, LogBuffer
from tests.unit_fixtures import contract, feature_tables, model_bundle, trained_model


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    """The binary unit model, loaded as the server loads it."""
    text, _, _ = trained_model("binary")
    spec, _, _ = feature_tables("binary")
    return Scorer.load(text, spec, contract("binary"), model_bundle("binary"))


def _answered(scorer: Scorer, request_id: str, rows: int, bad: bool = False) -> Answered:
    """An answered request of `rows` test rows; a bad one has one prediction too few."""
    _, _, test = feature_tables("binary")
    matrix = numeric_matrix(test.head(rows), scorer.spec)
    predictions = scorer.prediction_columns(matrix)
    if bad:
        predictions = {name: values[:-1] for name, values in predictions.items()}
    identity = log_identity(request_id, utc_now(), scorer, API_SOURCE)
    return Answered(matrix, predictions, [[] for _ in range(rows)], scorer.spec, identity, None)


def _buffer(root: Path) -> LogBuffer:
    """A buffer writing in this process (no writer process) to a log under `root`."""
    log = PredictionLog(fsspec.filesystem("file"), root.as_posix())
    return LogBuffer(log, contract("binary"), "salt", max_rows=1000, max_seconds=60)


def test_a_bad_request_is_dropped_and_named_while_the_others_are_written(
    scorer: Scorer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    buffer = _buffer(tmp_path / "log")
    for request_id, bad in (("good-1", False), ("bad", True), ("good-2", False)):
        buffer.add(_answered(scorer, request_id, 3, bad))

    # Act
    with caplog.at_level(logging.ERROR):
        first = buffer.flush()
    buffer.add(_answered(scorer, "good-3", 2))
    second = buffer.flush()  # the buffer is not jammed by the bad one

    # Assert
    logged = buffer.log.read()
    assert first == 6 and second == 2 and buffer.rows_lost == 3
    assert sorted(set(logged[REQUEST_ID])) == ["good-1", "good-2", "good-3"]
    assert "3 row(s) of request bad cannot be logged and were dropped" in caplog.text


def test_an_unwritable_log_keeps_the_rows_then_counts_them_at_shutdown(
    scorer: Scorer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: the log's folder is a file, so no write can succeed
    blocked = tmp_path / "log"
    blocked.write_text("not a folder")
    buffer = _buffer(blocked)
    buffer.add(_answered(scorer, "r1", 4))
    buffer.add(_answered(scorer, "r2", 1))

    # Act
    with caplog.at_level(logging.ERROR):
        kept = buffer.flush()
        written = buffer.stop()

    # Assert
    assert kept == 0 and written == 0 and buffer.rows_lost == 5
    assert "2 request(s) kept for the next try" in caplog.text
    assert "5 answered row(s) of 2 request(s) were not written at shutdown" in caplog.text
    assert buffer.rows_written == 0

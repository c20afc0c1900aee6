"""The console of `kedro run` as a person reads it: short, without warnings, whole lines when
piped; Kedro's line per dataset and per node only when asked for (conf/logging-verbose.yml)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import kedro, make_project, write_raw

KEDRO_DETAIL = ("Loading data from", "Saving data to", "Running node", "out of")
# A default run on the small data: a line per stage, the split, the publish and the summary.
MAX_LINES = 30


@pytest.fixture(scope="module")
def piped_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A default `kedro run` whose console is a pipe of unknown width (COLUMNS unset)."""
    project = make_project(tmp_path_factory.mktemp("console"))
    write_raw(project)
    result = kedro(project, "run", env={"COLUMNS": None})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project, (result.stdout + result.stderr).splitlines()


def test_a_default_run_prints_a_few_lines_and_only_the_threshold_warning(piped_run):
    # Arrange
    _, lines = piped_run

    # Assert: the demo's fixed 0.5 threshold on about 16% positives is worth the one warning
    warnings = [line for line in lines if "WARNING" in line]
    assert len(warnings) == 1, "\n".join(warnings)
    assert "the decision threshold is fixed at 0.5: held-out recall" in warnings[0]
    assert [line for line in lines if any(text in line for text in KEDRO_DETAIL)] == []
    assert len(lines) <= MAX_LINES, "\n".join(lines)
    assert sum("Stage " in line for line in lines) == 5  # ingestion ... drift


def test_a_piped_run_keeps_each_summary_line_whole(piped_run):
    # Arrange: Rich wraps at 80 columns when it does not write to a terminal
    _, lines = piped_run
    text = "\n".join(lines)

    # Assert
    assert re.search(
        r"binary model: roc_auc \d\.\d{4} beats the trivial baseline's \d\.\d{4}", text
    )
    # The drift verdict in words (cirrus.drift.verdict), every sentence of it on the one line
    assert re.search(
        r"drift: (Retraining recommended \(.+\)\.|No retraining needed\.) "
        r"(\d+ of \d+ features drifted \(.+\): \d+%, (at or above|under) the \d+% that makes "
        r"the whole dataset drift\.|None of \d+ features drifted\.) "
        r"The predictions (drifted|did not drift); "
        r"the outcomes (drifted|did not drift|are not known yet)\.$",
        text,
        re.M,
    )
    assert re.search(
        r"evaluation_metrics: data/08_reporting/evaluation_metrics\.json\s*$", text, re.M
    )
    assert re.search(r"Split \(ingestion\.split\.mode: files\): .* current row\(s\)\.", text)
    assert [line for line in lines if line != line.rstrip()] == []  # no padding to a width


def test_the_verbose_logging_config_shows_each_dataset_and_node(piped_run):
    # Arrange
    project, _ = piped_run

    # Act
    result = kedro(
        project,
        "run",
        "--pipelines",
        "evaluation",
        env={"KEDRO_LOGGING_CONFIG": "conf/logging-verbose.yml"},
    )

    # Assert
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Loading data from test_features" in result.stdout
    assert "Saving data to evaluation_metrics" in result.stdout
    assert "Running node" in result.stdout


def test_a_piped_console_writes_plain_whole_lines(tmp_path: Path):
    # Arrange: Kedro's Rich handler on the root logger, as conf/logging.yml sets it up, in a
    # process writing to a pipe; then what settings.py runs before the first log line
    script = (
        "import logging\n"
        "from kedro.logging import RichHandler\n"
        "from cirrus.console import plain_logs_when_piped\n"
        "logging.getLogger().addHandler(RichHandler())\n"
        "plain_logs_when_piped()\n"
        "logging.getLogger('cirrus').warning('x' * 150 + ' end')\n"
    )

    # Act
    env = {"PATH": "/usr/bin:/bin", "TERM": "dumb"}
    piped = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path
    )

    # Assert: one line, the whole message, no padding after it
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert len(lines) == 1, piped.stdout
    assert lines[0].endswith("WARNING " + "x" * 150 + " end")

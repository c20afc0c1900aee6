"""Errors a person can read: a known failure is its message in a few lines, not a traceback.

Each case is a real `kedro` process; a known error exits non-zero with `Error: <message>` and a
hint, without Python's or rich's traceback; `--verbose` or CIRRUS_TRACEBACK=1 shows it, and an
error of an unknown kind keeps it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from kedro.framework.cli.project import run as kedro_run

from tests.conftest import kedro, make_project, write_raw

RAW = "data/01_raw/credit_applications.csv"
RAW_CURRENT = "data/01_raw/credit_applications_current.csv"
TYPO = "training.lgbm_params.num_leafs=4"
RICH_BOX = "╭─"
MAX_STDERR_LINES = 12
HINT = "CIRRUS_TRACEBACK=1"


def _flat(text: str) -> str:
    """Whitespace collapsed: rich wraps long log lines."""
    return " ".join(text.split())


def _assert_short_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Failed, said each fragment after `Error:`, in a few lines and without a traceback."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    lines = result.stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Error: ")]
    assert starts, result.stderr[-3000:]
    message = _flat("\n".join(lines[starts[0] :]).removeprefix("Error: "))
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{result.stderr[-3000:]}"
    assert HINT in result.stderr
    assert "Traceback" not in output and RICH_BOX not in output, output[-3000:]
    assert len(lines) <= MAX_STDERR_LINES, result.stderr[-3000:]


def _assert_traceback(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Failed with the full (rich) traceback, ending in the error."""
    assert result.returncode != 0, result.stdout[-2000:]
    assert RICH_BOX in result.stderr and "Traceback" in result.stderr, result.stderr[-3000:]
    flat = _flat(result.stderr)
    for fragment in fragments:
        assert fragment in flat, f"{fragment!r} not in:\n{result.stderr[-3000:]}"


# --- kedro run ---------------------------------------------------------------------------------


def test_help_of_run_lists_every_kedro_option_and_verbose(trained_project: Path) -> None:
    # Act
    result = kedro(trained_project, "run", "--help")

    # Assert
    assert result.returncode == 0, result.stderr[-2000:]
    for option in kedro_run.params:
        assert option.opts[-1] in result.stdout, option.opts
    assert "--verbose" in result.stdout and HINT in _flat(result.stdout)


def test_parameter_typo_is_its_message_alone(trained_project: Path) -> None:
    # Act: refused before any node, so the trained project is left as it was
    result = kedro(trained_project, "run", "--params", TYPO)

    # Assert
    _assert_short_error(result, "unknown key 'num_leafs'", "did you mean 'num_leaves'?")
    assert "Stage " not in result.stdout


def test_python_m_cirrus_is_the_same_run(trained_project: Path) -> None:
    # Arrange: the project's own package first, as in its image
    env = {**os.environ, "PYTHONPATH": str(trained_project / "src"), "COLUMNS": "200"}

    # Act
    result = subprocess.run(
        [sys.executable, "-m", "cirrus", "--params", TYPO],
        cwd=trained_project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    # Assert
    _assert_short_error(result, "unknown key 'num_leafs'")


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--verbose",), {}), ((), {"CIRRUS_TRACEBACK": "1"})],
    ids=["verbose", "environment"],
)
def test_traceback_of_a_known_error_on_request(
    trained_project: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    # Act
    result = kedro(trained_project, "run", "--params", TYPO, *args, env=env)

    # Assert
    _assert_traceback(result, "ParameterValidationError", "unknown key 'num_leafs'")


def test_contract_violation_in_the_raw_data(trained_project: Path, project_factory) -> None:
    # Arrange
    project = project_factory(trained_project)
    raw = pd.read_csv(project / RAW)
    raw.drop(columns=["credit_score"]).to_csv(project / RAW, index=False)

    # Act
    result = kedro(project, "run")

    # Assert
    _assert_short_error(result, "'raw_reference' is missing column(s) ['credit_score']")


def test_missing_input(tmp_path: Path) -> None:
    # Arrange: a project without its raw data
    project = make_project(tmp_path / "empty")

    # Act
    result = kedro(project, "run", "--pipelines", "ingestion")

    # Assert
    _assert_short_error(
        result, "Input data missing for this run", "'raw_reference'", "--pipelines demo_data"
    )


def test_input_file_that_cannot_be_read(tmp_path: Path) -> None:
    # Arrange: the current batch's file is a folder
    project = make_project(tmp_path / "unreadable")
    write_raw(project)
    (project / RAW_CURRENT).unlink()
    (project / RAW_CURRENT).mkdir()

    # Act
    result = kedro(project, "run", "--pipelines", "ingestion")

    # Assert
    _assert_short_error(result, "raw_current", "credit_applications_current.csv")


def test_quality_gate_failure(trained_project: Path, project_factory) -> None:
    # Arrange
    project = project_factory(trained_project)
    gate = "evaluation.quality_gate.binary.roc_auc.min=0.999"

    # Act
    result = kedro(project, "run", "--pipelines", "evaluation", "--params", gate)

    # Assert
    _assert_short_error(result, "Quality gate failed", "roc_auc", "below the minimum 0.999")
    assert "Stage evaluation" in result.stdout  # progress logs are kept


def test_an_unknown_error_keeps_its_traceback(trained_project: Path, project_factory) -> None:
    # Arrange: a local catalog loads the feature spec as a plain dict, which the nodes misuse
    project = project_factory(trained_project)
    (project / "conf/local/catalog.yml").write_text(
        "feature_spec:\n"
        "  type: json.JSONDataset\n"
        "  filepath: ${globals:data_root}/04_feature/feature_spec.json\n"
    )

    # Act
    result = kedro(project, "run", "--pipelines", "evaluation")

    # Assert
    _assert_traceback(result, "AttributeError", "'dict' object has no attribute")
    assert HINT not in result.stderr


# --- kedro cirrus ------------------------------------------------------------------------------


@pytest.fixture
def unversioned_project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A project copy outside any git repository (git may not look above tmp_path)."""
    return make_project(tmp_path / "plain"), {"GIT_CEILING_DIRECTORIES": str(tmp_path)}


def test_promote_outside_a_git_repository(unversioned_project) -> None:
    # Arrange
    project, env = unversioned_project

    # Act
    result = kedro(project, "cirrus", "promote", env=env)

    # Assert
    _assert_short_error(result, f"not a git repository: {project}", "git init")


def test_promote_outside_a_git_repository_with_the_traceback(unversioned_project) -> None:
    # Arrange
    project, env = unversioned_project

    # Act
    result = kedro(project, "cirrus", "promote", env={**env, "CIRRUS_TRACEBACK": "1"})

    # Assert
    _assert_traceback(result, "PromotionError", "not a git repository")


def test_promote_with_an_unknown_ref(tmp_path: Path) -> None:
    # Arrange
    project = make_project(tmp_path / "repo")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "conf", "pyproject.toml"], ["commit", "-qm", "init"]):
        subprocess.run([*git, *args], cwd=project, check=True, capture_output=True)

    # Act
    result = kedro(project, "cirrus", "promote", "--ref", "nope")

    # Assert
    _assert_short_error(result, "unknown git ref 'nope'")

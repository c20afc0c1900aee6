"""Errors a person can read: a known failure is its message in a few lines, not a traceback.

Each case is a real `kedro` process; a known error exits non-zero with `Error: <message>`, a
`Hint:` line and how to see the traceback, on stderr, in at most 5 lines, printed once (Kedro's
own log line of it is dropped), without Python's or rich's traceback; `--verbose` or
CIRRUS_TRACEBACK=1 shows it, and an error of an unknown kind keeps it. One case per command:
`kedro run` (default and cloud environments), `kedro cirrus export`, `serve`, `monitor`,
`init-contract`, `dvc-yaml` and `promote`.

What is counted: stderr, the error itself. A command that starts a Kedro session (`run`,
`monitor`) also logs its progress up to the failure on stdout; a command that does not prints
at most Kedro's start-up line there, and its whole output is held to the same 5 lines.
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
MAX_ERROR_LINES = 5
HINT = "CIRRUS_TRACEBACK=1"


def _flat(text: str) -> str:
    """Whitespace collapsed: rich wraps long log lines."""
    return " ".join(text.split())


def _assert_short_error(
    result: subprocess.CompletedProcess, *fragments: str, whole_output: bool = False
) -> None:
    """Failed, said each fragment after `Error:` with a hint, once, in at most 5 lines and
    without a traceback; `whole_output`: stdout and stderr together in at most 5 lines."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    lines = result.stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Error: ")]
    assert starts, result.stderr[-3000:]
    message = _flat("\n".join(lines[starts[0] :]).removeprefix("Error: "))
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{result.stderr[-3000:]}"
    assert any(line.startswith("Hint: ") for line in lines[starts[0] :]), result.stderr
    assert HINT in result.stderr
    assert "Traceback" not in output and RICH_BOX not in output, output[-3000:]
    assert len(lines) <= MAX_ERROR_LINES, result.stderr[-3000:]
    first_line = lines[starts[0]].removeprefix("Error: ")[:80]
    assert _flat(output).count(_flat(first_line)) == 1, output[-3000:]  # printed once
    if whole_output:
        assert len(output.splitlines()) <= MAX_ERROR_LINES, output[-3000:]


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
    assert "ERROR" not in result.stdout  # Kedro's log line of it is dropped
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
    assert "failed with error" not in result.stdout  # Kedro's log line of it is dropped
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


def test_run_in_the_cloud_environment_without_a_storage_root(tmp_path: Path) -> None:
    # Arrange: OmegaConf wraps the resolver's StorageRootError while Kedro loads the config
    project = make_project(tmp_path / "cloud")

    # Act
    result = kedro(project, "run", "--env", "cloud", env={"CIRRUS_STORAGE_ROOT": None})

    # Assert
    _assert_short_error(result, "No storage root", "CIRRUS_STORAGE_ROOT")
    assert "InterpolationResolutionError" not in result.stderr


# --- kedro cirrus ------------------------------------------------------------------------------


def test_export_without_a_storage_root(tmp_path: Path) -> None:
    # Arrange
    project = make_project(tmp_path / "export")

    # Act
    result = kedro(project, "cirrus", "export", "argo", env={"CIRRUS_STORAGE_ROOT": None})

    # Assert
    _assert_short_error(result, "No storage root", "CIRRUS_STORAGE_ROOT", whole_output=True)
    assert not (project / "build").exists()


def test_export_without_a_storage_root_with_the_traceback(tmp_path: Path) -> None:
    # Arrange
    project = make_project(tmp_path / "export")
    env = {"CIRRUS_STORAGE_ROOT": None, "CIRRUS_TRACEBACK": "1"}

    # Act
    result = kedro(project, "cirrus", "export", "argo", env=env)

    # Assert
    _assert_traceback(result, "StorageRootError", "No storage root")


def test_serve_without_a_token_on_an_open_address(tmp_path: Path) -> None:
    # Arrange
    project = make_project(tmp_path / "serve")

    # Act
    result = kedro(project, "cirrus", "serve", "--no-auth", "--host", "0.0.0.0")

    # Assert
    _assert_short_error(result, "--no-auth is refused with --host 0.0.0.0", whole_output=True)


def test_monitor_with_too_few_logged_rows(trained_project: Path, project_factory) -> None:
    # Arrange: a prediction log of the test rows, and a minimum it does not reach
    project = project_factory(trained_project)
    scored = kedro(project, "run", "--pipelines", "inference")
    assert scored.returncode == 0, scored.stderr[-3000:]
    settings = project / "conf/base/parameters_monitoring.yml"
    text = settings.read_text()
    assert "min_rows: 50 " in text
    settings.write_text(text.replace("min_rows: 50 ", "min_rows: 1000000 "))

    # Act
    result = kedro(project, "cirrus", "monitor")

    # Assert: an error (1), not a verdict (0, or 3 for retraining)
    assert result.returncode == 1, result.stderr[-3000:]
    _assert_short_error(result, "monitoring.min_rows", "asks for 1000000")
    assert "Hint: Score rows first" in result.stderr
    assert "failed with error" not in result.stdout


def test_init_contract_of_a_missing_file(tmp_path: Path) -> None:
    # Arrange
    project = make_project(tmp_path / "init")
    before = (project / "conf/base/catalog.yml").read_text()

    # Act
    result = kedro(project, "cirrus", "init-contract", "data/01_raw/nope.csv", "--target", "y")

    # Assert
    _assert_short_error(result, "data/01_raw/nope.csv", whole_output=True)
    assert (project / "conf/base/catalog.yml").read_text() == before


def test_dvc_yaml_with_an_output_outside_data(tmp_path: Path) -> None:
    # Arrange
    project = make_project(tmp_path / "dvc")
    catalog = project / "conf/base/catalog.yml"
    inside = "filepath: ${globals:data_root}/08_reporting/evaluation_metrics.json"
    assert inside in catalog.read_text()
    catalog.write_text(
        catalog.read_text().replace(inside, "filepath: reports/evaluation_metrics.json")
    )

    # Act
    result = kedro(project, "cirrus", "dvc-yaml")

    # Assert
    _assert_short_error(
        result, "'evaluation_metrics'", "reports/evaluation_metrics.json", whole_output=True
    )
    assert not (project / "dvc.yaml").exists()


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
    _assert_short_error(result, f"not a git repository: {project}", "git init", whole_output=True)


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

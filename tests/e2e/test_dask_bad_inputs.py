"""Bad raw inputs on the Dask path: the pandas path's message, and no output changed.

Each case breaks the raw reference file of a small project, runs ingestion on pandas and on
Dask (`--env dask`), and checks that both fail with the same message, which names the file or
column, leaving every output as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import kedro, make_project, output_digests, write_raw
from tests.e2e.test_dask_env import SMALL_CLUSTER

RAW = "data/01_raw/credit_applications.csv"


def _missing_column(path: Path) -> None:
    pd.read_csv(path).drop(columns=["credit_score"]).to_csv(path, index=False)


def _text_in_numbers(path: Path) -> None:
    frame = pd.read_csv(path)
    frame["age"] = frame["age"].astype(object)
    frame.loc[frame.index[:3], "age"] = "forty"
    frame.to_csv(path, index=False)


def _empty_file(path: Path) -> None:
    path.write_bytes(b"")


def _cut_off(path: Path) -> None:
    text = path.read_text()
    path.write_text(text[: len(text) // 2] + '"unclosed')


def _feature_without_values(path: Path) -> None:
    frame = pd.read_csv(path)
    frame["employment_years"] = None
    frame.to_csv(path, index=False)


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing column": (_missing_column, "missing column(s) ['credit_score']"),
    "text in a numeric column": (_text_in_numbers, "column 'age' holds 3 value(s)"),
    "empty file": (_empty_file, "is an empty file (0 bytes)"),
    "file cut off": (_cut_off, "Damaged CSV file"),
    "feature without values": (_feature_without_values, "no value at all in feature column"),
}


@pytest.fixture(scope="module")
def small_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with small raw data and a small cluster (nothing run yet)."""
    project = make_project(tmp_path_factory.mktemp("dask-bad") / "project")
    write_raw(project)
    (project / "conf" / "dask" / "dask.yml").write_text(yaml.safe_dump(SMALL_CLUSTER))
    return project


def _error_line(output: str) -> str:
    """The run's error message, on one line (rich wraps long lines)."""
    flat = " ".join(output.split())
    found = re.search(r"Error: (.*?)(?: Hint: |$)", flat)
    assert found, flat[-3000:]
    return found.group(1)


@pytest.mark.parametrize("case", list(CASES))
def test_same_message_on_both_paths(small_project: Path, tmp_path: Path, case: str) -> None:
    import shutil

    project = tmp_path / "project"
    shutil.copytree(small_project, project)
    breaks, fragment = CASES[case]
    breaks(project / RAW)
    before = output_digests(project)

    on_pandas = kedro(project, "run", "--pipelines", "ingestion")
    on_dask = kedro(project, "run", "--env", "dask", "--pipelines", "ingestion")

    assert on_pandas.returncode != 0 and on_dask.returncode != 0
    expected = _error_line(on_pandas.stdout + on_pandas.stderr)
    found = _error_line(on_dask.stdout + on_dask.stderr)
    assert fragment in expected, expected
    assert found.startswith(expected.split(" (The failed run")[0]), (found, expected)
    assert output_digests(project) == before

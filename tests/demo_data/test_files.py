"""The demo writes only its own files: which entries are the demo's, the refusal, the advice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kedro.io import DataCatalog
from kedro_datasets.pandas import CSVDataset

from cirrus.demo_data.__main__ import NOT_THE_DEMO
from cirrus.demo_data.files import (
    DEMO_FILES,
    DemoDataRefused,
    foreign_entries,
    is_demo_file,
    refuse_foreign,
)
from cirrus.inputs import MissingInputError, require_inputs
from cirrus.parameters import ConfigError
from tests.conftest import REPO


def _catalog(project: Path, **files: str) -> DataCatalog:
    """The demo's raw entries under project/data, some pointed at other files."""
    paths = {name: f"data/{path}" for name, path in DEMO_FILES.items()} | files
    return DataCatalog(
        datasets={name: CSVDataset(filepath=str(project / p)) for name, p in paths.items()}
    )


def test_the_declared_demo_files_are_the_committed_catalog_entries() -> None:
    catalog = yaml.safe_load((REPO / "conf/base/catalog.yml").read_text())

    declared = {name: catalog[name]["filepath"] for name in DEMO_FILES}

    assert declared == {n: f"${{globals:data_root}}/{p}" for n, p in DEMO_FILES.items()}


@pytest.mark.parametrize(
    ("location", "root", "expected"),
    [
        ("data/01_raw/credit_applications.csv", "data", True),
        ("./data/01_raw/../01_raw/credit_applications.csv", "data", True),
        ("file:///p/data/01_raw/credit_applications.csv", "/p/data", True),
        ("s3://b/x/01_raw/credit_applications.csv", "s3://b/x/", True),
        ("data/01_raw/churn.csv", "data", False),
        ("s3://b/y/01_raw/credit_applications.csv", "s3://b/x", False),
        ("other/01_raw/credit_applications.csv", "data", False),
    ],
)
def test_an_entry_is_the_demos_only_at_the_demos_file_under_the_data_root(
    location: str, root: str, expected: bool
) -> None:
    assert is_demo_file("raw_reference", location, root, Path("/p")) is expected


def test_without_a_data_root_the_file_name_decides() -> None:
    assert is_demo_file("raw_current", "/tmp/x/credit_applications_current.csv")
    assert not is_demo_file("raw_current", "/tmp/x/churn.csv")
    assert not is_demo_file("raw_current", None)


def test_foreign_entries_names_only_the_demo_entries_pointing_elsewhere() -> None:
    locations = {
        "raw_reference": "data/01_raw/churn.csv",
        "raw_current": "data/01_raw/credit_applications_current.csv",
        "model": "data/06_models/model.txt",
    }

    assert foreign_entries(locations, "data") == {"raw_reference": "data/01_raw/churn.csv"}


def test_a_run_writing_a_repointed_entry_is_refused_naming_entry_and_file(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, raw_reference="data/01_raw/churn.csv")

    with pytest.raises(DemoDataRefused) as error:
        refuse_foreign(catalog, ["raw_reference", "raw_current"], "data", tmp_path)

    message = str(error.value)
    assert isinstance(error.value, ConfigError)  # a known error: printed without a traceback
    assert "raw_reference reads data/01_raw/churn.csv" in message
    assert "data/01_raw/credit_applications.csv" in message
    assert "raw_current" not in message
    assert "point these entries back at the demo's files" in error.value.hint
    assert len(message) < 300


def test_a_run_writing_only_the_demos_files_passes(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, raw_reference="data/01_raw/churn.csv")

    refuse_foreign(catalog, ["raw_inference", "validated_reference"], "data", tmp_path)


def test_missing_demo_file_of_a_demo_project_advises_the_demo_run(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)

    with pytest.raises(MissingInputError) as error:
        require_inputs(catalog, ["raw_inference"], "Input data missing")

    assert "'raw_inference'" in str(error.value)
    assert "run `kedro run --pipelines demo_data` first" in str(error.value)


def test_missing_input_of_a_project_on_its_own_data_never_advises_the_demo(
    tmp_path: Path,
) -> None:
    catalog = _catalog(
        tmp_path, raw_reference="data/01_raw/churn.csv", raw_current="data/01_raw/churn.csv"
    )

    with pytest.raises(MissingInputError) as error:
        require_inputs(catalog, ["raw_inference"], "Input data missing")

    message = str(error.value)
    assert "'raw_inference'" in message
    assert "put your file there, or point the entry at it in conf/base/catalog.yml" in message
    assert "demo_data" not in message


def _ask(project: Path) -> subprocess.CompletedProcess:
    """`python -m cirrus.demo_data` in a folder holding a copy of the project's conf."""
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    return subprocess.run(
        [sys.executable, "-m", "cirrus.demo_data"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_run_script_check_says_whether_the_demo_may_be_generated(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    for folder in ("base", "local"):
        (tmp_path / "conf" / folder).mkdir()
    for name in ("catalog.yml", "globals.yml"):
        (tmp_path / "conf/base" / name).write_text((REPO / "conf/base" / name).read_text())
    demo = _ask(tmp_path)
    (tmp_path / "conf/local/catalog.yml").write_text(
        "raw_current:\n  type: pandas.CSVDataset\n  filepath: data/01_raw/churn.csv\n"
    )

    own = _ask(tmp_path)

    assert (demo.returncode, demo.stdout) == (0, ""), demo.stderr[-2000:]
    assert own.returncode == NOT_THE_DEMO, own.stderr[-2000:]
    assert own.stdout.strip() == (
        "Demo data not regenerated: the project runs on its own data "
        "(raw_current reads data/01_raw/churn.csv)."
    )

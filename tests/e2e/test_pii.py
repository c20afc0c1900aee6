"""Raw PII never leaves 01_raw: no raw value of a PII column (nor the salt) in any file a run
writes, in the run's own log, in the Evidently report, or in the DVC cache outside the raw CSVs.

Parquet files are compressed, so their bytes alone could hide a value: they are also read and
every value searched as text. The search itself is GNU grep (`grep -F -f`) on the real files.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import yaml

from cirrus.contract import DatasetContract
from tests.conftest import (
    RAW_FILES,
    REPO,
    SMALL_DEMO,
    base_parameters,
    kedro,
    make_project,
    tool,
)

PII_SALT = "salt-for-the-pii-test-3f9c1e"
# Not written by a run; the DVC cache is searched on its own.
NOT_WRITTEN_BY_A_RUN = ("conf", "src", "pyproject.toml", ".dvc")


def _raw_pii_values(project: Path) -> list[str]:
    """Every raw value of every PII column of the contract, from the raw CSVs."""
    contract = DatasetContract.parse(base_parameters("contract")["contract"])
    values: set[str] = set()
    for name in RAW_FILES:
        frame = pd.read_csv(project / "data" / "01_raw" / name, dtype=str)
        for column in contract.pii:
            values |= set(frame[column].dropna())
    return sorted(values)


def _searchable(path: Path) -> bytes:
    """A file's bytes, followed for Parquet by every value it holds, as text."""
    data = path.read_bytes()
    if data[:4] == b"PAR1":
        table = pq.read_table(path)
        values = (str(value) for column in table.columns for value in column.to_pylist())
        data += b"\n" + "\n".join(values).encode()
    return data


class Grep:
    """Search content for a fixed set of strings with GNU grep."""

    def __init__(self, patterns: list[str], workdir: Path) -> None:
        self.file = workdir / "patterns.txt"
        self.file.write_text("\n".join(patterns) + "\n")

    def hits(self, content: bytes) -> set[str]:
        """The patterns found in the content."""
        result = subprocess.run(
            ["grep", "-a", "-o", "-F", "-f", str(self.file)],
            input=content,
            capture_output=True,
            check=False,
        )
        assert result.returncode in (0, 1), result.stderr  # 1: nothing found
        return set(result.stdout.decode(errors="replace").splitlines())

    def hits_in_files(self, paths: list[Path]) -> dict[str, list[str]]:
        """Each file with a hit, and a few of its hits."""
        found = {}
        for path in paths:
            hits = self.hits(_searchable(path))
            if hits:
                found[str(path)] = sorted(hits)[:5]
        return found


def _files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def _written_by_the_run(project: Path) -> list[Path]:
    """Every file in the project a run may write: all but the raw inputs, code, config and the
    DVC cache."""
    raw = project / "data" / "01_raw"
    return [
        path
        for path in _files_under(project)
        if raw not in path.parents
        and path.relative_to(project).parts[0] not in NOT_WRITTEN_BY_A_RUN
    ]


def test_the_search_finds_values_in_csv_and_inside_compressed_parquet(tmp_path: Path) -> None:
    # Arrange: a control for the search the other tests rely on
    grep = Grep(["ann.lee@example.com", "Ann Lee"], tmp_path)
    frame = pd.DataFrame({"email": ["ann.lee@example.com"] * 50, "name": ["Ann Lee"] * 50})
    frame.to_parquet(tmp_path / "t.parquet", compression="snappy")
    frame.to_csv(tmp_path / "t.csv", index=False)

    # Act
    found = grep.hits_in_files([tmp_path / "t.parquet", tmp_path / "t.csv"])

    # Assert
    assert found == {
        str(tmp_path / "t.parquet"): ["Ann Lee", "ann.lee@example.com"],
        str(tmp_path / "t.csv"): ["Ann Lee", "ann.lee@example.com"],
    }


def test_no_raw_pii_past_01_raw_after_a_run(trained_project: Path, project_factory) -> None:
    # Arrange
    project = project_factory(trained_project)
    values = _raw_pii_values(project)
    grep = Grep([*values, PII_SALT], project.parent)

    # Act
    result = kedro(project, "run", env={"CIRRUS_PII_SALT": PII_SALT})

    # Assert
    log = (result.stdout + result.stderr).encode()
    assert result.returncode == 0, log[-3000:]
    assert len(values) > 1000  # names and emails of the small demo data
    assert grep.hits((project / "data/01_raw/credit_applications.csv").read_bytes())  # control
    written = _written_by_the_run(project)
    assert project / "data/02_intermediate/validated_reference.parquet" in written
    assert project / "data/08_reporting/drift_report.html" in written
    assert grep.hits_in_files(written) == {}
    assert grep.hits(log) == set()


def _run(project: Path, *args: str) -> subprocess.CompletedProcess:
    """A command in the project (see `tool`) with this test's salt; it must succeed."""
    result = tool(project, *args, env={"CIRRUS_PII_SALT": PII_SALT})
    assert result.returncode == 0, f"{args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def test_no_raw_pii_in_the_dvc_cache_but_the_raw_files(tmp_path: Path) -> None:
    # Arrange: a git + DVC copy of the project on small demo data
    project = make_project(tmp_path / "project")
    shutil.copy2(REPO / "dvc.yaml", project / "dvc.yaml")
    shutil.copy2(REPO / ".gitignore", project / ".gitignore")
    (project / "conf/base/parameters_demo_data.yml").write_text(
        yaml.safe_dump({"demo_data": SMALL_DEMO}, sort_keys=False)
    )
    _run(project, "git", "init", "-q")
    _run(project, "dvc", "init", "-q")

    # Act
    repro = _run(project, "dvc", "repro")

    # Assert
    grep = Grep([*_raw_pii_values(project), PII_SALT], tmp_path)
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    raw_md5 = {out["md5"] for out in lock["stages"]["demo_data"]["outs"]}
    objects = _files_under(project / ".dvc" / "cache" / "files" / "md5")
    raw_objects = [path for path in objects if path.parent.name + path.name in raw_md5]
    assert len(raw_objects) == len(RAW_FILES)
    assert all(grep.hits(path.read_bytes()) for path in raw_objects)  # control
    others = [path for path in _files_under(project / ".dvc") if path not in raw_objects]
    assert len(others) > len(objects) - len(raw_objects) > 20  # every output, cached
    assert grep.hits_in_files(others) == {}
    assert grep.hits_in_files(_written_by_the_run(project)) == {}
    assert grep.hits((repro.stdout + repro.stderr).encode()) == set()

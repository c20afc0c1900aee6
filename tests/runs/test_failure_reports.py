"""Keeping a failed run's reports never fails the failure handling: a full disk while copying them
leaves the run's own error as the one reported, no half-written report, and no staging behind;
each failed run keeps its reports in a folder of its own, the newest few kept."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem

from cirrus.hooks import KEPT_REJECTED_RUNS, REJECTED_DIR, AllOrNothingHooks
from cirrus.runs.staging import Staging, prune_kept

REPORTS = ("08_reporting/evaluation_metrics.json", "06_models/feature_importance.csv")


class DiskFullAt(LocalFileSystem):
    """The local disk, full when a copy reaches the named file: it is created, then the write
    fails with ENOSPC, as a real full disk leaves it."""

    cachable = False

    def __init__(self, full_at: str | None = None) -> None:
        super().__init__()
        self.full_at = full_at

    def cp_file(self, path1: str, path2: str, **kwargs: object) -> None:
        """Copy one file, unless the disk fills at it."""
        if self.full_at and path1.endswith(self.full_at):
            Path(path2).write_bytes(b"")
            raise OSError(errno.ENOSPC, "No space left on device", path2)
        super().cp_file(path1, path2, **kwargs)


def _failed_run(fs: LocalFileSystem, root: str, run_id: str) -> AllOrNothingHooks:
    """A run that staged its reports and a model table, then failed: the hooks as they are then."""
    staging = Staging(fs, root, run_id)
    staged = staging.plan([f"{root}/{name}" for name in (*REPORTS, "03_primary/rows.parquet")])
    for final, path in staged.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(f"{run_id}:{final.rsplit('/', 1)[1]}")
    hooks = AllOrNothingHooks()
    hooks._staging, hooks._root = staging, root
    return hooks


def _files(root: Path) -> dict[str, int]:
    """Every file under a folder, by relative path, with its size."""
    return {
        path.relative_to(root).as_posix(): path.stat().st_size
        for path in root.rglob("*")
        if path.is_file()
    }


def test_a_full_disk_while_keeping_reports_leaves_the_runs_error_and_no_staging(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    root = (tmp_path / "data").as_posix()
    fs = DiskFullAt("feature_importance.csv")
    hooks = _failed_run(fs, root, "full")
    error = ValueError("Quality gate failed: roc_auc 0.61 < 0.70")

    # Act
    with caplog.at_level(logging.WARNING):
        hooks.on_pipeline_error(error)

    # Assert
    files = _files(tmp_path / "data")
    assert str(error) == "Quality gate failed: roc_auc 0.61 < 0.70"  # the run's own error
    assert not any(name.startswith(".cirrus/staging") for name in files)  # staging discarded
    assert not any(".cirrus-staging-" in name for name in files)
    assert all(size > 0 for size in files.values()), files  # no 0-byte report left
    assert "Could not keep the failed run's reports" in caplog.text
    assert "No space left on device" in caplog.text
    assert "no output was changed" in caplog.text


def test_each_failed_run_keeps_its_reports_in_its_own_folder(tmp_path: Path) -> None:
    # Arrange
    root = (tmp_path / "data").as_posix()
    fs = DiskFullAt()

    # Act
    for run_id in ("first", "second"):
        error = ValueError(f"run {run_id} failed")
        _failed_run(fs, root, run_id).on_pipeline_error(error)

    # Assert
    rejected = tmp_path / "data" / REJECTED_DIR
    folders = sorted(path.name for path in rejected.iterdir())
    assert [name.rsplit("-", 1)[1] for name in folders] == ["first", "second"]
    for folder, run_id in zip(folders, ("first", "second"), strict=True):
        kept = rejected / folder
        assert (kept / "evaluation_metrics.json").read_text() == f"{run_id}:evaluation_metrics.json"
        assert f"run {run_id} failed" in (kept / "reason.txt").read_text()
    assert f"reports are in {rejected.as_posix()}/{folders[-1]}" in str(error)


def test_only_the_newest_failed_runs_reports_are_kept(tmp_path: Path) -> None:
    # Arrange
    fs = LocalFileSystem()
    parent = tmp_path / "rejected"
    names = [f"2026120{day}T000000Z-run{day}" for day in range(1, 9)]
    for name in names:
        (parent / name).mkdir(parents=True)
        (parent / name / "reason.txt").write_text(name)

    # Act
    removed = prune_kept(fs, parent.as_posix(), KEPT_REJECTED_RUNS)

    # Assert
    assert sorted(path.name for path in parent.iterdir()) == names[-KEPT_REJECTED_RUNS:]
    assert [Path(path).name for path in removed] == names[:-KEPT_REJECTED_RUNS]

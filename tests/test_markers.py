"""The markers every test gets from where it lives, so `pytest -m "not slow"` is the quick loop."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.conftest import FILE_MARKERS, FOLDER_MARKERS, REPO, heaviest_files_first, markers_for


def test_end_to_end_folders_are_slow() -> None:
    assert markers_for(Path("tests/e2e/test_kedro_run.py"), set()) == {"e2e", "slow"}
    assert markers_for(Path("tests/notebooks/test_notebooks.py"), set()) == {"e2e", "slow"}


def test_emulator_and_browser_files_are_slow() -> None:
    assert markers_for(Path("tests/e2e/test_cloud_env.py"), set()) == {"cloud", "e2e", "slow"}
    assert markers_for(Path("tests/versioning/test_dvc_remotes.py"), set()) == {"cloud", "slow"}
    assert markers_for(Path("tests/e2e/test_viz.py"), set()) == {"browser", "e2e", "slow"}


def test_a_trained_project_makes_any_test_slow() -> None:
    assert markers_for(Path("tests/test_scoring.py"), {"trained_project"}) == {"slow"}
    assert markers_for(Path("tests/test_scoring.py"), {"tmp_path"}) == set()


def test_unit_tests_are_in_the_quick_loop() -> None:
    assert markers_for(Path("tests/pipelines/training/test_nodes.py"), {"tmp_path"}) == set()


def test_every_marker_is_registered() -> None:
    """--strict-markers refuses an unregistered marker; this names the one that is missing."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    registered = {line.split(":")[0] for line in config["tool"]["pytest"]["ini_options"]["markers"]}
    used = {name for names in [*FOLDER_MARKERS.values(), *FILE_MARKERS.values()] for name in names}
    assert used | {"slow"} <= registered


class _Item:
    """What the ordering reads of a collected test: its file and its markers."""

    def __init__(self, path: str, slow: bool) -> None:
        self.path = Path(path)
        self.slow = slow

    def get_closest_marker(self, name: str) -> object | None:
        return object() if name == "slow" and self.slow else None


def test_files_with_the_most_work_go_first_and_stay_whole() -> None:
    # Arrange: many quick tests in one file, two slow ones split around another file's test
    quick = [_Item("tests/test_many.py", slow=False) for _ in range(30)]
    slow_a, slow_b = _Item("tests/e2e/test_run.py", True), _Item("tests/e2e/test_run.py", True)
    single = _Item("tests/test_single.py", slow=False)
    items = [*quick, slow_a, single, slow_b]

    # Act
    ordered = heaviest_files_first(items)

    # Assert
    assert ordered[:2] == [slow_a, slow_b]
    assert ordered[2:32] == quick
    assert ordered[-1] is single

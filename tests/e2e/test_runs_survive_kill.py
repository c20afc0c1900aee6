"""Runs survive `kill -9` and a second run: outputs are the previous set or the new one, whole.

Real `kedro run` processes, held at a named point (`CIRRUS_PAUSE_AT`) and killed there with
SIGKILL to their whole process group; then the next command repairs the data root.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import kedro, output_digests, write_raw

# A different raw batch: every output of the new run differs from the trained project's.
NEW_DATA = {
    "seed": 11,
    "reference": {"n_rows": 2500, "start": "2025-01-01", "end": "2026-01-01"},
    "current": {"n_rows": 700, "start": "2026-01-01", "end": "2026-03-01"},
}


# Evidently's report (and the float noise of its scores) and the run record (the run's id, times
# and memory) differ between two identical runs: these files are compared as "whole and not the
# previous one" rather than byte for byte.
UNSTABLE = (
    "data/08_reporting/drift_report.html",
    "data/08_reporting/drift_summary.json",
    "data/08_reporting/run_record.json",
)


def assert_is_set(project: Path, sets: dict[str, object], which: str) -> None:
    """Every output is exactly the `which` set's (old or new), none partial or left over."""
    found, expected = _data_files(project), dict(sets[which])  # type: ignore[call-overload]
    other = dict(sets["new" if which == "old" else "old"])  # type: ignore[call-overload]
    assert found.keys() == expected.keys()
    stable = [name for name in expected if name not in UNSTABLE or which == "old"]
    assert {n: found[n] for n in stable} == {n: expected[n] for n in stable}
    for name in set(UNSTABLE) - set(stable):
        assert found[name] != other[name], f"{name} is still the previous run's"
        text = (project / name).read_text()
        assert text.rstrip().endswith("</html>") if name.endswith(".html") else json.loads(text)


def _data_files(project: Path) -> dict[str, str]:
    """Digests of every output file, plus anything the run machinery left under data/."""
    digests = output_digests(project)
    leftovers = sorted(
        str(p.relative_to(project))
        for p in (project / "data").rglob("*")
        if p.is_file() and ".cirrus" in p.parts and p.name != "lock"
    )
    return {**digests, **dict.fromkeys(leftovers, "leftover")}


def _start(project: Path, pause_at: str, marker: Path) -> subprocess.Popen:
    """Start `kedro run` in its own process group, to be held at `pause_at`."""
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "true",
        "CIRRUS_PAUSE_AT": pause_at,
        "CIRRUS_PAUSE_FILE": str(marker),
    }
    kedro_bin = Path(sys.executable).with_name("kedro")
    return subprocess.Popen(
        [str(kedro_bin), "run"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_for(marker: Path, process: subprocess.Popen, seconds: float = 300) -> None:
    """Wait until the run reached its pause point."""
    deadline = time.monotonic() + seconds
    while not marker.exists():
        assert process.poll() is None, "the run ended before reaching its pause point"
        assert time.monotonic() < deadline, "the run never reached its pause point"
        time.sleep(0.1)


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the run and every process it started."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def sets(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The previous set (the trained project) and a complete new set (a run on new data)."""
    reference = tmp_path_factory.mktemp("new") / "project"
    shutil.copytree(trained_project, reference)
    write_raw(reference, NEW_DATA)
    result = kedro(reference, "run")
    assert result.returncode == 0, result.stderr[-3000:]
    return {"old": _data_files(trained_project), "new": _data_files(reference)}


@pytest.fixture
def project(trained_project: Path, tmp_path: Path) -> Path:
    """A copy of the trained project whose raw data was replaced by a new batch."""
    target = tmp_path / "project"
    shutil.copytree(trained_project, target)
    write_raw(target, NEW_DATA)
    return target


@pytest.mark.parametrize(
    ("pause_at", "survivor"),
    [
        ("node:validate_raw_current", "old"),  # during ingestion
        ("node:train_lightgbm_model", "old"),  # in training
        ("saved:model", "old"),  # right after a save
        ("publish:0", "new"),  # journal written, nothing moved yet
        ("publish:7", "new"),  # part-way through the publish
    ],
)
def test_a_killed_run_leaves_one_whole_set(
    project: Path, tmp_path: Path, sets: dict[str, object], pause_at: str, survivor: str
) -> None:
    # Arrange
    marker = tmp_path / "paused"
    run = _start(project, pause_at, marker)
    _wait_for(marker, run)

    # Act
    _kill_group(run)
    repaired = kedro(project, "catalog", "list-patterns")  # any next command repairs the root

    # Assert
    assert repaired.returncode == 0, repaired.stderr[-3000:]
    assert_is_set(project, sets, survivor)
    assert not list((project / "data" / ".cirrus").glob("staging"))


def test_the_next_run_after_a_kill_succeeds_with_the_new_set(
    project: Path, tmp_path: Path, sets: dict[str, object]
) -> None:
    # Arrange
    marker = tmp_path / "paused"
    run = _start(project, "node:train_lightgbm_model", marker)
    _wait_for(marker, run)
    _kill_group(run)

    # Act
    result = kedro(project, "run")

    # Assert
    assert result.returncode == 0, result.stderr[-3000:]
    assert_is_set(project, sets, "new")


def test_a_second_run_refuses_at_once_and_the_first_completes_its_own_set(
    project: Path, tmp_path: Path, sets: dict[str, object]
) -> None:
    # Arrange
    marker = tmp_path / "paused"
    first = _start(project, "node:train_lightgbm_model", marker)
    _wait_for(marker, first)

    # Act
    started = time.monotonic()
    second = kedro(project, "run")
    refused_after = time.monotonic() - started
    marker.unlink()  # let the first run go on
    first_code = first.wait(timeout=300)

    # Assert
    output = " ".join((second.stdout + second.stderr).split())
    assert second.returncode != 0
    assert "is locked by run" in output and f"pid {first.pid}" in output, output[-2000:]
    assert refused_after < 60  # refused before doing the work, not after
    assert first_code == 0
    assert_is_set(project, sets, "new")

"""Staging and the journaled publish, on the local disk and an in-memory object store."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec
import pytest

from cirrus.runs.staging import Staging, recover, staged_path

FILES = {"03_primary/a.parquet": b"new-a", "06_models/model.txt": b"new-model"}


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    """(filesystem, root) with the previous run's outputs in place."""
    fs = fsspec.filesystem(request.param)
    root = tmp_path.as_posix() + "/data" if request.param == "file" else f"/bucket-{id(fs)}/data"
    for name in FILES:
        fs.makedirs(f"{root}/{name.rsplit('/', 1)[0]}", exist_ok=True)
        fs.pipe_file(f"{root}/{name}", b"old-" + name.encode())
    yield fs, root
    if request.param == "memory":
        fs.rm(root.rsplit("/", 1)[0], recursive=True)


def _contents(fs, root: str) -> dict[str, bytes]:
    """Every data file under the root (the state folder excluded)."""
    files = fs.find(root)
    return {p[len(root) + 1 :]: fs.cat_file(p) for p in files if "/.cirrus" not in p}


def _publish_journal(fs, root: str, run_id: str, staged: str, final: str) -> None:
    """The journal a publish of one folder writes before its first move (as a kill leaves it)."""
    journal = {"run_id": run_id, "moves": [{"staged": staged, "final": final}]}
    fs.pipe_file(f"{root}/.cirrus/runs/{run_id}.publish.json", json.dumps(journal).encode())


def _stage(fs, root: str, run_id: str = "run1") -> Staging:
    """A run that planned its outputs and wrote all of them to staging."""
    staging = Staging(fs, root, run_id)
    staged = staging.plan(f"{root}/{name}" for name in FILES)
    for name, data in FILES.items():
        path = staged[f"{root}/{name}"]
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(path, data)
    return staging


def test_staged_outputs_live_under_the_state_folder_or_beside_outside_files() -> None:
    # Act
    inside = staged_path("/d/data", "r1", "/d/data/06_models/model.txt")
    outside = staged_path("/d/data", "r1", "/elsewhere/x.csv")

    # Assert
    assert inside == "/d/data/.cirrus/staging/r1/06_models/model.txt"
    assert outside == "/elsewhere/.cirrus-staging-r1/x.csv"


def test_nothing_changes_until_the_publish(store) -> None:
    # Arrange
    fs, root = store
    before = _contents(fs, root)

    # Act
    staging = _stage(fs, root)
    during = _contents(fs, root)
    published = staging.publish()

    # Assert
    assert during == before
    assert published == len(FILES)
    assert _contents(fs, root) == FILES
    assert not fs.exists(f"{root}/.cirrus/staging")
    assert fs.ls(f"{root}/.cirrus/runs", detail=False) == []


def test_a_discarded_run_leaves_the_previous_outputs(store) -> None:
    # Arrange
    fs, root = store
    before = _contents(fs, root)

    # Act
    _stage(fs, root).discard()

    # Assert
    assert _contents(fs, root) == before
    assert not fs.exists(f"{root}/.cirrus/staging")


def test_recovery_discards_the_staging_of_a_run_killed_before_its_publish(store) -> None:
    # Arrange
    fs, root = store
    before = _contents(fs, root)
    _stage(fs, root, "killed")  # the process died here: no publish, no discard

    # Act
    repairs = recover(fs, root)

    # Assert
    assert _contents(fs, root) == before
    assert repairs == ["discarded the staged outputs of unfinished run killed"]
    assert not fs.exists(f"{root}/.cirrus/staging")


def test_recovery_completes_a_publish_killed_half_way(store) -> None:
    # Arrange
    fs, root = store

    class Killed(BaseException):
        """Stands for the process dying after the first move."""

    def die_after_first(count: int) -> None:
        if count == 1:
            raise Killed

    staging = _stage(fs, root, "half")
    staging.on_move = die_after_first
    with pytest.raises(Killed):
        staging.publish()
    mixed = _contents(fs, root)

    # Act
    repairs = recover(fs, root)

    # Assert
    assert mixed != FILES and set(mixed.values()) & set(FILES.values())  # a mix, before repair
    assert _contents(fs, root) == FILES
    assert repairs == ["completed the interrupted publish of run half (1 moves)"]
    assert fs.ls(f"{root}/.cirrus/runs", detail=False) == []


def test_a_journal_cut_short_counts_as_no_journal(store) -> None:
    # Arrange
    fs, root = store
    before = _contents(fs, root)
    staging = _stage(fs, root, "cut")
    fs.pipe_file(staging.journal_path, b'{"run_id": "cut", "moves": [')

    # Act
    recover(fs, root)

    # Assert
    assert _contents(fs, root) == before


def test_a_folder_output_is_replaced_whole(store) -> None:
    # Arrange
    fs, root = store
    fs.makedirs(f"{root}/07_model_output/log", exist_ok=True)
    fs.pipe_file(f"{root}/07_model_output/log/old-part.parquet", b"old")
    staging = Staging(fs, root, "dir")
    staged = staging.plan([f"{root}/07_model_output/log"])[f"{root}/07_model_output/log"]
    fs.makedirs(staged, exist_ok=True)
    fs.pipe_file(f"{staged}/new-part.parquet", b"new")

    # Act
    staging.publish()

    # Assert
    names = sorted(p.rsplit("/", 1)[1] for p in fs.find(f"{root}/07_model_output/log"))
    assert names == ["new-part.parquet"]


def test_a_folder_publish_on_an_object_store_killed_while_setting_aside_resumes() -> None:
    # Arrange: of the old folder, only a.json was moved aside when the publish was killed
    fs = fsspec.filesystem("memory")
    root = f"/bucket-{id(fs)}/data"
    final = f"{root}/08_reporting/plots"
    fs.pipe_file(f"{final}.cirrus-old/a.json", b"old-a")
    fs.pipe_file(f"{final}/b.json", b"old-b")
    staged = staged_path(root, "run9", final)
    fs.pipe_file(f"{staged}/a.json", b"new-a")
    fs.pipe_file(f"{staged}/c.json", b"new-c")
    _publish_journal(fs, root, "run9", staged, final)

    # Act
    recover(fs, root)

    # Assert: the new set alone, nothing set aside left
    assert _contents(fs, root) == {
        "08_reporting/plots/a.json": b"new-a",
        "08_reporting/plots/c.json": b"new-c",
    }
    fs.rm(f"/bucket-{id(fs)}", recursive=True)


def test_a_folder_publish_on_an_object_store_killed_while_moving_in_resumes() -> None:
    # Arrange: the old folder is aside (marked complete) and a.json of the new one is in place
    fs = fsspec.filesystem("memory")
    root = f"/bucket-{id(fs)}/data"
    final = f"{root}/08_reporting/plots"
    fs.pipe_file(f"{final}.cirrus-old/b.json", b"old-b")
    fs.pipe_file(f"{final}.cirrus-old/.cirrus-aside-complete", b"")
    fs.pipe_file(f"{final}/a.json", b"new-a")
    staged = staged_path(root, "run9", final)
    fs.pipe_file(f"{staged}/c.json", b"new-c")
    _publish_journal(fs, root, "run9", staged, final)

    # Act
    recover(fs, root)

    # Assert
    assert _contents(fs, root) == {
        "08_reporting/plots/a.json": b"new-a",
        "08_reporting/plots/c.json": b"new-c",
    }
    fs.rm(f"/bucket-{id(fs)}", recursive=True)


def test_a_failed_runs_folder_output_is_kept_file_by_file(store) -> None:
    # Arrange
    fs, root = store
    staging = Staging(fs, root, "fail")
    staged = staging.plan([f"{root}/08_reporting/plots"])[f"{root}/08_reporting/plots"]
    fs.makedirs(staged, exist_ok=True)
    fs.pipe_file(f"{staged}/roc_curve.json", b"{}")

    # Act
    kept = staging.keep(f"{root}/08_reporting/rejected", lambda _: True, "why")

    # Assert
    assert kept == [f"{root}/08_reporting/rejected/plots"]
    assert fs.cat_file(f"{root}/08_reporting/rejected/plots/roc_curve.json") == b"{}"


def test_the_intent_lists_every_planned_move_before_anything_is_written(store) -> None:
    # Arrange
    fs, root = store
    staging = Staging(fs, root, "plan")

    # Act
    staging.plan([f"{root}/{name}" for name in FILES])
    intent = json.loads(fs.cat_file(staging.intent_path))

    # Assert
    assert sorted(move["final"] for move in intent["moves"]) == sorted(
        f"{root}/{name}" for name in FILES
    )


def test_a_failed_runs_reports_are_kept_aside_with_the_reason(store) -> None:
    # Arrange
    fs, root = store
    staging = Staging(fs, root, "rejected")
    staged = staging.plan(
        [f"{root}/08_reporting/evaluation_metrics.json", f"{root}/03_primary/a.parquet"]
    )
    for final, path in staged.items():
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(path, b"rejected-" + final.rsplit("/", 1)[1].encode())

    # Act
    kept = staging.keep(
        f"{root}/08_reporting/rejected", lambda rel: rel.startswith("08_reporting/"), "gate failed"
    )
    staging.discard()

    # Assert
    assert kept == [f"{root}/08_reporting/rejected/evaluation_metrics.json"]
    assert fs.cat_file(kept[0]) == b"rejected-evaluation_metrics.json"
    assert fs.cat_file(f"{root}/08_reporting/rejected/reason.txt") == b"gate failed"
    assert fs.cat_file(f"{root}/03_primary/a.parquet") == b"old-03_primary/a.parquet"

"""All-or-nothing outputs: a run writes beside the data, and a journaled publish moves it in.

While a run works, each of its outputs is written under `<root>/.cirrus/staging/<run id>/` (the
same filesystem or bucket as the data, so a move is a rename locally and a copy of whole objects
on object storage). Nothing under the data itself changes until the run has succeeded; then the
publish writes a journal listing every move, makes the moves, and deletes the journal. Whatever
the moment a process is killed, the next Cirrus command repairs the root before it does anything
else (`recover`): a journal left behind is completed (the new set wins), staging without a
journal is discarded (the previous set stays). So every file is either the previous run's or the
new run's, as a whole set, never a partial file.

Each run also records its planned moves up front (`<run id>.intent.json`), so the staging of a
run killed before it published, including outputs staged outside the root, can be found again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import posixpath
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cirrus.runs.lock import STATE_DIR

logger = logging.getLogger(__name__)
RUNS_DIR = "runs"
STAGING_DIR = "staging"
INTENT_SUFFIX = ".intent.json"
JOURNAL_SUFFIX = ".publish.json"


def new_run_id() -> str:
    """A short unique id for a run."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Move:
    """One staged output and the final place it is published to."""

    staged: str
    final: str


def state_dir(root: str) -> str:
    """Where a data root keeps its lock, journals and staging."""
    return f"{root}/{STATE_DIR}"


def staged_path(root: str, run_id: str, final: str) -> str:
    """Where an output of a run is written until the run publishes."""
    inside = final.startswith(f"{root}/")
    if inside:
        return f"{state_dir(root)}/{STAGING_DIR}/{run_id}/{final[len(root) + 1 :]}"
    # Outside the root: beside the final file, so the publish is still a rename.
    parent, name = posixpath.split(final)
    return f"{parent}/.cirrus-staging-{run_id}/{name}"


def _write_atomically(fs: Any, path: str, payload: dict[str, Any]) -> None:
    """Write a JSON record whole: to a temporary name, then moved into place."""
    fs.makedirs(posixpath.dirname(path), exist_ok=True)
    temporary = f"{path}.tmp-{uuid.uuid4().hex[:6]}"
    with fs.open(temporary, "w") as handle:
        handle.write(json.dumps(payload, indent=1))
        if hasattr(handle, "flush"):
            handle.flush()
        if hasattr(handle, "fileno"):
            with contextlib.suppress(OSError, ValueError):
                os.fsync(handle.fileno())
    fs.mv(temporary, path)


def _read_record(fs: Any, path: str) -> dict[str, Any] | None:
    """A JSON record, or None when it is missing or was cut short."""
    try:
        return json.loads(fs.cat_file(path))
    except (FileNotFoundError, ValueError):
        return None


def _moves_of(record: dict[str, Any] | None) -> list[Move]:
    """The moves a record lists."""
    return [Move(**move) for move in (record or {}).get("moves", [])]


def _remove(fs: Any, path: str) -> None:
    """Delete a file or folder if it exists."""
    with contextlib.suppress(FileNotFoundError):
        if fs.exists(path):
            fs.rm(path, recursive=True)


# Written into a folder set aside once all of the old folder's files are in it (object stores).
ASIDE_COMPLETE = ".cirrus-aside-complete"


def _is_local(fs: Any) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols


def _move_files(fs: Any, source: str, target: str) -> None:
    """Move every file under `source` to the same place under `target`, one object at a time:
    an object store has no folder to rename (and s3fs's recursive move also copies the folder's
    own key, which does not exist)."""
    for path in fs.find(source):
        fs.mv(path, f"{target}{path[len(source) :]}")
    _remove(fs, source)


def _replace_folder(fs: Any, move: Move) -> None:
    """Put a staged folder in its final place: the old one goes aside first, then the new one
    takes its name. Locally each step is a rename. On an object store each is a move of many
    objects, and a publish killed in between resumes where it stopped: the marker in the aside
    folder tells whether every old file had already been moved aside."""
    aside = f"{move.final}.cirrus-old"
    if _is_local(fs):
        if fs.exists(move.final):
            fs.mv(move.final, aside, recursive=True)
        fs.mv(move.staged, move.final, recursive=True)
    else:
        marker = f"{aside}/{ASIDE_COMPLETE}"
        if not fs.exists(marker):
            if fs.exists(move.final):
                _move_files(fs, move.final, aside)
            fs.pipe_file(marker, b"")
        _move_files(fs, move.staged, move.final)
    _remove(fs, aside)


def _replace(fs: Any, move: Move) -> None:
    """Put a staged output in its final place (a rename on local disk)."""
    fs.makedirs(posixpath.dirname(move.final), exist_ok=True)
    if fs.isdir(move.staged):
        _replace_folder(fs, move)
    else:
        fs.mv(move.staged, move.final)


@dataclass
class Staging:
    """The staged outputs of one run on one filesystem, and how to publish or discard them."""

    fs: Any
    root: str
    run_id: str
    moves: list[Move] = field(default_factory=list)
    # Test hook: called after each move of the publish with the number of moves made so far.
    on_move: Callable[[int], None] | None = None

    @property
    def _runs(self) -> str:
        return f"{state_dir(self.root)}/{RUNS_DIR}"

    @property
    def intent_path(self) -> str:
        return f"{self._runs}/{self.run_id}{INTENT_SUFFIX}"

    @property
    def journal_path(self) -> str:
        return f"{self._runs}/{self.run_id}{JOURNAL_SUFFIX}"

    def plan(self, finals: Iterable[str]) -> dict[str, str]:
        """Record where each final output is staged (before anything is written); final->staged."""
        self.moves = [Move(staged_path(self.root, self.run_id, f), f) for f in sorted(set(finals))]
        _write_atomically(self.fs, self.intent_path, self._record())
        return {move.final: move.staged for move in self.moves}

    def _record(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "moves": [vars(move) for move in self.moves]}

    def publish(self) -> int:
        """Make the staged outputs the data: journal, move each, clean up. Returns the count."""
        self.fs.invalidate_cache()
        written = [move for move in self.moves if self.fs.exists(move.staged)]
        journal = {"run_id": self.run_id, "moves": [vars(move) for move in written]}
        _write_atomically(self.fs, self.journal_path, journal)
        if self.on_move is not None:
            self.on_move(0)
        for count, move in enumerate(written, start=1):
            _replace(self.fs, move)
            if self.on_move is not None:
                self.on_move(count)
        self._clean()
        return len(written)

    def discard(self) -> None:
        """Drop everything the run staged; the data keeps its previous outputs."""
        for move in self.moves:
            _remove(self.fs, move.staged)
        self._clean()

    def keep(self, target: str, wanted: Callable[[str], bool], note: str) -> list[str]:
        """Copy the staged outputs whose path under the root `wanted` accepts into `target`,
        with `note` as `reason.txt`. A copy that fails (a full disk) is removed, never left
        half written, and the error raised; the copies made before it stay."""
        self.fs.invalidate_cache()
        kept = []
        _remove(self.fs, target)
        for move in self.moves:
            relative = move.final[len(self.root) + 1 :] if move.final.startswith(self.root) else ""
            if not relative or not wanted(relative) or not self.fs.exists(move.staged):
                continue
            destination = f"{target}/{relative.split('/', 1)[-1]}"
            # File by file: s3fs's recursive copy of a folder also copies the folder's own key.
            for path in self.fs.find(move.staged):
                copy = f"{destination}{path[len(move.staged) :]}"
                try:
                    self.fs.makedirs(posixpath.dirname(copy), exist_ok=True)
                    self.fs.copy(path, copy)
                except BaseException:
                    with contextlib.suppress(Exception):
                        _remove(self.fs, copy)
                    raise
            kept.append(destination)
        if kept:
            self.fs.pipe_file(f"{target}/reason.txt", note.encode())
        return kept

    def _clean(self) -> None:
        """Remove the run's journal, intent and staging folders."""
        staging_dir = f"{state_dir(self.root)}/{STAGING_DIR}"
        _remove(self.fs, f"{staging_dir}/{self.run_id}")
        with contextlib.suppress(FileNotFoundError):
            if self.fs.exists(staging_dir) and not self.fs.ls(staging_dir, detail=False):
                self.fs.rm(staging_dir, recursive=True)
        for move in self.moves:
            parent = posixpath.dirname(move.staged)
            if posixpath.basename(parent) == f".cirrus-staging-{self.run_id}":
                _remove(self.fs, parent)
        _remove(self.fs, self.journal_path)
        _remove(self.fs, self.intent_path)


def prune_kept(fs: Any, parent: str, keep: int) -> list[str]:
    """Remove all but the `keep` newest run folders under `parent` (named to sort by time)."""
    fs.invalidate_cache()
    if not fs.exists(parent):
        return []
    folders = sorted(p for p in fs.ls(parent, detail=False) if fs.isdir(p))
    removed = folders[: max(len(folders) - keep, 0)]
    for folder in removed:
        _remove(fs, folder)
    return removed


def recover(fs: Any, root: str) -> list[str]:
    """Repair a root after killed runs: finish interrupted publishes, drop orphaned staging.

    Call it only while holding the root's lock (or knowing no run is active). Returns one line
    per repair, for the log.
    """
    runs = f"{state_dir(root)}/{RUNS_DIR}"
    fs.invalidate_cache()
    if not fs.exists(runs):
        _remove(fs, f"{state_dir(root)}/{STAGING_DIR}")
        return []
    repairs = []
    names = sorted(posixpath.basename(p) for p in fs.ls(runs, detail=False))
    run_ids = sorted({name.split(".", 1)[0] for name in names if name.endswith(".json")})
    for run_id in run_ids:
        staging = Staging(fs, root, run_id)
        journal = _read_record(fs, staging.journal_path)
        if journal is not None:
            staging.moves = _moves_of(journal)
            done = 0
            for move in staging.moves:
                if fs.exists(move.staged):
                    _replace(fs, move)
                    done += 1
            staging.moves = _moves_of(_read_record(fs, staging.intent_path)) or staging.moves
            staging._clean()
            repairs.append(f"completed the interrupted publish of run {run_id} ({done} moves)")
        else:
            staging.moves = _moves_of(_read_record(fs, staging.intent_path))
            staging.discard()
            repairs.append(f"discarded the staged outputs of unfinished run {run_id}")
    # Leftover temporary records and staging of runs that never wrote an intent.
    for name in names:
        if ".tmp-" in name:
            _remove(fs, f"{runs}/{name}")
    _remove(fs, f"{state_dir(root)}/{STAGING_DIR}")
    return repairs

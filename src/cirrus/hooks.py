"""Project hooks: the PII salt from credentials, fail-fast parameter checks, safe outputs."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import MemoryDataset
from kedro.pipeline import Pipeline

from cirrus.catalog import (
    ALL_PARAMETERS,
    PII_SALT_DATASET,
    local_filepath,
    remote_location,
    stored_inputs,
)
from cirrus.inputs import require_inputs
from cirrus.preflight import check_blocks, parse_unread_blocks, require_blocks

logger = logging.getLogger(__name__)
PII_SALT_ENV = "CIRRUS_PII_SALT"


class PiiSaltHooks:
    """Expose the PII salt (credentials `pii_salt` or env CIRRUS_PII_SALT) as a dataset."""

    @hook_impl
    def after_catalog_created(self, catalog: Any, conf_creds: dict[str, Any]) -> None:
        """Register the salt in memory only, so it is never written anywhere."""
        salt = (conf_creds or {}).get(PII_SALT_DATASET) or os.environ.get(PII_SALT_ENV)
        catalog[PII_SALT_DATASET] = MemoryDataset(salt, copy_mode="assign")


class ParametersCheckHooks:
    """Check what spans parameter blocks before any node runs, so a typo never costs a run.

    Each block the run's nodes read is already parsed into its typed model by Kedro's parameter
    validation when the catalog is built; the blocks no node reads are parsed here.
    """

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Require the blocks the run reads, parse the unread ones, check across blocks."""
        keys = sorted(
            n.removeprefix("params:") for n in pipeline.inputs() if n.startswith("params:")
        )
        require_blocks(keys, {key for key in keys if f"params:{key}" in catalog})
        declared = catalog.load(ALL_PARAMETERS) if ALL_PARAMETERS in catalog else {}
        blocks = {key: catalog.load(f"params:{key}") for key in keys}
        blocks.update(parse_unread_blocks(declared))
        if "contract" not in blocks and "contract" in declared:
            blocks["contract"] = declared["contract"]
        check_blocks(blocks)


class InputsCheckHooks:
    """Fail before any node runs when an input of the run does not exist, saying what makes it."""

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Check every external input of the pipeline exists."""
        require_inputs(catalog, stored_inputs(pipeline), "Input data missing for this run")


@dataclass(frozen=True)
class RemoteOutput:
    """An output object on object storage and, when it existed before the run, its copy."""

    fs: Any
    path: str
    backup: str | None


class StorageRootHooks:
    """Where every dataset lives under an object-storage root, refuse a run that reads or
    writes a local file: on a cloud runner that file would vanish with the machine."""

    def __init__(self) -> None:
        self._root: str | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        """Remember the environment's data root when it is on object storage."""
        root = str(context.config_loader["globals"].get("data_root", ""))
        self._root = root if "://" in root and not root.startswith("file://") else None

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Name the first dataset of the run that is a local file."""
        if self._root is None:
            return
        for name in sorted(pipeline.datasets()):
            if name.startswith("params:") or name not in catalog:
                continue
            path = local_filepath(catalog.get(name))
            if path is not None:
                raise ValueError(
                    f"Dataset '{name}' is a local file ({path}), but this environment keeps "
                    f"every dataset under {self._root}: give it a filepath under "
                    "${globals:data_root}/ in conf/base/catalog.yml (or conf/<env>/catalog.yml)"
                )


class SafeOutputsHooks:
    """Make a run all-or-nothing for its outputs: a failed run restores the previous ones.

    Kedro saves each node's outputs as soon as the node finishes, so without this a run that
    fails late (a quality gate, a drift error) would leave new and old outputs mixed. Local files
    are copied to a temporary folder; objects on S3, GCS or Azure are copied next to themselves
    on the same store (a server-side copy, no download).
    """

    def __init__(self) -> None:
        self._backup_dir: Path | None = None
        self._outputs: dict[str, Path] = {}
        self._remote: list[RemoteOutput] = []

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Copy every existing output of this run aside."""
        self._backup_dir = Path(tempfile.mkdtemp(prefix="cirrus-outputs-"))
        self._outputs = {}
        self._remote = []
        token = uuid.uuid4().hex[:12]
        for name in sorted(pipeline.all_outputs()):
            if name not in catalog:
                continue
            dataset = catalog.get(name)
            path = local_filepath(dataset)
            if path is not None:
                self._back_up_local(name, path)
            elif (location := remote_location(dataset)) is not None:
                self._remote.append(_back_up_remote(*location, token))

    def _back_up_local(self, name: str, path: Path) -> None:
        """Remember a local output and copy it to the backup folder if it exists."""
        assert self._backup_dir is not None
        self._outputs[name] = path
        if path.exists():
            target = self._backup_dir / name
            if path.is_dir():
                shutil.copytree(path, target)
            else:
                shutil.copy2(path, target)

    @hook_impl
    def on_pipeline_error(self, error: Exception) -> None:
        """Put the previous outputs back and remove outputs the failed run created."""
        if self._backup_dir is None:
            return
        for name, path in self._outputs.items():
            backup = self._backup_dir / name
            _remove(path)
            if backup.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(backup), str(path))
        for output in self._remote:
            _restore_remote(output)
        restored = len(self._outputs) + len(self._remote)
        logger.warning("Run failed: restored %d previous output(s).", restored)
        self._discard_backup()

    @hook_impl
    def after_pipeline_run(self) -> None:
        """The run succeeded: drop the copies."""
        self._discard_backup()

    def _discard_backup(self) -> None:
        """Delete the backups of this run."""
        if self._backup_dir is not None:
            shutil.rmtree(self._backup_dir, ignore_errors=True)
        for output in self._remote:
            if output.backup is not None:
                output.fs.rm(output.backup, recursive=True)
        self._backup_dir = None
        self._outputs = {}
        self._remote = []


def _back_up_remote(fs: Any, path: str, token: str) -> RemoteOutput:
    """Copy an existing object aside on its own store; nothing to copy for a new output."""
    fs.invalidate_cache()
    if not fs.exists(path):
        return RemoteOutput(fs, path, None)
    backup = f"{path}.backup-{token}"
    fs.copy(path, backup, recursive=fs.isdir(path))
    return RemoteOutput(fs, path, backup)


def _restore_remote(output: RemoteOutput) -> None:
    """Replace what the failed run wrote with the copy taken before it."""
    output.fs.invalidate_cache()
    if output.fs.exists(output.path):
        output.fs.rm(output.path, recursive=True)
    if output.backup is not None:
        output.fs.copy(output.backup, output.path, recursive=output.fs.isdir(output.backup))


def _remove(path: Path) -> None:
    """Delete a file or folder if it exists."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()

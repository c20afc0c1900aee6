"""Project hooks: the PII salt from credentials, fail-fast contract checks, safe outputs."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import MemoryDataset
from kedro.pipeline import Pipeline

from cirrus.contract import CONTRACT_KEY, parse_contract
from cirrus.inputs import require_inputs

logger = logging.getLogger(__name__)
PII_SALT_DATASET = "pii_salt"
PII_SALT_ENV = "CIRRUS_PII_SALT"


class PiiSaltHooks:
    """Expose the PII salt (credentials `pii_salt` or env CIRRUS_PII_SALT) as a dataset."""

    @hook_impl
    def after_catalog_created(self, catalog: Any, conf_creds: dict[str, Any]) -> None:
        """Register the salt in memory only, so it is never written anywhere."""
        salt = (conf_creds or {}).get(PII_SALT_DATASET) or os.environ.get(PII_SALT_ENV)
        catalog[PII_SALT_DATASET] = MemoryDataset(salt, copy_mode="assign")


class ContractCheckHooks:
    """Parse the dataset contract before any node runs, so a typo fails fast."""

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Validate `params:contract` when the pipeline uses it."""
        name = f"params:{CONTRACT_KEY}"
        if name in pipeline.inputs() or name in pipeline.datasets():
            parse_contract(catalog.load(name))


class InputsCheckHooks:
    """Fail before any node runs when an input of the run does not exist, saying what makes it."""

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Check every external input of the pipeline exists."""
        data_inputs = [
            name
            for name in sorted(pipeline.inputs())
            if not name.startswith("params:") and name not in ("parameters", PII_SALT_DATASET)
        ]
        require_inputs(catalog, data_inputs, "Input data missing for this run")


def local_filepath(dataset: Any) -> Path | None:
    """The local file behind a dataset, or None for remote, versioned or in-memory data."""
    protocol = getattr(dataset, "_protocol", None)
    filepath = getattr(dataset, "_filepath", None)
    if filepath is None or protocol not in ("file", None) or getattr(dataset, "_version", None):
        return None
    return Path(str(filepath))


class SafeOutputsHooks:
    """Make a run all-or-nothing for local outputs: a failed run restores the previous files.

    Kedro saves each node's outputs as soon as the node finishes, so without this a run that
    fails late (a quality gate, a drift error) would leave new and old files mixed.
    """

    def __init__(self) -> None:
        self._backup_dir: Path | None = None
        self._outputs: dict[str, Path] = {}

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Copy every existing local output of this run aside."""
        self._backup_dir = Path(tempfile.mkdtemp(prefix="cirrus-outputs-"))
        self._outputs = {}
        for name in sorted(pipeline.all_outputs()):
            if name not in catalog:
                continue
            path = local_filepath(catalog.get(name))
            if path is None:
                continue
            self._outputs[name] = path
            if path.exists():
                target = self._backup_dir / name
                if path.is_dir():
                    shutil.copytree(path, target)
                else:
                    shutil.copy2(path, target)

    @hook_impl
    def on_pipeline_error(self, error: Exception) -> None:
        """Put the previous outputs back and remove files the failed run created."""
        if self._backup_dir is None:
            return
        for name, path in self._outputs.items():
            backup = self._backup_dir / name
            _remove(path)
            if backup.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(backup), str(path))
        logger.warning("Run failed: restored %d previous output(s).", len(self._outputs))
        self._discard_backup()

    @hook_impl
    def after_pipeline_run(self) -> None:
        """The run succeeded: drop the copies."""
        self._discard_backup()

    def _discard_backup(self) -> None:
        """Delete the backup folder of this run."""
        if self._backup_dir is not None:
            shutil.rmtree(self._backup_dir, ignore_errors=True)
        self._backup_dir = None
        self._outputs = {}


def _remove(path: Path) -> None:
    """Delete a file or folder if it exists."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()

"""What the catalog says: where each dataset lives, which pipeline inputs are not stored data,
and the stage pipelines in run order (the registry, `cirrus.pipeline_registry`, builds on them).

The one module that reads Kedro datasets' private attributes (`_filepath`, `_protocol`, `_fs`,
`_version`): kedro-datasets has no public accessor for a dataset's location.
"""

from __future__ import annotations

import importlib
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.pipeline import Pipeline

PII_SALT_DATASET = "pii_salt"
# The environment variable that holds the PII salt when credentials do not (`pii_salt`).
PII_SALT_ENV = "CIRRUS_PII_SALT"
# The raw inputs of ingestion, and the new rows the inference pipeline scores.
RAW_DATASETS = ("raw_reference", "raw_current")
RAW_INFERENCE = "raw_inference"
ALL_PARAMETERS = "parameters"
# Pipeline stages in run order: the demo-data generator, then the lifecycle (`__default__`).
DEMO_DATA = "demo_data"
LIFECYCLE = ("ingestion", "features", "training", "evaluation", "drift")
# Run against a trained model, on demand or on a schedule: not DVC stages, not in `__default__`.
OPERATIONS = ("inference", "monitoring")


def is_stored_input(name: str) -> bool:
    """Whether a pipeline input is data on storage (not parameters, not the in-memory salt)."""
    return not name.startswith("params:") and name not in (ALL_PARAMETERS, PII_SALT_DATASET)


def stored_inputs(pipeline: Pipeline) -> list[str]:
    """The pipeline's free inputs that are data on storage, sorted."""
    return sorted(name for name in pipeline.inputs() if is_stored_input(name))


def dataset_location(dataset: Any) -> str | None:
    """A dataset's local path or object-storage URL; None when it lives in memory."""
    filepath = getattr(dataset, "_filepath", None)
    if filepath is None:
        return None
    protocol = getattr(dataset, "_protocol", "file")
    return str(filepath) if protocol in ("file", None) else f"{protocol}://{filepath}"


def location_of(catalog: Any, name: str) -> str | None:
    """Where a catalog entry lives (path or URL), or None for a missing or in-memory entry."""
    return dataset_location(catalog.get(name)) if name in catalog else None


def local_filepath(dataset: Any) -> Path | None:
    """The local file behind a dataset, or None for remote, versioned or in-memory data."""
    protocol = getattr(dataset, "_protocol", None)
    filepath = getattr(dataset, "_filepath", None)
    if filepath is None or protocol not in ("file", None) or getattr(dataset, "_version", None):
        return None
    return Path(str(filepath))


def stage_pipelines() -> dict[str, Pipeline]:
    """Each stage's pipeline in stage order (the demo data, then the lifecycle), built from its
    package: unlike Kedro's registry inside `kedro run --pipelines x`, always all of them."""
    package = __name__.split(".")[0]
    return {
        name: importlib.import_module(f"{package}.pipelines.{name}").create_pipeline()
        for name in (DEMO_DATA, *LIFECYCLE)
    }


def dataset_producers(pipelines: dict[str, Pipeline] | None = None) -> dict[str, str]:
    """Which stage pipeline writes each dataset."""
    stages = stage_pipelines() if pipelines is None else pipelines
    return {output: name for name, pipe in stages.items() for output in pipe.all_outputs()}


def filesystem_of(dataset: Any) -> Any | None:
    """The fsspec filesystem a file-backed dataset reads and writes through, if any."""
    return getattr(dataset, "_fs", None)


def stored_path(dataset: Any) -> str | None:
    """The path of an unversioned file-backed dataset on its own filesystem (no protocol)."""
    if getattr(dataset, "_version", None) or getattr(dataset, "_fs", None) is None:
        return None
    filepath = getattr(dataset, "_filepath", None)
    return None if filepath is None else str(filepath)


def relocate(dataset: Any, path: str) -> None:
    """Point a file-backed dataset's reads and writes at another path on the same filesystem."""
    dataset._filepath = PurePosixPath(path)

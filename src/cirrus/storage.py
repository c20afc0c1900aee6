"""The storage root of a configuration environment: where every persisted dataset lives."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cirrus.parameters import ConfigError

STORAGE_ROOT_ENV = "CIRRUS_STORAGE_ROOT"
# Kedro's layer folders under the data root, in pipeline order (conf/base/catalog.yml).
DATA_LAYERS = (
    "01_raw",
    "02_intermediate",
    "03_primary",
    "04_feature",
    "05_model_input",
    "06_models",
    "07_model_output",
    "08_reporting",
)
STORAGE_ROOT_SETTING = "conf/cloud/globals.yml: storage_root"
# fsspec protocols of the object stores Cirrus runs on; `file` serves a shared filesystem.
STORAGE_SCHEMES = ("s3", "gs", "gcs", "abfs", "az", "file")


def data_root_of(context: Any) -> str:
    """A loaded Kedro context's data root: an object-storage URL, or a local path made absolute
    under the project (`globals: data_root`)."""
    root = str(context.config_loader["globals"].get("data_root", "data"))
    return root if "://" in root else (Path(context.project_path) / root).as_posix()


class StorageRootError(ConfigError):
    """No usable storage root was declared for an environment that needs one."""

    hint = "For example `export CIRRUS_STORAGE_ROOT=s3://my-bucket/cirrus`, then run again."


def resolve_storage_root(configured: str | None = None) -> str:
    """The storage root from CIRRUS_STORAGE_ROOT (wins) or the setting, without a trailing '/'."""
    root = os.environ.get(STORAGE_ROOT_ENV) or configured
    if not root:
        raise StorageRootError(
            f"No storage root: set {STORAGE_ROOT_ENV} or {STORAGE_ROOT_SETTING} to the URL "
            "every dataset lives under, e.g. s3://bucket/prefix, gs://bucket/prefix or "
            "abfs://container/prefix"
        )
    scheme, separator, rest = str(root).partition("://")
    if not separator or scheme not in STORAGE_SCHEMES or not rest.strip("/"):
        schemes = ", ".join(f"{scheme}://" for scheme in STORAGE_SCHEMES)
        raise StorageRootError(
            f"Storage root '{root}' (from {STORAGE_ROOT_ENV} or {STORAGE_ROOT_SETTING}) must be "
            f"a URL with a bucket or container: one of {schemes}"
        )
    return str(root).rstrip("/")


def storage_root_or(default: str) -> str:
    """The storage root when CIRRUS_STORAGE_ROOT is set (checked as `resolve_storage_root`
    checks it), else `default`: a local data root that object storage can replace."""
    return resolve_storage_root() if os.environ.get(STORAGE_ROOT_ENV) else default

"""The project as the server sees it: the Kedro catalog and parameters of one environment, and
the model artifacts read from it as one consistent set."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import fsspec

from cirrus.catalog import PII_SALT_DATASET, filesystem_of, stored_path
from cirrus.contract import DatasetContract, parse_contract
from cirrus.feature_spec import FeatureSpec
from cirrus.inputs import require_inputs
from cirrus.prediction_log import PredictionLog
from cirrus.results import ModelBundle
from cirrus.runs.staging import JOURNAL_SUFFIX, RUNS_DIR, state_dir
from cirrus.storage import data_root_of

logger = logging.getLogger(__name__)
MODEL, FEATURE_SPEC, MODEL_BUNDLE = "model", "feature_spec", "model_bundle"
PREDICTION_LOG = "prediction_log"
# What a served model is made of: a change to any of them is a new model to load.
WATCHED = (MODEL, FEATURE_SPEC, MODEL_BUNDLE)


@dataclass(frozen=True)
class Artifacts:
    """One consistent read of the model, its feature spec and the bundle that names them."""

    model_text: str
    spec: FeatureSpec
    bundle: ModelBundle
    fingerprint: str
    trained_at: str | None


def fingerprint_of(model_text: str, spec: FeatureSpec, bundle: ModelBundle) -> str:
    """A content hash of the artifact set: equal content, equal fingerprint."""
    digest = hashlib.sha256(model_text.encode())
    digest.update(json.dumps(spec.model_dump(mode="json"), sort_keys=True).encode())
    digest.update(json.dumps(bundle.to_json(), sort_keys=True).encode())
    return digest.hexdigest()


def _modified(dataset: Any) -> str | None:
    """When a file-backed dataset was last written (ISO, UTC), if its store says."""
    fs, path = filesystem_of(dataset), stored_path(dataset)
    if fs is None or path is None:
        return None
    try:
        stamp = fs.modified(path)
    except (NotImplementedError, OSError, ValueError):
        return None
    stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC).isoformat()


@dataclass
class Project:
    """The catalog, parameters and credentials of the project in one environment."""

    path: Path
    env: str | None
    catalog: Any
    params: dict[str, Any]
    credentials: dict[str, Any]
    data_root: str

    @property
    def contract(self) -> DatasetContract:
        """The dataset contract (params `contract`)."""
        return parse_contract(self.params.get("contract"))

    @property
    def pii_salt(self) -> str | None:
        """The PII salt the hooks put in the catalog (credentials or CIRRUS_PII_SALT)."""
        return self.catalog.load(PII_SALT_DATASET) if PII_SALT_DATASET in self.catalog else None

    def prediction_log(self) -> PredictionLog:
        """The prediction log configured in the catalog (root and retention)."""
        return self.catalog.get(PREDICTION_LOG).log()

    def require_model(self) -> None:
        """Fail naming what to run when the artifacts of a model are missing."""
        require_inputs(self.catalog, list(WATCHED), "Nothing to serve")

    def _fresh(self, name: str) -> Any:
        """A dataset, with its filesystem's listing cache dropped (a poll must see new files)."""
        dataset = self.catalog.get(name)
        fs = filesystem_of(dataset)
        if fs is not None:
            fs.invalidate_cache()
        return dataset

    def stored_fingerprint(self) -> str | None:
        """A hash of the watched files as stored, nothing parsed (a cheap poll); None when one
        of them is not a plain file."""
        digest = hashlib.sha256()
        for name in WATCHED:
            dataset = self._fresh(name)
            fs, path = filesystem_of(dataset), stored_path(dataset)
            if fs is None or path is None:
                return None
            try:
                digest.update(fs.cat_file(path))
            except FileNotFoundError:
                digest.update(f"no {name}".encode())
            digest.update(b"\0")
        return digest.hexdigest()

    def read_artifacts(self) -> Artifacts:
        """Load the model, feature spec and model bundle through the catalog."""
        model_text = self._fresh(MODEL).load()
        spec = self._fresh(FEATURE_SPEC).load()
        bundle = self._fresh(MODEL_BUNDLE).load()
        return Artifacts(
            model_text=model_text,
            spec=spec,
            bundle=bundle,
            fingerprint=fingerprint_of(model_text, spec, bundle),
            trained_at=_modified(self.catalog.get(MODEL)),
        )

    def publishing(self) -> bool:
        """Whether a run is moving its outputs into place now (its publish journal exists):
        until it is done, the artifacts may be part old, part new."""
        # The model's own filesystem client: on object storage it carries the credentials.
        fs = filesystem_of(self.catalog.get(MODEL)) or fsspec.filesystem("file")
        fs.invalidate_cache()
        root = fsspec.core.split_protocol(self.data_root)[1].rstrip("/")
        return bool(fs.glob(f"{state_dir(root)}/{RUNS_DIR}/*{JOURNAL_SUFFIX}"))


def load_project(path: Path, env: str | None) -> Project:
    """The project at `path` in environment `env`, as `kedro run --env` would see it."""
    from kedro.config import MissingConfigException
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(path)
    with KedroSession.create(project_path=path, env=env) as session:
        context = session.load_context()
        catalog = context.catalog  # built once: each access builds a new one
        root = data_root_of(context)
        try:
            credentials = dict(context.config_loader["credentials"] or {})
        except MissingConfigException:
            credentials = {}
        return Project(
            path=path,
            env=env,
            catalog=catalog,
            params=dict(context.params),
            credentials=credentials,
            data_root=root,
        )

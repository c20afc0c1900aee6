"""Read the project (pipelines, committed catalog and parameters) the way the generator needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import DataCatalog

from cirrus.catalog import DEMO_DATA, location_of, stage_pipelines
from cirrus.config_loader import CirrusConfigLoader
from cirrus.demo_data.files import foreign_entries
from cirrus.parameters import block_locations
from cirrus.versioning.dvc_yaml import ProjectView


def committed_config(project_root: Path) -> CirrusConfigLoader:
    """Config from conf/base only: dvc.yaml must not depend on anyone's conf/local."""
    return CirrusConfigLoader(
        conf_source=str(project_root / "conf"), base_env="base", default_run_env="base"
    )


def without_credentials(catalog_config: dict[str, Any]) -> dict[str, Any]:
    """Catalog entries minus credentials: only paths matter here, and none are committed."""
    return {
        name: {k: v for k, v in entry.items() if k != "credentials"}
        if isinstance(entry, dict)
        else entry
        for name, entry in catalog_config.items()
    }


def parameter_files(project_root: Path) -> dict[str, str]:
    """Which conf/base/parameters*.yml file defines each top-level parameter block."""
    return block_locations(project_root / "conf" / "base")


def load_project_view(project_root: Path) -> ProjectView:
    """Pipelines in stage order (the demo data first when it writes its own local raw files:
    none once a raw entry points at a user's file, which a demo stage would overwrite)."""
    config = committed_config(project_root)
    catalog_config = dict(config["catalog"])
    catalog = DataCatalog.from_config(without_credentials(catalog_config))
    stages = stage_pipelines()
    demo = stages.get(DEMO_DATA)
    if demo is not None:
        written = {o: location_of(catalog, o) for o in demo.all_outputs()}
        root = str(config["globals"].get("data_root", "data"))
        if foreign_entries(written, root, project_root) or not all(
            (path or "").startswith("data/") for path in written.values()
        ):
            del stages[DEMO_DATA]
    return ProjectView(
        stages=stages,
        catalog=catalog,
        catalog_config=catalog_config,
        parameter_files=parameter_files(project_root),
    )

"""The hook that keeps `kedro run --pipelines demo_data` off files that are not the demo's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline

from cirrus.demo_data.files import refuse_foreign


class DemoDataHooks:
    """Refuse, before any node runs, a run that would write demo data over another file."""

    def __init__(self) -> None:
        self._root = "data"
        self._base: Path | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        """Remember the environment's data root and the project folder relative paths use."""
        self._root = str(context.config_loader["globals"].get("data_root", "data"))
        self._base = Path(context.project_path)

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Check every demo entry this run writes still points at the demo's own file."""
        refuse_foreign(catalog, pipeline.all_outputs(), self._root, self._base)

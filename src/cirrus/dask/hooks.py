"""The run's Dask cluster: started (or connected to) before the first node, closed after the
last. Only in the dask environment (a `dask` block in conf/<env>/dask.yml)."""

from __future__ import annotations

import logging
from typing import Any

from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl

from cirrus.dask.cluster import DaskSettings, dashboard_line, parse_settings, start, stop

logger = logging.getLogger(__name__)


def dask_settings(config_loader: Any) -> DaskSettings | None:
    """The environment's cluster settings; None when it declares no `dask` block."""
    try:
        return parse_settings(config_loader["dask"])
    except MissingConfigException:
        return None


class DaskClusterHooks:
    """Start the run's cluster before its first node; close it however the run ends."""

    def __init__(self) -> None:
        self._settings: DaskSettings | None = None
        self._running: tuple[Any, Any] | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        """Read (and check) conf/<env>/dask.yml once the environment is known."""
        self._settings = dask_settings(context.config_loader)

    @hook_impl
    def before_pipeline_run(self) -> None:
        """Connect to the cluster and say where its dashboard is."""
        if self._settings is None:
            return
        client, cluster = start(self._settings)
        self._running = (client, cluster)
        line = dashboard_line(client)
        if line:
            logger.info(line)

    @hook_impl
    def after_pipeline_run(self) -> None:
        """The run is over: close the cluster."""
        self._close()

    @hook_impl
    def on_pipeline_error(self) -> None:
        """The run failed: close the cluster all the same."""
        self._close()

    def _close(self) -> None:
        """Close the running client and cluster, if any."""
        if self._running is not None:
            running, self._running = self._running, None
            stop(*running)

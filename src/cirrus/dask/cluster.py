"""The cluster a `dask` run works on: a LocalCluster by default, or an existing scheduler.

Declared in conf/dask/dask.yml (block `dask`); `DASK_SCHEDULER_ADDRESS` in the environment wins
over the file's `scheduler_address`, so a Kubernetes step points at its DaskCluster without a
configuration change.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cirrus.parameters import ConfigError

logger = logging.getLogger(__name__)
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
DASK_FILE = "conf/dask/dask.yml"


class DaskConfigError(ConfigError):
    """conf/dask/dask.yml does not describe a cluster."""

    hint = f"Fix the key named in {DASK_FILE} (block `dask`)."


class LocalClusterSettings(BaseModel):
    """A cluster of worker processes on this machine."""

    model_config = ConfigDict(extra="forbid")

    n_workers: int = Field(2, ge=1)
    threads_per_worker: int = Field(1, ge=1)
    memory_limit: str = "4GiB"  # per worker; Dask spills to disk, then pauses, before this
    dashboard_address: str | None = ":8787"  # null: no dashboard


class DaskSettings(BaseModel):
    """Where the run's Dask work goes, and how large its partitions are."""

    model_config = ConfigDict(extra="forbid")

    scheduler_address: str | None = None  # e.g. tcp://scheduler:8786; null: the local cluster
    local_cluster: LocalClusterSettings = LocalClusterSettings()
    connect_timeout: str = "60s"
    # Rows per partition of a table a node builds in memory before it is written.
    partition_rows: int = Field(1_000_000, ge=1)
    shuffle: Literal["tasks", "p2p"] = "p2p"

    def address(self) -> str | None:
        """The scheduler to connect to: the environment's, else the file's, else none."""
        return os.environ.get(SCHEDULER_ENV) or self.scheduler_address


def parse_settings(raw: dict[str, Any] | None) -> DaskSettings | None:
    """The `dask` block of the run's configuration, typed; None outside the dask environment."""
    if not raw or "dask" not in raw:
        return None
    try:
        return DaskSettings.model_validate(raw["dask"] or {})
    except ValidationError as error:
        problems = "; ".join(
            f"dask.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
        )
        raise DaskConfigError(f"{DASK_FILE}: {problems}") from None


_SETTINGS: DaskSettings | None = None


def current_settings() -> DaskSettings:
    """The settings of the running dask environment (defaults outside a run)."""
    return _SETTINGS or DaskSettings()


# Dask's own loggers at these levels, in the run's process and in every worker: Cirrus says what
# the run does; a worker starting or a shuffle finishing is the dashboard's to show.
DASK_LOG_LEVELS = {"distributed": "warning", "distributed.shuffle": "error"}


class _QuietLightGBM:
    """LightGBM's C++ log lines (ports bound, ranks connected) at debug level in Python's log."""

    def info(self, message: str) -> None:
        logging.getLogger("lightgbm").debug(message.rstrip())

    def warning(self, message: str) -> None:
        logging.getLogger("lightgbm").debug(message.rstrip())


def quiet_lightgbm() -> None:
    """Route this process's LightGBM log lines through `_QuietLightGBM`."""
    import lightgbm

    lightgbm.register_logger(
        _QuietLightGBM(), info_method_name="info", warning_method_name="warning"
    )


def _quiet_workers(client: Any) -> None:
    """Quiet LightGBM on every worker, including workers that join or restart later."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class QuietLightGBM(WorkerPlugin):
        name = "cirrus-quiet-lightgbm"

        def setup(self, worker: Any) -> None:
            quiet_lightgbm()

    client.register_plugin(QuietLightGBM())


def start(settings: DaskSettings) -> tuple[Any, Any]:
    """Connect a client to the declared scheduler, or start the local cluster: (client, cluster)."""
    import dask
    from distributed import Client, LocalCluster

    global _SETTINGS
    _SETTINGS = settings
    dask.config.set({"dataframe.shuffle.method": settings.shuffle})
    for name, level in DASK_LOG_LEVELS.items():
        logging.getLogger(name).setLevel(level.upper())
    quiet_lightgbm()
    address = settings.address()
    if address:
        client = Client(address, timeout=settings.connect_timeout, set_as_default=True)
        _quiet_workers(client)
        logger.info("Dask: connected to the scheduler at %s.", address)
        return client, None
    local = settings.local_cluster
    # Worker processes read Dask's configuration (its loggers' levels) from the environment.
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", DASK_LOG_LEVELS["distributed"])
    cluster = LocalCluster(
        n_workers=local.n_workers,
        threads_per_worker=local.threads_per_worker,
        memory_limit=local.memory_limit,
        dashboard_address=local.dashboard_address,
        processes=True,
        silence_logs=logging.ERROR,
    )
    client = Client(cluster, set_as_default=True)
    _quiet_workers(client)
    logger.info(
        "Dask: a local cluster of %d worker(s), %d thread(s) and %s each.",
        local.n_workers,
        local.threads_per_worker,
        local.memory_limit,
    )
    return client, cluster


def workers_now(client: Any) -> dict[str, dict[str, Any]]:
    """The scheduler's workers now, by address, asked of the scheduler itself.

    Not `client.scheduler_info()`: it returns the client's cached identity, which the client's
    own refresh (every 2 s) overwrites with a copy that lists no worker, so a read that lands
    just after that refresh sees an empty cluster (117 of 2,000 reads at a 5 ms refresh).
    """
    return dict(client.sync(client.scheduler.identity, n_workers=-1)["workers"])


def dashboard_line(client: Any) -> str | None:
    """Where the cluster's dashboard is, for the run's log; None without one."""
    link = getattr(client, "dashboard_link", None)
    return f"Dask dashboard: {link}" if link else None


def stop(client: Any, cluster: Any) -> None:
    """Close the client, then the local cluster if the run started one."""
    global _SETTINGS
    _SETTINGS = None
    try:
        client.close()
    finally:
        if cluster is not None:
            cluster.close()

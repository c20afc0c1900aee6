"""Kedro project settings: configuration loader and the project's hooks."""

from cirrus.config_loader import CirrusConfigLoader
from cirrus.console import plain_logs_when_piped
from cirrus.dask.hooks import DaskClusterHooks
from cirrus.demo_data.hooks import DemoDataHooks
from cirrus.hooks import (
    AllOrNothingHooks,
    InputsCheckHooks,
    ParametersCheckHooks,
    PiiSaltHooks,
    RunRecordHooks,
    StageProgressHooks,
    StorageRootHooks,
)
from cirrus.storage import resolve_storage_root, storage_root_or

# Kedro imports the settings before the first log line of a command: from here on, a piped
# console keeps each log line and the run summary on one line.
plain_logs_when_piped()

# pluggy calls hooks last-registered first: the demo-data, storage, parameter and input checks
# run before the run takes the data root's lock and stages its outputs, and the run record is
# saved before those outputs are published. The Dask cluster (dask environment only) starts
# after every check has passed.
_ALL_OR_NOTHING = AllOrNothingHooks()
HOOKS = (
    DaskClusterHooks(),
    StageProgressHooks(),
    _ALL_OR_NOTHING,
    PiiSaltHooks(),
    InputsCheckHooks(),
    ParametersCheckHooks(),
    StorageRootHooks(),
    DemoDataHooks(),
    RunRecordHooks(_ALL_OR_NOTHING),
)

CONFIG_LOADER_CLASS = CirrusConfigLoader  # Kedro's, naming the file and line of a YAML error
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # `${cirrus.storage_root:...}` in conf/cloud/globals.yml: CIRRUS_STORAGE_ROOT or the setting.
    # conf/<env>/deploy.yml overrides conf/base/deploy.yml like any other config.
    # conf/dask/dask.yml: the cluster of `kedro run --env dask`.
    "config_patterns": {"deploy": ["deploy*", "deploy*/**"], "dask": ["dask*", "dask*/**"]},
    # `${cirrus.storage_root_or:data}` in conf/dask/globals.yml: CIRRUS_STORAGE_ROOT, else data/.
    "custom_resolvers": {
        "cirrus.storage_root": resolve_storage_root,
        "cirrus.storage_root_or": storage_root_or,
    },
}

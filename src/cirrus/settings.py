"""Kedro project settings: configuration loader and the project's hooks."""

from kedro.config import OmegaConfigLoader

from cirrus.hooks import ContractCheckHooks, InputsCheckHooks, PiiSaltHooks, SafeOutputsHooks

# pluggy calls hooks last-registered first: the contract and input checks run before outputs
# are backed up.
HOOKS = (SafeOutputsHooks(), PiiSaltHooks(), InputsCheckHooks(), ContractCheckHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}

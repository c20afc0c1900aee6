"""Checks across parameter blocks, run before the first node (each block checks itself on parse).

Kedro's parameter validation turns every typed `params:` input into its model when the catalog
is built; what one block alone cannot know (which columns the contract declares, which metrics
its task has) is checked here, so a typo never costs a run.
"""

from __future__ import annotations

from typing import Any

from cirrus.contract import DatasetContract
from cirrus.metrics import TASK_METRICS
from cirrus.parameters import (
    DRIFT_FILE,
    FEATURES_FILE,
    REGISTRY_FILE,
    Block,
    ConfigError,
    DemoDataParams,
    DriftParams,
    FeatureParams,
    RegistryParams,
)

# Blocks no node reads, parsed at the start of every run all the same.
UNREAD_BLOCKS = {"registry": RegistryParams, "demo_data": DemoDataParams}
# Drift columns beyond the contract's features.
MODEL_OUTPUT_COLUMNS = ("prediction", "target")


def check_feature_references(features: FeatureParams, contract: DatasetContract) -> None:
    """Transforms may only read numeric features of the contract."""
    numeric = set(contract.features.numeric)
    wrong = [key for key, column in features.numeric_references().items() if column not in numeric]
    if wrong:
        raise ConfigError(
            f"In {FEATURES_FILE}: {wrong} name columns that are not numeric features of the "
            f"contract; numeric features are {sorted(numeric)}."
        )


def check_drift_columns(drift: DriftParams, contract: DatasetContract) -> None:
    """Per-column drift settings may only name features, the prediction or the target."""
    known = {*contract.features.numeric, *contract.features.categorical, *MODEL_OUTPUT_COLUMNS}
    named = {
        **{f"drift.per_column_method.{c}": c for c in drift.per_column_method},
        **{f"drift.per_column_threshold.{c}": c for c in drift.per_column_threshold},
    }
    wrong = sorted(key for key, column in named.items() if column not in known)
    if wrong:
        raise ConfigError(
            f"In {DRIFT_FILE}: {wrong} name columns drift does not compare; it compares "
            f"{sorted(known)}."
        )


def check_registry_metric(registry: RegistryParams, contract: DatasetContract) -> None:
    """A registry metric under `model.` or `baseline.` must be one the task computes."""
    if registry.metric is None:  # the task's primary metric
        return
    section, _, name = registry.metric.partition(".")
    metrics = TASK_METRICS[contract.task]
    if section in ("model", "baseline") and name not in metrics:
        raise ConfigError(
            f"In {REGISTRY_FILE}: 'registry.metric' is '{registry.metric}', but task "
            f"'{contract.task}' computes {[f'{section}.{m}' for m in metrics]}."
        )


def parse_unread_blocks(raw: dict[str, Any]) -> dict[str, Any]:
    """Parse the blocks no node reads (registry, demo data) that the parameters declare."""
    return {key: model.parse(raw[key]) for key, model in UNREAD_BLOCKS.items() if key in raw}


def block_file(key: str) -> str:
    """The parameters file a block is declared in (conf/base/parameters*.yml when unknown)."""
    files = {block.block_key: block.block_file for block in Block.__subclasses__()}
    return files.get(key, "conf/base/parameters*.yml")


def require_blocks(keys: list[str], declared: Any) -> None:
    """Fail, naming the file, when a parameters block the run reads is not declared."""
    missing = [key for key in keys if key not in declared]
    if missing:
        where = "; ".join(f"'{key}' in {block_file(key)}" for key in missing)
        raise ConfigError(f"Missing parameters block(s) this run reads: declare {where}")


def check_blocks(blocks: dict[str, Any]) -> None:
    """Every check across blocks that applies to the blocks at hand (keyed as in the YAML)."""
    if blocks.get("contract") is None:
        return
    contract = DatasetContract.parse(blocks["contract"])
    if isinstance(blocks.get("features"), FeatureParams):
        check_feature_references(blocks["features"], contract)
    if isinstance(blocks.get("drift"), DriftParams):
        check_drift_columns(blocks["drift"], contract)
    if isinstance(blocks.get("registry"), RegistryParams):
        check_registry_metric(blocks["registry"], contract)

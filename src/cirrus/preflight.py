"""Checks across parameter blocks, run before the first node (each block checks itself on parse).

Kedro's parameter validation turns every typed `params:` input into its model when the catalog
is built; what one block alone cannot know (which columns the contract declares, which metrics
its task has) is checked here, so a typo never costs a run.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from cirrus.contract import DatasetContract
from cirrus.metrics import TASK_METRICS
from cirrus.parameters import (
    CONTRACT_FILE,
    DRIFT_FILE,
    FEATURES_FILE,
    INGESTION_FILE,
    PARAMETER_FILES,
    REGISTRY_FILE,
    ConfigError,
    DemoDataParams,
    DriftParams,
    FeatureParams,
    HoldoutParams,
    IngestionSplit,
    ModelCardParams,
    MonitoringParams,
    RegistryParams,
    parameters_file,
)

# Blocks no node reads, parsed at the start of every run all the same.
UNREAD_BLOCKS = {
    "registry": RegistryParams,
    "demo_data": DemoDataParams,
    "monitoring": MonitoringParams,
    "model_card": ModelCardParams,
}
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


def check_holdout(holdout: HoldoutParams, contract: DatasetContract) -> None:
    """The `time` hold-out, and a gap, need the contract's event-time column."""
    if holdout.strategy == "time" and contract.event_time_column is None:
        raise ConfigError(
            f"In {FEATURES_FILE}: 'holdout.strategy' is 'time', but the contract declares no "
            f"event_time_column ({CONTRACT_FILE}); use 'stratified' or "
            "'random', or declare the event-time column."
        )
    if holdout.gap is not None and contract.event_time_column is None:
        raise ConfigError(
            f"In {FEATURES_FILE}: 'holdout.gap' is {holdout.gap!r}, but the contract declares no "
            f"event_time_column ({CONTRACT_FILE}), so the hold-out is not by time; set "
            "holdout.gap: null, or declare the event-time column."
        )


def check_split(split: IngestionSplit, contract: DatasetContract) -> None:
    """The event-time split needs the contract's event-time column."""
    if split.mode == "event_time" and contract.event_time_column is None:
        raise ConfigError(
            f"In {INGESTION_FILE}: 'ingestion.split.mode' is 'event_time', but the contract "
            "declares no event_time_column; use mode 'fraction' (with current_share, e.g. 0.2) "
            "for a table without time, or declare the event-time column."
        )


def _same_place(first: str, second: str) -> bool:
    """Whether two dataset locations (local paths or URLs) name the same file."""
    if "://" in first or "://" in second:
        return first.rstrip("/") == second.rstrip("/")
    return Path(first).resolve() == Path(second).resolve()


def check_split_sources(
    split: IngestionSplit, reference_location: str | None, current_location: str | None
) -> None:
    """Mode `files` with one file behind both raw entries would leave no reference row."""
    if split.mode != "files" or not reference_location or not current_location:
        return
    if _same_place(reference_location, current_location):
        raise ConfigError(
            f"In {INGESTION_FILE}: 'ingestion.split.mode' is 'files', but raw_reference and "
            f"raw_current both read '{reference_location}' (conf/base/catalog.yml): every id "
            "would then be in both, the current copy of each duplicated id wins, and no "
            "reference row would be left. For one file, set ingestion.split.mode to 'fraction' "
            "(with current_share, e.g. 0.2: a share of the rows, chosen by id) or 'event_time' "
            "(with current_from: rows at or after it are current)."
        )


def parse_unread_blocks(raw: dict[str, Any]) -> dict[str, Any]:
    """Parse the blocks most runs never read (registry, demo data, monitoring) if declared."""
    return {key: model.parse(raw[key]) for key, model in UNREAD_BLOCKS.items() if key in raw}


def _declared_in(conf_dir: Path | None, key: str) -> str:
    """The parameters file(s) of a conf folder that declare a top-level key, for a message."""
    if conf_dir is None:
        return "the parameters"
    import yaml

    files = []
    for path in sorted(conf_dir.glob("*/parameters*.yml")):
        try:
            if key in (yaml.safe_load(path.read_text()) or {}):
                files.append(path.relative_to(conf_dir.parent).as_posix())
        except (yaml.YAMLError, OSError, TypeError):
            continue
    return ", ".join(files) or "the run's parameters (--params?)"


def refuse_unknown_blocks(declared: Any, conf_dir: Path | None = None) -> None:
    """Fail when a top-level parameters block is not one Cirrus reads: a misspelled block would
    otherwise be ignored and its settings silently lost."""
    unknown = sorted(set(declared) - set(PARAMETER_FILES))
    if not unknown:
        return
    lines = []
    for key in unknown:
        close = difflib.get_close_matches(key, PARAMETER_FILES, n=1, cutoff=0.6)
        guess = f" (did you mean '{close[0]}'?)" if close else ""
        lines.append(f"'{key}' in {_declared_in(conf_dir, key)}{guess}")
    raise ConfigError(
        f"Unknown parameters block(s): {'; '.join(lines)}. The blocks Cirrus reads are "
        f"{', '.join(sorted(PARAMETER_FILES))}.",
        hint="Rename the block; a block of your own nodes is registered in PARAMETER_FILES "
        "(src/cirrus/parameters.py).",
    )


def require_blocks(keys: list[str], declared: Any) -> None:
    """Fail, naming the file, when a parameters block the run reads is not declared."""
    missing = [key for key in keys if key not in declared]
    if missing:
        where = "; ".join(f"'{key}' in {parameters_file(key)}" for key in missing)
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
    if isinstance(blocks.get("holdout"), HoldoutParams):
        check_holdout(blocks["holdout"], contract)
    if isinstance(blocks.get("ingestion.split"), IngestionSplit):
        check_split(blocks["ingestion.split"], contract)

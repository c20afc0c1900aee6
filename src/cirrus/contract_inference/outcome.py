"""What init-contract decides, as typed models: the contract is a `DatasetContract`, the split,
hold-out and transforms are their parameter blocks; the comments explain each decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cirrus.contract import ColumnRule, DatasetContract
from cirrus.parameters import ConfigError, FeatureParams, HoldoutParams, IngestionSplit


class ContractInferenceError(ConfigError):
    """The data file cannot be read, or no working configuration can be inferred from it."""

    hint = (
        "Fix the file or the option the message names, then run `kedro cirrus init-contract` again."
    )


@dataclass(frozen=True)
class LeftOut:
    """A column the contract leaves out, why, and (for PII) how it is treated instead."""

    column: str
    reason: str
    pii: str | None = None


def rule_block(rule: ColumnRule) -> dict[str, Any]:
    """A column rule as written: the settings decided, bounds of an int column as integers."""
    block = rule.model_dump(exclude_unset=True)
    if rule.dtype == "int":
        bounds = ("min", "max", "expected_min", "expected_max")
        block.update({k: int(v) for k, v in block.items() if k in bounds and v is not None})
    return block


def contract_block(contract: DatasetContract) -> dict[str, Any]:
    """The `contract` block as written: every decided key, each column rule as `rule_block`."""
    block = contract.model_dump(exclude_unset=True)
    block["columns"] = {column: rule_block(rule) for column, rule in contract.columns.items()}
    return block


@dataclass
class InferredConfig:
    """Everything init-contract writes, typed, with the comments that explain each decision.

    `contract`, `split`, `holdout` and `features` are the blocks as written to the YAML (plain
    values); `dataset_contract`, `ingestion_split`, `holdout_params` and `feature_params` are
    the typed models they come from.
    """

    source: str
    file_type: str
    n_rows: int
    n_columns: int
    dataset_contract: DatasetContract
    ingestion_split: IngestionSplit
    holdout_params: HoldoutParams
    feature_params: FeatureParams
    comments: dict[str, str] = field(default_factory=dict)
    rule_comments: dict[str, str] = field(default_factory=dict)
    left_out: list[LeftOut] = field(default_factory=list)

    @property
    def contract(self) -> dict[str, Any]:
        """The `contract` block as written."""
        return contract_block(self.dataset_contract)

    @property
    def split(self) -> dict[str, Any]:
        """The `ingestion.split` block as written."""
        return self.ingestion_split.model_dump(exclude_unset=True)

    @property
    def holdout(self) -> dict[str, Any]:
        """The `holdout` block as written."""
        return self.holdout_params.model_dump(exclude_unset=True)

    @property
    def features(self) -> dict[str, Any]:
        """The `features` block as written."""
        return self.feature_params.model_dump(exclude_unset=True)

    def summary(self) -> list[str]:
        """What was decided, as console lines."""
        contract = self.dataset_contract
        features = contract.features
        lines = [
            f"Read {self.n_rows:,} rows x {self.n_columns} columns from {self.source} "
            f"({'Parquet' if self.file_type == 'parquet' else 'CSV'}).",
            f"Task: {contract.task} on target '{contract.target}'"
            + (
                f", positive class {contract.positive_class!r}"
                if contract.positive_class is not None
                else ""
            )
            + f" ({self.comments.get('task', '')}).",
            f"Id column: {contract.id_column or 'none'}; event time: "
            f"{contract.event_time_column or 'none'}; split: {self.describe_split()}.",
            f"Features: {len(features.numeric)} numeric, {len(features.categorical)} "
            f"categorical, {len(features.datetime)} datetime.",
        ]
        if self.left_out:
            lines.append("Left out of the features:")
            lines += [f"  - {item.column}: {left_out_text(item)}" for item in self.left_out]
        return lines

    def describe_split(self) -> str:
        """The reference/current split in words."""
        split = self.ingestion_split
        if split.mode == "fraction":
            return f"a {split.current_share:.0%} share of the rows is current (fraction)"
        zone = self.dataset_contract.time_zone
        return f"rows at or after {split.current_from} ({zone}) are current (event_time)"


def left_out_text(item: LeftOut) -> str:
    """A left-out column's reason, with its PII treatment."""
    return f"{item.reason} -> pii: {item.pii}" if item.pii else item.reason

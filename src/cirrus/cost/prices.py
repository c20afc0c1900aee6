"""The committed price table, `prices.csv` beside this module, read into typed rows.

One row per instance type: cloud, region, vCPUs, memory (GiB), the on-demand and spot list prices
in USD per hour for Linux, the page each figure was read from and the day it was read. A spot
price the page did not give stays empty (None here). docs/cost.md says how to refresh the table.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from importlib.resources import files
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cirrus.errors import CirrusError

Cloud = Literal["aws", "gcp", "azure"]
CLOUDS: tuple[Cloud, ...] = ("aws", "gcp", "azure")
PRICES_FILE = "src/cirrus/cost/prices.csv"


class PriceTableError(CirrusError):
    """A row of the price table is malformed."""

    hint = "Fix that row of src/cirrus/cost/prices.csv as docs/cost.md describes."


class InstancePrice(BaseModel):
    """One instance type's size and hourly list prices, with where and when they were read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cloud: Cloud
    region: str = Field(min_length=1)
    instance_type: str = Field(min_length=1)
    vcpus: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    on_demand_usd_per_hour: float = Field(gt=0)
    spot_usd_per_hour: float | None = Field(gt=0)
    source: str = Field(pattern=r"^https://\S+$")
    read_on: date

    @field_validator("spot_usd_per_hour", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        """An empty cell means the page gave no spot price."""
        return None if value == "" else value


def parse_prices(text: str) -> list[InstancePrice]:
    """The rows of a price table in CSV, each validated; an error names its line."""
    rows = []
    for line, raw in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            rows.append(InstancePrice.model_validate(raw))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
            )
            raise PriceTableError(f"{PRICES_FILE} line {line}: {problems}") from None
    return rows


def load_prices() -> list[InstancePrice]:
    """The committed price table."""
    return parse_prices(files("cirrus.cost").joinpath("prices.csv").read_text())

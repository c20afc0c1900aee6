"""Missing input data: which datasets are absent, and which `kedro run` makes each of them."""

from __future__ import annotations

from typing import Any

from cirrus.catalog import dataset_producers, location_of
from cirrus.errors import CirrusError

DEMO_HINT = (
    "(The bundled demo data comes from `kedro run --pipelines demo_data`; your own data is "
    "declared in conf/base/catalog.yml.)"
)


class MissingInputError(CirrusError, FileNotFoundError):
    """A dataset the run or notebook reads does not exist yet."""

    hint = "Make the input as the message says (or point its catalog entry at it), then run again."


def describe_missing(name: str, where: str | None, producer: str | None) -> str:
    """One line saying where a missing input should be and how to make it."""
    hint = (
        f"run `kedro run --pipelines {producer}` first"
        if producer
        else "check its entry in conf/<env>/catalog.yml"
    )
    return f"'{name}' ({where}): {hint}" if where else f"'{name}': {hint}"


def require_inputs(catalog: Any, names: list[str], lead: str, advice: str = "") -> None:
    """Raise MissingInputError listing every absent dataset among `names`, and how to make it."""
    missing = [name for name in names if not catalog.exists(name)]
    if not missing:
        return
    producers = dataset_producers()
    lines = [describe_missing(n, location_of(catalog, n), producers.get(n)) for n in missing]
    raise MissingInputError(f"{lead}: " + "; ".join(lines) + f". {advice}{DEMO_HINT}")

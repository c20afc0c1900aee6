"""Missing input data: which datasets are absent, and which `kedro run` makes each of them."""

from __future__ import annotations

from typing import Any

from cirrus.catalog import DEMO_DATA, dataset_producers, location_of
from cirrus.demo_data.files import DEMO_FILES, demo_in_use
from cirrus.errors import CirrusError

DEMO_HINT = (
    "(The bundled demo data comes from `kedro run --pipelines demo_data`; your own data is "
    "declared in conf/base/catalog.yml.)"
)
# A project on its own data: the demo must not be run (it would refuse), the file is the user's.
OWN_DATA_HINT = "put your file there, or point the entry at it in conf/base/catalog.yml"


class MissingInputError(CirrusError, FileNotFoundError):
    """A dataset the run or notebook reads does not exist yet."""

    hint = "Make the input as the message says (or point its catalog entry at it), then run again."


def describe_missing(name: str, where: str | None, producer: str | None) -> str:
    """One line saying where a missing input should be and how to make it."""
    if producer:
        hint = f"run `kedro run --pipelines {producer}` first"
    elif name in DEMO_FILES:
        hint = OWN_DATA_HINT
    else:
        hint = "check its entry in conf/<env>/catalog.yml"
    return f"'{name}' ({where}): {hint}" if where else f"'{name}': {hint}"


def require_inputs(catalog: Any, names: list[str], lead: str, advice: str = "") -> None:
    """Raise MissingInputError listing every absent dataset among `names`, and how to make it."""
    missing = [name for name in names if not catalog.exists(name)]
    if not missing:
        return
    producers = dataset_producers()
    demo = demo_in_use(catalog)
    if not demo:  # the raw entries are the user's: the demo pipeline makes none of them
        producers = {n: p for n, p in producers.items() if p != DEMO_DATA}
    lines = [describe_missing(n, location_of(catalog, n), producers.get(n)) for n in missing]
    hint = DEMO_HINT if demo else ""
    raise MissingInputError(f"{lead}: " + "; ".join(lines) + f". {advice}{hint}".rstrip())

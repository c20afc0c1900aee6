"""Notebook helpers: load catalog datasets, or say which pipeline makes the missing ones."""

from __future__ import annotations

from typing import Any

from cirrus.hooks import MissingInputError, dataset_producers, describe_missing


def missing_datasets(catalog: Any, names: tuple[str, ...]) -> list[str]:
    """The names among `names` whose data does not exist (or that the catalog does not know)."""
    return [name for name in names if not catalog.exists(name)]


def missing_message(catalog: Any, missing: list[str], producers: dict[str, str]) -> str:
    """A readable error naming each missing dataset, its file and the run that writes it."""
    lines = [describe_missing(name, catalog.get(name), producers.get(name)) for name in missing]
    return (
        "Notebook input missing: " + "; ".join(lines) + ". Run that from the project root, "
        "then re-run this cell. (The bundled demo data comes from "
        "`kedro run --pipelines demo_data`; your own data is declared in conf/base/catalog.yml.)"
    )


def load_inputs(catalog: Any, *names: str) -> Any:
    """Load datasets by name: the value for one name, a name -> value dict for several."""
    if not names:
        raise ValueError("load_inputs needs at least one dataset name")
    missing = missing_datasets(catalog, names)
    if missing:
        raise MissingInputError(missing_message(catalog, missing, dataset_producers()))
    values = {name: catalog.load(name) for name in names}
    return values[names[0]] if len(names) == 1 else values

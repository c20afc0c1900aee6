"""Notebook helpers: load catalog datasets, or say which pipeline makes the missing ones."""

from __future__ import annotations

from typing import Any

from cirrus.inputs import require_inputs


def load_inputs(catalog: Any, *names: str) -> Any:
    """Load datasets by name: the value for one name, a name -> value dict for several."""
    if not names:
        raise ValueError("load_inputs needs at least one dataset name")
    require_inputs(
        catalog,
        list(names),
        "Notebook input missing",
        "Run that from the project root, then re-run this cell. ",
    )
    values = {name: catalog.load(name) for name in names}
    return values[names[0]] if len(names) == 1 else values

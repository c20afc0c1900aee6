"""The demo's own raw files, and the refusal to write the demo over anything else.

`kedro run --pipelines demo_data` writes the catalog entries below. Once an entry points at
another file (`kedro cirrus init-contract` repoints the raw entries at a user's data, or an edit
by hand), that file is the user's: the demo refuses before writing anything, and the generated
dvc.yaml has no demo stage.

The file locations are the signal, not the contract: the demo's data carries several targets
(any of `defaulted`, `risk_grade`, `interest_rate`), so a contract edited for another target may
still rightly regenerate it, while a repointed entry never may.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from cirrus.catalog import location_of
from cirrus.parameters import ConfigError

CATALOG_FILE = "conf/base/catalog.yml"
# Each entry the demo writes -> its file under the data root (`${globals:data_root}/...` in
# conf/base/catalog.yml; a test checks the two agree).
DEMO_FILES = {
    "raw_reference": "01_raw/credit_applications.csv",
    "raw_current": "01_raw/credit_applications_current.csv",
    "raw_inference": "01_raw/credit_applications_new.csv",
}


class DemoDataRefused(ConfigError):
    """The demo would write over a file that is not the demo's."""

    hint = (
        f"To regenerate the demo deliberately, point these entries back at the demo's files in "
        f"{CATALOG_FILE}, then run `kedro run --pipelines demo_data`."
    )


def _normalised(location: str, base: Path | None) -> str:
    """A location comparable with another: URLs as written, local paths made absolute."""
    location = location.removeprefix("file://")
    if "://" in location:
        return location.rstrip("/")
    path = Path(location)
    if not path.is_absolute() and base is not None:
        path = base / path
    return os.path.normpath(path.as_posix())


def demo_location(name: str, data_root: str) -> str:
    """Where the demo writes entry `name` under a data root."""
    return f"{data_root.rstrip('/')}/{DEMO_FILES[name]}"


def is_demo_file(
    name: str, location: str | None, data_root: str | None = None, base: Path | None = None
) -> bool:
    """Whether entry `name` points at the demo's own file.

    With the data root known, the location must be that file exactly (relative paths taken from
    `base`); without it (advice only, never a refusal), it must have the demo file's name.
    """
    if name not in DEMO_FILES or location is None:
        return False
    if data_root is not None:
        return _normalised(location, base) == _normalised(demo_location(name, data_root), base)
    return PurePosixPath(_normalised(location, None)).name == PurePosixPath(DEMO_FILES[name]).name


def foreign_entries(
    locations: Mapping[str, str | None], data_root: str | None = None, base: Path | None = None
) -> dict[str, str | None]:
    """The demo's entries among `locations` (name -> location) that point elsewhere."""
    return {
        name: location
        for name, location in locations.items()
        if name in DEMO_FILES and not is_demo_file(name, location, data_root, base)
    }


def demo_in_use(catalog: Any) -> bool:
    """Whether every demo entry of the catalog still points at the demo's file (its data root
    unknown: judged by the file's name)."""
    names = [name for name in DEMO_FILES if name in catalog]
    return not foreign_entries({name: location_of(catalog, name) for name in names})


def _shown(location: str | None, base: Path | None) -> str:
    """A location as a person reads it: relative to the project when inside it."""
    if location is None or "://" in location or base is None:
        return str(location)
    path = Path(_normalised(location, base))
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else path.as_posix()


def refusal(foreign: Mapping[str, str | None], data_root: str, base: Path | None = None) -> str:
    """The message of a refused demo run: each entry, its file, and how to regenerate."""
    entries = "; ".join(
        f"{name} reads {_shown(location, base)} (the demo's: "
        f"{_shown(demo_location(name, data_root), base)})"
        for name, location in foreign.items()
    )
    return f"Demo data not generated: it writes only its own files, and {entries}. Nothing written."


def refuse_foreign(
    catalog: Any, names: Iterable[str], data_root: str, base: Path | None = None
) -> None:
    """Raise DemoDataRefused when one of the demo's entries among `names` points elsewhere."""
    written = [name for name in DEMO_FILES if name in set(names)]
    locations = {name: location_of(catalog, name) for name in written}
    foreign = foreign_entries(locations, data_root, base)
    if foreign:
        raise DemoDataRefused(refusal(foreign, data_root, base))

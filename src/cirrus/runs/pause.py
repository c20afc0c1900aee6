"""Named points where a run can be held, so tests can kill it there (`CIRRUS_PAUSE_AT`).

`CIRRUS_PAUSE_AT=<kind>:<name>` holds the process at that point; kinds are `node` (before a node
runs), `load` (before a dataset is read), `saved` (after a dataset is written), `publish`
(after that many outputs were moved into place; 0 is right after the journal) and `fit` (name
`lightgbm`: the dask environment's training, before LightGBM starts). When the point is
reached, the file named by `CIRRUS_PAUSE_FILE` is created and the run waits until that file is
deleted (or forever, without one), so a test can kill it there or let it go on. Unset, nothing
happens.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT_ENV = "CIRRUS_PAUSE_AT"
PAUSE_FILE_ENV = "CIRRUS_PAUSE_FILE"


def pause_if(kind: str, name: str) -> None:
    """Hold the process forever when `CIRRUS_PAUSE_AT` names this point."""
    wanted = os.environ.get(PAUSE_AT_ENV)
    if not wanted or wanted not in (f"{kind}:{name}", f"{kind}:{name.rsplit('.', 1)[-1]}"):
        return
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        Path(marker).write_text(f"{kind}:{name} {os.getpid()}\n")
    while not marker or Path(marker).exists():  # until killed, or released by the test
        time.sleep(0.1)

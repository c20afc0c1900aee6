"""Reading the data file as ingestion will read it (an empty cell and the default
`missing_values` as missing), from any fsspec URL."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from cirrus.contract import DEFAULT_MISSING_VALUES
from cirrus.contract_inference.outcome import ContractInferenceError

PARQUET = "parquet"
CSV = "csv"


def file_type_of(path: str) -> str:
    """`parquet` or `csv`, from the name (or, for a name that says neither, the first bytes)."""
    name = PurePosixPath(path.split("?", 1)[0]).name.lower()
    if name.endswith((".parquet", ".pq", ".parq")):
        return PARQUET
    if re.search(r"\.csv(\.(gz|bz2|zip|xz|zst))?$", name):
        return CSV
    import fsspec

    try:
        with fsspec.open(path, "rb") as handle:
            return PARQUET if handle.read(4) == b"PAR1" else CSV
    except (OSError, ValueError) as error:
        raise ContractInferenceError(f"Cannot read '{path}': {error}") from None


def read_table(
    path: str, storage_options: dict[str, Any] | None = None
) -> tuple[pd.DataFrame, str]:
    """The table as ingestion will read it (pandas defaults), and its file type."""
    file_type = file_type_of(path)
    options = storage_options if "://" in path and storage_options else None
    try:
        if file_type == PARQUET:
            frame = pd.read_parquet(path, storage_options=options)
        else:
            # As the checked CSV dataset reads: only an empty cell is missing (the contract's
            # `missing_values` are applied next, as validation applies them).
            frame = pd.read_csv(
                path, storage_options=options, keep_default_na=False, na_values=[""]
            )
    except FileNotFoundError:
        raise ContractInferenceError(f"No such file: '{path}'") from None
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise ContractInferenceError(f"Cannot read '{path}' as {file_type}: {error}") from None
    if frame.empty or not len(frame.columns):
        raise ContractInferenceError(f"'{path}' holds no rows; expected a table with a header.")
    frame.columns = [str(column) for column in frame.columns]
    return declared_missing_as_null(frame, DEFAULT_MISSING_VALUES), file_type


def declared_missing_as_null(frame: pd.DataFrame, missing_values: Iterable[str]) -> pd.DataFrame:
    """Texts that mean missing become nulls; a column that then holds only numbers is typed as
    numbers (as it would have been read without those texts)."""
    declared = set(missing_values)
    changed = {}
    for column in frame.columns:
        values = frame[column]
        if not (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
            continue
        missing = values.isin(declared).to_numpy(dtype=bool, na_value=False)
        if not missing.any():
            continue
        values = values.mask(missing)
        with contextlib.suppress(ValueError, TypeError):  # text stays text
            values = pd.to_numeric(values)
        changed[column] = values
    return frame.assign(**changed) if changed else frame


def read_options(project: Path) -> dict[str, Any] | None:
    """The `storage` credentials of the project (as the catalog's raw entries use them)."""
    try:
        from kedro.config import OmegaConfigLoader

        loader = OmegaConfigLoader(
            conf_source=str(project / "conf"), base_env="base", default_run_env="local"
        )
        storage = loader["credentials"].get("storage")
    except Exception:  # no readable credentials: fsspec's default chain
        return None
    return dict(storage) if storage else None

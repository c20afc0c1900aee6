"""A working configuration inferred from a data file: `kedro cirrus init-contract`.

Types, nullability and observed ranges come from pandera's own schema inference
(`pandera.pandas.infer_schema`), run on the table as ingestion reads it (text that is entirely
ISO 8601, or one strptime format, parsed to times first). On top of what pandera infers, this
module decides what pandera does not: the task and the positive class, each column's role (by
dtype and cardinality), allowed values of low-cardinality columns, and which columns to leave
out (id-like, constant, free text or near-unique text, likely PII by name or content, names
LightGBM refuses). Every decision a person should check gets a `review:` comment in the YAML
and a line on the console.

What it writes (`write_configuration`): the `contract` block
(`conf/base/parameters_contract.yml`), the `ingestion.split` block
(`conf/base/parameters_ingestion.yml`), the hold-out and feature transforms
(`conf/base/parameters_features.yml`), and the `raw_reference`/`raw_current` entries of
`conf/base/catalog.yml` (the rest of the catalog is kept as it is). Everything is checked
(the blocks parse, the file passes the contract's validation) before anything is written;
files are written to temporary names and moved into place together, and put back if a move
fails, so an error changes nothing.
"""

from __future__ import annotations

import json
import math
import os
import re
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import yaml

from cirrus.contract import DatasetContract, label_text
from cirrus.parameters import (
    CONTRACT_FILE,
    FEATURES_FILE,
    INGESTION_FILE,
    ConfigError,
    FeatureParams,
    HoldoutParams,
    IngestionSplit,
)
from cirrus.preflight import check_feature_references, check_holdout, check_split

CATALOG_FILE = "conf/base/catalog.yml"
RAW_ENTRIES = ("raw_reference", "raw_current")
# The new rows `kedro run --pipelines inference` scores: pointed at the same file, so batch
# scoring works right away (the demo's new rows would fail the new contract).
INFERENCE_ENTRY = "raw_inference"
PARQUET_DATASET = "pandas.ParquetDataset"
CSV_DATASET = "cirrus.datasets.CheckedCSVDataset"
PII_SALT_ENV = "CIRRUS_PII_SALT"

# Cardinality rules.
MAX_ALLOWED_LEVELS = 12  # text columns with at most this many values get an `allowed` list
MAX_NUMERIC_CLASSES = 10  # an integer target with more distinct values is a regression target
MAX_TEXT_CLASSES = 50  # a text target with more distinct values is refused
NEAR_UNIQUE_SHARE = 0.5  # text with more distinct values than this share of rows is left out
CURRENT_SHARE = 0.2  # share of rows (or of the time span's rows) that becomes the current batch
SAMPLE_SIZE = 1000  # values looked at to recognise e-mails, phones, names and free text
CONTENT_SHARE = 0.9  # share of the sample that must look like PII
# Characters LightGBM refuses in feature names (its JSON model dump).
LIGHTGBM_REFUSED = set(',:[]{}"')

TRUE_LIKE = {"1", "yes", "y", "true", "t", "positive", "pos"}
ID_TOKENS = {"id", "uuid", "guid", "key", "pk", "identifier"}
ROW_NUMBER_NAMES = {"index", "row", "rownum", "row_number", "row_id", "unnamed"}
PHONE_TOKENS = {"phone", "mobile", "tel", "telephone", "cell", "fax", "msisdn"}
NAME_QUALIFIERS = {
    "first",
    "last",
    "full",
    "given",
    "middle",
    "maiden",
    "customer",
    "client",
    "user",
    "person",
    "applicant",
    "contact",
    "patient",
    "employee",
    "owner",
    "holder",
    "member",
    "account",
    "sur",
}
NAME_WORDS = {"surname", "firstname", "lastname", "fullname", "forename", "username"}
OTHER_PII_TOKENS = {
    "ssn",
    "passport",
    "iban",
    "address",
    "addr",
    "street",
    "dob",
    "birthdate",
    "birthday",
    "birth",
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^\+?[0-9(][0-9 ().\-/]{5,22}[0-9]$")
PERSON_NAME = re.compile(r"^[A-Z][A-Za-z'\u2019.\-]+(?: [A-Z][A-Za-z'\u2019.\-]*){1,3}$")


class ContractInferenceError(ConfigError):
    """The data file cannot be read, or no working configuration can be inferred from it."""


@dataclass(frozen=True)
class LeftOut:
    """A column the contract leaves out, why, and (for PII) how it is treated instead."""

    column: str
    reason: str
    pii: str | None = None


@dataclass
class InferredConfig:
    """Everything init-contract writes, with the comments that explain each decision."""

    source: str
    file_type: str
    n_rows: int
    n_columns: int
    contract: dict[str, Any]
    split: dict[str, Any]
    holdout: dict[str, Any]
    features: dict[str, Any]
    comments: dict[str, str] = field(default_factory=dict)
    rule_comments: dict[str, str] = field(default_factory=dict)
    left_out: list[LeftOut] = field(default_factory=list)

    def summary(self) -> list[str]:
        """What was decided, as console lines."""
        contract = self.contract
        features = contract["features"]
        lines = [
            f"Read {self.n_rows:,} rows x {self.n_columns} columns from {self.source} "
            f"({'Parquet' if self.file_type == 'parquet' else 'CSV'}).",
            f"Task: {contract['task']} on target '{contract['target']}'"
            + (
                f", positive class {contract['positive_class']!r}"
                if contract.get("positive_class") is not None
                else ""
            )
            + f" ({self.comments.get('task', '')}).",
            f"Id column: {contract['id_column'] or 'none'}; event time: "
            f"{contract['event_time_column'] or 'none'}; split: {self.describe_split()}.",
            f"Features: {len(features['numeric'])} numeric, {len(features['categorical'])} "
            f"categorical, {len(features['datetime'])} datetime.",
        ]
        if self.left_out:
            lines.append("Left out of the features:")
            lines += [f"  - {item.column}: {_left_out_text(item)}" for item in self.left_out]
        return lines

    def describe_split(self) -> str:
        """The reference/current split in words."""
        if self.split["mode"] == "fraction":
            return f"a {self.split['current_share']:.0%} share of the rows is current (fraction)"
        return f"rows at or after {self.split['current_from']} are current (event_time)"


def _left_out_text(item: LeftOut) -> str:
    """A left-out column's reason, with its PII treatment."""
    return f"{item.reason} -> pii: {item.pii}" if item.pii else item.reason


# --- reading ------------------------------------------------------------------------------------


def file_type_of(path: str) -> str:
    """`parquet` or `csv`, from the name (or, for a name that says neither, the first bytes)."""
    name = PurePosixPath(path.split("?", 1)[0]).name.lower()
    if name.endswith((".parquet", ".pq", ".parq")):
        return "parquet"
    if re.search(r"\.csv(\.(gz|bz2|zip|xz|zst))?$", name):
        return "csv"
    import fsspec

    try:
        with fsspec.open(path, "rb") as handle:
            return "parquet" if handle.read(4) == b"PAR1" else "csv"
    except (OSError, ValueError) as error:
        raise ContractInferenceError(f"Cannot read '{path}': {error}") from None


def read_table(
    path: str, storage_options: dict[str, Any] | None = None
) -> tuple[pd.DataFrame, str]:
    """The table as ingestion will read it (pandas defaults), and its file type."""
    file_type = file_type_of(path)
    options = storage_options if "://" in path and storage_options else None
    try:
        if file_type == "parquet":
            frame = pd.read_parquet(path, storage_options=options)
        else:
            frame = pd.read_csv(path, storage_options=options)
    except FileNotFoundError:
        raise ContractInferenceError(f"No such file: '{path}'") from None
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise ContractInferenceError(f"Cannot read '{path}' as {file_type}: {error}") from None
    if frame.empty or not len(frame.columns):
        raise ContractInferenceError(f"'{path}' holds no rows; expected a table with a header.")
    frame.columns = [str(column) for column in frame.columns]
    return frame, file_type


# --- column profiles ---------------------------------------------------------------------------


def _tokens(name: str) -> list[str]:
    """The words of a column name: camelCase, snake_case, kebab and spaces split, lowercased."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [token for token in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if token]


def _is_text(values: pd.Series) -> bool:
    """Whether a column holds text (object or string dtype)."""
    return values.dtype == object or isinstance(values.dtype, pd.StringDtype)


def _sample(values: pd.Series) -> pd.Series:
    """Up to SAMPLE_SIZE non-null values as text, drawn reproducibly."""
    present = values.dropna()
    if len(present) > SAMPLE_SIZE:
        present = present.sample(n=SAMPLE_SIZE, random_state=0)
    return present.astype(str).str.strip()


def parse_times(values: pd.Series) -> tuple[pd.Series, str | None] | None:
    """Text that is entirely ISO 8601 (format None) or one strptime format, as times."""
    if not _is_text(values):
        return None
    present = values.dropna().astype(str).str.strip()
    present = present[present != ""]
    if present.empty or not present.str.contains(r"\d[-/:.T ]\d|\d[-/]\d", regex=True).all():
        return None
    if present.str.fullmatch(r"[+-]?\d+(\.\d+)?").any():
        return None  # numbers, not times
    text = values.astype("string").str.strip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iso = pd.to_datetime(text, format="ISO8601", errors="coerce")
        if iso[text.notna() & (text != "")].notna().all():
            return iso, None
        from pandas.tseries.api import guess_datetime_format

        for value in present.head(5):
            for dayfirst in (False, True):
                guess = guess_datetime_format(value, dayfirst=dayfirst)
                if guess is None:
                    continue
                times = pd.to_datetime(text, format=guess, errors="coerce")
                if times[text.notna() & (text != "")].notna().all():
                    return times, guess
    return None


def _pii_by_name(name: str) -> str | None:
    """What kind of PII a column name suggests, if any."""
    tokens = _tokens(name)
    joined = "".join(tokens)
    if "email" in tokens or "mail" in tokens or "email" in joined:
        return "e-mail"
    if PHONE_TOKENS & set(tokens):
        return "phone number"
    if NAME_WORDS & set(tokens) or (
        "name" in tokens and (len(tokens) == 1 or NAME_QUALIFIERS & set(tokens))
    ):
        return "person's name"
    if OTHER_PII_TOKENS & set(tokens) or {"social", "security"} <= set(tokens):
        return "personal data"
    if {"credit", "card"} <= set(tokens) or {"card", "number"} <= set(tokens):
        return "card number"
    if tokens[-2:] == ["ip", "address"] or tokens == ["ip"]:
        return "IP address"
    return None


def _share(sample: pd.Series, pattern: re.Pattern[str]) -> float:
    """Share of sampled values that match a pattern entirely."""
    return float(sample.map(lambda value: bool(pattern.match(value))).mean()) if len(sample) else 0


def _pii_by_content(values: pd.Series, n_unique: int) -> tuple[str, float] | None:
    """What kind of PII a text column's values look like, and the share that does."""
    if not _is_text(values):
        return None
    sample = _sample(values)
    if sample.empty:
        return None
    emails = _share(sample, EMAIL)
    if emails >= CONTENT_SHARE:
        return "e-mail addresses", emails
    digits = sample.str.count(r"\d")
    phones = float((sample.map(lambda v: bool(PHONE.match(v))) & digits.between(7, 15)).mean())
    if phones >= CONTENT_SHARE and sample.str.contains(r"[ ().\-/+]", regex=True).mean() > 0.5:
        return "phone numbers", phones
    present = int(values.notna().sum())
    names = _share(sample, PERSON_NAME)
    if names >= CONTENT_SHARE and n_unique >= max(20, 0.5 * present):
        return "person names", names
    return None


def _looks_like_free_text(values: pd.Series) -> str | None:
    """A description of free text (several words per value), if the column holds it."""
    sample = _sample(values)
    words = sample.str.split().str.len().mean() if len(sample) else 0
    length = sample.str.len().mean() if len(sample) else 0
    if words >= 4 or length >= 40:
        return f"free text ({words:.0f} words per value on average)"
    return None


def _is_id_name(name: str) -> bool:
    """Whether a column is named like an identifier."""
    tokens = _tokens(name)
    if not tokens:
        return False
    return tokens[-1] in ID_TOKENS or name.endswith(("ID", "Id")) or tokens[0] in ROW_NUMBER_NAMES


def _consecutive_integers(values: pd.Series) -> bool:
    """Unique integers forming one run (a row number)."""
    if not pd.api.types.is_integer_dtype(values) or values.isna().any():
        return False
    return bool(values.max() - values.min() + 1 == len(values) and values.is_unique)


# --- pandera's inference, mapped onto contract rules --------------------------------------------


def _contract_dtype(pandera_dtype: str) -> str:
    """A contract dtype for a dtype pandera inferred."""
    name = pandera_dtype.lower()
    if name.startswith(("int", "uint")):
        return "int"
    if name.startswith("float"):
        return "float"
    if name.startswith("bool"):
        return "bool"
    if name.startswith("datetime"):
        return "datetime"
    return "string"


def _outward(value: float, down: bool) -> float:
    """A float rounded to 6 significant digits away from the data (so the bound still holds)."""
    rounded = float(f"{value:.6g}")
    step = abs(value) * 1e-6 or 1e-12
    for _ in range(3):
        if (rounded <= value) if down else (rounded >= value):
            return rounded
        rounded = float(f"{(value - step) if down else (value + step):.6g}")
        step *= 10
    return float(value)


def _bounds(column: Any, dtype: str) -> dict[str, Any]:
    """min/max (and allow_inf) from pandera's inferred range checks of a numeric column."""
    rule: dict[str, Any] = {}
    for check in column.checks:
        stats = check.statistics or {}
        for key, stat in (("min", "min_value"), ("max", "max_value")):
            if stat not in stats:
                continue
            value = stats[stat]
            value = value.item() if hasattr(value, "item") else value
            if isinstance(value, float) and math.isinf(value):
                rule["allow_inf"] = True
            elif dtype == "int":
                rule[key] = int(value)
            elif isinstance(value, int | float):
                rule[key] = _outward(float(value), down=key == "min")
    return rule


def infer_column_schemas(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """dtype, nullable and observed range of every column, as pandera infers them."""
    import pandera.pandas as pa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = pa.infer_schema(frame)
    inferred = {}
    for name, column in schema.columns.items():
        dtype = _contract_dtype(str(column.dtype))
        rule: dict[str, Any] = {"dtype": dtype, "nullable": bool(column.nullable)}
        if dtype in ("int", "float"):
            rule.update(_bounds(column, dtype))
            if rule.get("allow_inf") and dtype != "float":
                rule.pop("allow_inf")
        inferred[str(name)] = rule
    return inferred


# --- the decisions ------------------------------------------------------------------------------


def _labels(values: pd.Series) -> pd.Series:
    """Target values as the text labels ingestion compares (1.0 and 1 are both "1")."""
    present = values.dropna()
    if pd.api.types.is_float_dtype(present) and (present % 1 == 0).all():
        present = present.astype("int64")
    return present.map(label_text)


def _infer_task(values: pd.Series, target: str, task: str | None) -> tuple[str, str]:
    """The task (declared or inferred from the target's values) and why."""
    labels = _labels(values)
    counts = labels.value_counts()
    k = len(counts)
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    integral = numeric and bool((values.dropna() % 1 == 0).all())
    if k < 2:
        shown = f" ({counts.index[0]!r})" if k else ""
        raise ContractInferenceError(
            f"Target '{target}' holds {k} distinct value(s){shown}: there is nothing to learn."
        )
    if task == "regression" and not numeric:
        raise ContractInferenceError(
            f"--task regression needs a numeric target; '{target}' holds text "
            f"(e.g. {counts.index[:3].tolist()})."
        )
    if task == "binary" and k != 2:
        raise ContractInferenceError(
            f"--task binary needs exactly 2 labels; target '{target}' has {k} "
            f"(e.g. {counts.index[:5].tolist()})."
        )
    if task == "multiclass" and not 3 <= k <= MAX_TEXT_CLASSES:
        raise ContractInferenceError(
            f"--task multiclass needs 3 to {MAX_TEXT_CLASSES} labels; target '{target}' has {k}."
        )
    if task is not None:
        return task, "as declared with --task"
    if k == 2:
        return "binary", "inferred, the target has 2 labels"
    if numeric and (not integral or k > MAX_NUMERIC_CLASSES):
        return "regression", f"inferred, a numeric target with {k} distinct values"
    if numeric:
        return "multiclass", (
            f"inferred, an integer target with {k} values read as classes "
            "(--task regression if their order and distance matter)"
        )
    if k > MAX_TEXT_CLASSES:
        raise ContractInferenceError(
            f"Target '{target}' holds {k} distinct text labels: too many for classification "
            f"(at most {MAX_TEXT_CLASSES}), and text cannot be regressed."
        )
    return "multiclass", f"inferred, the target has {k} labels"


def _positive_class(values: pd.Series) -> tuple[str, str]:
    """The positive class of a binary target (a yes/1/true-like label, else the rarer one)."""
    counts = _labels(values).value_counts()
    true_like = [label for label in counts.index if label.strip().lower() in TRUE_LIKE]
    if len(true_like) == 1:
        label = true_like[0]
        share = counts[label] / counts.sum()
        return label, f"looks like a yes/1/true label ({share:.1%} of rows)"
    rarest = sorted(counts.items(), key=lambda item: (item[1], item[0]))[0][0]
    share = counts[rarest] / counts.sum()
    return rarest, f"the rarer label ({share:.1%} of rows)"


def _date_parts(times: list[pd.Series]) -> tuple[list[str], str]:
    """Date parts that vary in the datetime features (never the year, which later data leaves)."""
    if not times:
        return [], "no datetime features"
    stamps = pd.concat([t.dropna() for t in times])
    if stamps.empty:
        return [], "the datetime features are empty"
    span = stamps.max() - stamps.min()
    parts = []
    if span >= pd.Timedelta(days=180):
        parts.append("month")
    if span >= pd.Timedelta(days=7):
        parts.append("dayofweek")
    if (stamps.dt.hour != 0).any():
        parts.append("hour")
    return parts, "the parts that vary in the data (never year: later batches hold new years)"


def _cut_time(times: pd.Series) -> str:
    """The time at the 80% quantile of the rows, as an ISO date or date-time."""
    ordered = times.dropna().sort_values(ignore_index=True)
    cut = ordered.iloc[min(len(ordered) - 1, int(len(ordered) * (1 - CURRENT_SHARE)))]
    if (ordered < cut).sum() == 0 or (ordered >= cut).sum() == 0:
        raise ContractInferenceError(
            f"Cannot cut the event-time column at its {1 - CURRENT_SHARE:.0%} quantile: "
            "too few distinct times; leave --time out for a split by share of rows."
        )
    if cut == cut.normalize():
        return cut.strftime("%Y-%m-%d")
    return cut.isoformat(sep=" ")


def _salt_configured(project: Path) -> bool:
    """Whether a PII salt is set (env CIRRUS_PII_SALT or conf/local/credentials.yml)."""
    if os.environ.get(PII_SALT_ENV):
        return True
    credentials = project / "conf" / "local" / "credentials.yml"
    if not credentials.is_file():
        return False
    try:
        return bool((yaml.safe_load(credentials.read_text()) or {}).get("pii_salt"))
    except yaml.YAMLError:
        return False


def _suggest(name: str, columns: list[str]) -> str:
    """`; did you mean 'x'?` for a close column name."""
    import difflib

    close = difflib.get_close_matches(name, columns, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _require_column(frame: pd.DataFrame, name: str, option: str) -> None:
    """Fail, listing the columns, when an option names a column the file lacks."""
    if name not in frame.columns:
        columns = list(frame.columns)
        raise ContractInferenceError(
            f"{option} '{name}' is not a column of the file{_suggest(name, columns)} "
            f"(columns: {columns[:30]}{' ...' if len(columns) > 30 else ''})."
        )


def _find_id(frame: pd.DataFrame, taken: set[Any]) -> tuple[str | None, str]:
    """The id column, if one is found, and why."""
    candidates = []
    for column in frame.columns:
        values = frame[column]
        if column in taken or _pii_by_name(column) or pd.api.types.is_float_dtype(values):
            continue
        if not (values.notna().all() and values.is_unique):
            continue
        if _is_id_name(column):
            return column, "review: unique in every row and named like an id"
        text = values.astype(str)
        short_codes = not text.str.contains(r"\s").any() and text.str.len().max() <= 40
        if _is_text(values) and short_codes and _pii_by_content(values, len(values)) is None:
            candidates.append(column)
    if candidates:
        return candidates[0], "review: short text codes, unique in every row"
    return None, "no unique id-like column: no de-duplication; the split hashes rows"


def infer_configuration(
    frame: pd.DataFrame,
    source: str,
    file_type: str,
    target: str,
    task: str | None = None,
    id_column: str | None = None,
    time_column: str | None = None,
    hash_pii: bool = True,
) -> InferredConfig:
    """Infer the contract, split, hold-out and feature transforms of a table."""
    _require_column(frame, target, "--target")
    for option, name in (("--id", id_column), ("--time", time_column)):
        if name is not None:
            _require_column(frame, name, option)
            if name == target:
                raise ContractInferenceError(f"{option} '{name}' is also the --target.")
    if id_column is not None and id_column == time_column:
        raise ContractInferenceError(f"--id and --time both name '{id_column}'.")
    n_rows = len(frame)
    if frame[target].isna().any():
        raise ContractInferenceError(
            f"Target '{target}' is empty in {int(frame[target].isna().sum())} of {n_rows} rows: "
            "the labelled history must be labelled in every row; remove those rows first."
        )

    # Times held as text become times, so pandera infers them as datetimes.
    typed = frame.copy()
    formats: dict[str, str | None] = {}
    for column in frame.columns:
        if column == target:
            continue
        parsed = parse_times(frame[column])
        if parsed is not None:
            typed[column], formats[column] = parsed
        elif pd.api.types.is_datetime64_any_dtype(frame[column]):
            formats[column] = None
    schemas = infer_column_schemas(typed)

    comments: dict[str, str] = {}
    rule_comments: dict[str, str] = {}
    left_out: list[LeftOut] = []
    pii: dict[str, str] = {}
    treatment = "hash" if hash_pii else "drop"

    task, comments["task"] = _infer_task(frame[target], target, task)
    positive = None
    if task == "binary":
        positive, comments["positive_class"] = _positive_class(frame[target])

    # The event-time column: declared, else the only datetime column.
    if time_column is not None:
        if time_column not in formats:
            kind = "numbers" if pd.api.types.is_numeric_dtype(frame[time_column]) else "text"
            raise ContractInferenceError(
                f"--time '{time_column}' holds {kind}, not dates or date-times (e.g. "
                "'2025-01-31' or '2025-01-31 14:00:00'); leave --time out for a split by "
                "share of rows."
            )
        if typed[time_column].isna().any():
            raise ContractInferenceError(
                f"--time '{time_column}' is empty in {int(typed[time_column].isna().sum())} "
                "row(s): an event time must be known in every row; leave --time out for a "
                "split by share of rows."
            )
        comments["event_time_column"] = "as declared with --time"
    else:
        candidates = [
            c
            for c in formats
            if not _pii_by_name(c) and typed[c].nunique() > 1 and typed[c].notna().all()
        ]
        if len(candidates) == 1:
            time_column = candidates[0]
            comments["event_time_column"] = (
                "review: the only datetime column, so later rows are current (null and "
                "split mode fraction for a random split)"
            )
        elif candidates:
            comments["event_time_column"] = (
                f"review: several datetime columns {candidates}: none chosen; "
                "--time COLUMN for a split by time"
            )
        else:
            comments["event_time_column"] = "no datetime column: the split takes a share of rows"

    # The id column: declared, else a unique, complete column named like an id, else one of
    # short text codes (no spaces, not PII).
    if id_column is None:
        id_column, comments["id_column"] = _find_id(frame, {target, time_column, *formats})
    else:
        duplicates = int(frame[id_column].duplicated().sum())
        comments["id_column"] = "as declared with --id" + (
            f"; {duplicates} repeated id(s): the last row of each wins" if duplicates else ""
        )

    numeric: list[str] = []
    categorical: list[str] = []
    datetime_features: list[str] = []
    rules: dict[str, dict[str, Any]] = {}
    for column in frame.columns:
        values = typed[column]
        inferred = schemas[column]
        present = int(values.notna().sum())
        n_unique = int(values.nunique(dropna=True))
        if column == target:
            continue
        if column == id_column:
            rules[column] = {"dtype": inferred["dtype"]}
            continue
        if column == time_column:
            rules[column] = _time_rule(formats[column])
            datetime_features.append(column)
            continue
        if LIGHTGBM_REFUSED & set(column):
            left_out.append(LeftOut(column, 'its name holds characters LightGBM refuses ,:[]{}"'))
            continue
        if present == 0:
            left_out.append(LeftOut(column, "empty (null in every row)"))
            continue
        if n_unique == 1:
            left_out.append(LeftOut(column, f"constant (always {values.dropna().iloc[0]!r})"))
            continue
        by_name = _pii_by_name(column)
        by_content = _pii_by_content(frame[column], n_unique)
        if by_name or by_content:
            reason = (
                f"likely PII: {by_content[0]} in {by_content[1]:.0%} of values"
                if by_content
                else f"likely PII by its name ({by_name})"
            )
            pii[column] = treatment
            left_out.append(LeftOut(column, reason, treatment))
            continue
        if column in formats:
            rules[column] = _time_rule(formats[column], nullable=inferred["nullable"])
            datetime_features.append(column)
            continue
        dtype = inferred["dtype"]
        if dtype in ("int", "float", "bool"):
            unique = dtype != "float" and values.is_unique and present == n_rows
            if unique and (_is_id_name(column) or _consecutive_integers(values)):
                left_out.append(LeftOut(column, "id-like (a unique integer in every row)"))
                continue
            numeric.append(column)
            rules[column] = {"dtype": dtype}
            if not inferred["nullable"]:
                rules[column]["nullable"] = False
            rules[column].update(
                {k: v for k, v in inferred.items() if k not in ("dtype", "nullable")}
            )
            continue
        # Text: left out when free text or near-unique, else a categorical feature.
        text = _looks_like_free_text(frame[column])
        if n_unique > max(20, NEAR_UNIQUE_SHARE * present):
            reason = text or (
                f"{'id-like' if _is_id_name(column) else 'very high cardinality'} "
                f"({n_unique} distinct values in {present} rows)"
            )
            left_out.append(LeftOut(column, reason))
            continue
        if text:
            left_out.append(LeftOut(column, text))
            continue
        categorical.append(column)
        rule: dict[str, Any] = {"dtype": "string"}
        if not inferred["nullable"]:
            rule["nullable"] = False
        if n_unique <= MAX_ALLOWED_LEVELS:
            rule["allowed"] = sorted(values.dropna().astype(str).unique().tolist())
            rule_comments[column] = (
                "review: the levels seen; a new one fails validation (without `allowed` it "
                "maps to __unknown__)"
            )
        if _is_id_name(column):
            rule_comments[column] = "review: named like an id but repeated: used as a category"
        rules[column] = rule

    task_rule: dict[str, Any] = {}
    if task == "regression":
        task_rule = {"dtype": "float"}
    else:
        labels = sorted(_labels(frame[target]).unique().tolist())
        if len(labels) <= MAX_TEXT_CLASSES:
            task_rule = {"allowed": labels}
    rules[target] = task_rule

    if not numeric + categorical + datetime_features:
        raise ContractInferenceError(
            f"No usable feature column is left in {source}: "
            + "; ".join(f"{item.column}: {item.reason}" for item in left_out)
        )
    if time_column is not None:
        split = {"mode": "event_time", "current_from": _cut_time(typed[time_column])}
        comments["split"] = (
            f"review: the {1 - CURRENT_SHARE:.0%} time quantile of '{time_column}': later rows "
            "are the current batch"
        )
    else:
        split = {"mode": "fraction", "current_share": CURRENT_SHARE, "seed": 42}
        comments["split"] = (
            f"one file, no time: {CURRENT_SHARE:.0%} of the rows (by a hash of the "
            + ("id" if id_column else "row")
            + " and seed) are current"
        )
    date_parts, comments["date_parts"] = _date_parts([typed[c] for c in datetime_features])
    contract = {
        "name": _contract_name(source),
        "id_column": id_column,
        "event_time_column": time_column,
        "target": target,
        "task": task,
        "positive_class": positive,
        "features": {
            "numeric": numeric,
            "categorical": categorical,
            "datetime": datetime_features,
        },
        "pii": pii,
        "columns": {column: rules[column] for column in frame.columns if rules.get(column)},
    }
    if positive is None:
        contract.pop("positive_class")
    holdout = {
        "strategy": "random" if task == "regression" else "stratified",
        "test_size": 0.2,
        "seed": 42,
    }
    features = {
        "log": [],
        "ratios": {},
        "date_parts": date_parts,
        "missing_indicators": "auto",
        "categorical": {"min_frequency": max(1, min(20, n_rows // 100)), "max_levels": 200},
    }
    return InferredConfig(
        source=source,
        file_type=file_type,
        n_rows=n_rows,
        n_columns=len(frame.columns),
        contract=contract,
        split=split,
        holdout=holdout,
        features=features,
        comments=comments,
        rule_comments=rule_comments,
        left_out=left_out,
    )


def _time_rule(time_format: str | None, nullable: bool = False) -> dict[str, Any]:
    """The rule of a datetime column: its format when it is not ISO 8601."""
    rule: dict[str, Any] = {"dtype": "datetime"}
    if not nullable:
        rule["nullable"] = False
    if time_format is not None:
        rule["format"] = time_format
    return rule


def _contract_name(source: str) -> str:
    """A contract name from the file name: `s3://b/churn/customers.parquet` -> `customers`."""
    stem = PurePosixPath(source.split("?", 1)[0]).name
    stem = re.sub(r"\.(csv|parquet|pq|parq)(\.(gz|bz2|zip|xz|zst))?$", "", stem, flags=re.I)
    return re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_").lower() or "dataset"


# --- checks before writing ---------------------------------------------------------------------


def check_configuration(config: InferredConfig, frame: pd.DataFrame) -> DatasetContract:
    """Parse every block, run the checks across blocks, and validate the file with the
    contract, so that what is written runs; raise ContractInferenceError otherwise."""
    from cirrus.validation import validate_raw

    try:
        contract = DatasetContract.parse(config.contract)
        split = IngestionSplit.parse(config.split)
        features = FeatureParams.parse(config.features)
        holdout = HoldoutParams.parse(config.holdout)
        check_feature_references(features, contract)
        check_holdout(holdout, contract)
        check_split(split, contract)
    except ConfigError as error:
        raise ContractInferenceError(f"The inferred configuration is refused: {error}") from None
    from cirrus.contract import DataContractViolation

    try:
        validate_raw(frame, contract, source="raw_reference", labelled=True)
    except DataContractViolation as error:
        raise ContractInferenceError(
            f"The inferred contract does not validate {config.source}: {error}"
        ) from None
    return contract


# --- YAML --------------------------------------------------------------------------------------


def _scalar(value: Any, quote: bool = False) -> str:
    """One YAML scalar; `quote` forces a string to be quoted (labels, allowed values)."""
    if quote and isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, np.generic):
        value = value.item()
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**6)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _flow(value: Any, quote: bool = False) -> str:
    """A value in YAML flow style: lists as [...], mappings as {...}."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v, quote)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(item, quote) for item in value) + "]"
    return _scalar(value, quote)


def _wrapped_list(items: list[Any], indent: int, width: int = 99, quote: bool = False) -> str:
    """A flow list that starts at column `indent`, wrapped onto aligned continuation lines."""
    parts = [_flow(item, quote) for item in items]
    if not parts:
        return "[]"
    lines, current, start = [], "[", indent
    for index, part in enumerate(parts):
        piece = part + ("," if index < len(parts) - 1 else "]")
        if start + len(current) + len(piece) > width and current.strip() != "[":
            lines.append(current.rstrip())
            current, start = " " * (indent + 1), 0
        current += piece + " "
    lines.append(current.rstrip())
    return "\n".join(lines)


def _with_comment(line: str, comment: str | None, column: int = 40, width: int = 100) -> str:
    """A YAML line with its comment: aligned at `column` after it when that fits in `width`,
    else on the line above, at the same indentation."""
    if not comment:
        return line
    inline = f"{line.ljust(column - 1)} # {comment}"
    if len(inline) <= width and "\n" not in line:
        return inline
    indent = " " * (len(line) - len(line.lstrip()))
    wrapped = textwrap.wrap(comment, width - len(indent) - 2)
    return "\n".join([*(f"{indent}# {part}" for part in wrapped), line])


def _rule(rule: dict[str, Any]) -> str:
    """A column rule in flow style, its allowed values always quoted."""
    parts = [f"{key}: {_flow(value, quote=key == 'allowed')}" for key, value in rule.items()]
    return "{" + ", ".join(parts) + "}"


def render_contract(config: InferredConfig) -> str:
    """conf/base/parameters_contract.yml: the contract, with comments."""
    c, notes = config.contract, config.comments
    lines = [
        f"# The dataset contract of {config.source}, written by `kedro cirrus init-contract`",
        "# from the data: dtypes, nullability and observed ranges as pandera's infer_schema",
        "# reads the file; roles, task and allowed values by dtype and cardinality. Lines marked",
        "# `review:` are guesses to check. Columns not named here are dropped at ingestion.",
        "contract:",
        f"  name: {_scalar(c['name'])}",
        _with_comment(f"  id_column: {_scalar(c['id_column'])}", notes.get("id_column")),
        _with_comment(
            f"  event_time_column: {_scalar(c['event_time_column'])}",
            notes.get("event_time_column"),
        ),
        f"  target: {_scalar(c['target'])}",
        _with_comment(f"  task: {c['task']}", f"binary | multiclass | regression: {notes['task']}"),
    ]
    if "positive_class" in c:
        lines.append(
            _with_comment(
                f"  positive_class: {_scalar(c['positive_class'], quote=True)}",
                f"review: {notes['positive_class']}",
            )
        )
    lines.append("  features:")
    for kind in ("numeric", "categorical", "datetime"):
        prefix = f"    {kind}: "
        lines.append(prefix + _wrapped_list(c["features"][kind], len(prefix)))
    if c["pii"]:
        lines.append("  pii:                                  # drop, or hash (salted SHA-256)")
        reasons = {item.column: item.reason for item in config.left_out}
        for column, how in c["pii"].items():
            lines.append(
                _with_comment(f"    {_scalar(column)}: {how}", f"review: {reasons[column]}")
            )
    else:
        lines.append("  pii: {}                               # drop, or hash (salted SHA-256)")
    lines += [
        "  # Rules from pandera's inference on the file (dtype, nullable, observed min/max):",
        "  # widen a range if later data can go beyond it.",
        "  columns:",
    ]
    for column, rule in c["columns"].items():
        line = f"    {_scalar(column)}: {_rule(rule)}"
        if len(line) > 100:  # block style, the allowed values wrapped
            block = [f"    {_scalar(column)}:"]
            for key, value in rule.items():
                prefix = f"      {key}: "
                shown = (
                    _wrapped_list(value, len(prefix), quote=True)
                    if key == "allowed"
                    else (_scalar(value))
                )
                block.append(prefix + shown)
            line = "\n".join(block)
        lines.append(_with_comment(line, config.rule_comments.get(column)))
    others = [item for item in config.left_out if item.pii is None]
    if others:
        lines.append("  # Left out of the features (dropped at ingestion; name one in `features`")
        lines.append("  # and give it a rule to use it):")
        lines += [f"  #   {item.column}: {item.reason}" for item in others]
    return "\n".join(lines) + "\n"


def render_ingestion(config: InferredConfig) -> str:
    """conf/base/parameters_ingestion.yml: the reference/current split, with comments."""
    notes = config.comments
    lines = [
        "# How the raw rows become the reference (training) rows and the current batch, written",
        f"# by `kedro cirrus init-contract` for {config.source}.",
        "ingestion:",
        "  split:",
    ]
    split = config.split
    lines.append(
        _with_comment(
            f"    mode: {split['mode']}",
            "files | event_time | fraction",
        )
    )
    for key in ("current_from", "current_share", "seed"):
        if key in split:
            comment = notes["split"] if key in ("current_from", "current_share") else None
            lines.append(_with_comment(f"    {key}: {_scalar(split[key])}", comment))
    return "\n".join(lines) + "\n"


def render_features(config: InferredConfig) -> str:
    """conf/base/parameters_features.yml: hold-out and the transforms that fit this data."""
    holdout, features = config.holdout, config.features
    categorical = features["categorical"]
    return "\n".join(
        [
            "# Held-out test rows are carved from the reference rows before anything is fitted.",
            "holdout:",
            _with_comment(
                f"  strategy: {holdout['strategy']}",
                "stratified | random | time (latest rows are the test rows)",
                30,
            ),
            f"  test_size: {holdout['test_size']}",
            f"  seed: {holdout['seed']}",
            "",
            "# Declared transforms, all learned on training rows only and saved to",
            f"# data/04_feature. Written by `kedro cirrus init-contract` for {config.source}.",
            "features:",
            _with_comment("  log: []", "log1p of numeric features, e.g. [income]", 30),
            _with_comment("  ratios: {}", "name: [numerator, denominator]", 30),
            _with_comment(
                f"  date_parts: {_flow(features['date_parts'])}",
                f"of the datetime features: {config.comments['date_parts']}",
                30,
            ),
            _with_comment(
                "  missing_indicators: auto",
                "auto (numeric columns with nulls in training) | none | [columns]",
                30,
            ),
            "  categorical:",
            _with_comment(
                f"    min_frequency: {categorical['min_frequency']}",
                "rarer training levels become __other__ (1% of the rows, at most 20)",
                30,
            ),
            f"    max_levels: {categorical['max_levels']}",
            "",
        ]
    )


def _entry(dataset_type: str, filepath: str) -> dict[str, Any]:
    """A raw catalog entry."""
    return {
        "type": dataset_type,
        "filepath": filepath,
        "credentials": "storage",
        "metadata": {"kedro-viz": {"layer": "raw"}},
    }


def _render_entry(name: str, entry: dict[str, Any]) -> list[str]:
    """A catalog entry as block YAML lines."""
    return [
        f"{name}:",
        f"  type: {entry['type']}",
        f"  filepath: {_scalar(entry['filepath'])}",
        f"  credentials: {entry['credentials']}",
        "  metadata: {kedro-viz: {layer: raw}}",
    ]


def _top_level_blocks(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Line spans [start, end) of each top-level key, comments directly above included
    (section headers `# ---` excepted), trailing blank lines and comments excluded."""
    starts = [i for i, line in enumerate(lines) if line[:1] not in ("", " ", "\t", "#")]
    spans = {}
    for n, start in enumerate(starts):
        key = lines[start].split(":", 1)[0].strip().strip("'\"")
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
            end -= 1
        first = start
        while first > 0 and lines[first - 1].startswith("#") and "---" not in lines[first - 1]:
            first -= 1
        spans[key] = (first, end)
    return spans


def _key_line(lines: list[str], name: str, span: tuple[int, int]) -> int:
    """The line of a top-level key within its span (below the comments attached to it)."""
    for index in range(span[0], span[1]):
        if lines[index].split(":", 1)[0].strip().strip("'\"") == name:
            return index
    return span[0]


def render_catalog(current: str, dataset_type: str, filepath: str, source: str) -> str:
    """conf/base/catalog.yml with its raw entries pointed at the file, the rest untouched."""
    lines = current.splitlines()
    spans = _top_level_blocks(lines)
    new = [
        f"# Written by `kedro cirrus init-contract`: both raw entries read {source};",
        "# ingestion.split in conf/base/parameters_ingestion.yml makes the current batch.",
    ]
    for name in RAW_ENTRIES:
        new += [*_render_entry(name, _entry(dataset_type, filepath)), ""]
    new.pop()
    before = yaml.safe_load(current) or {}
    same_type = all(
        isinstance(before.get(name), dict) and before[name].get("type") == dataset_type
        for name in RAW_ENTRIES
    )
    if same_type:  # the comments above the entries still describe them
        spans = {name: (_key_line(lines, name, span), span[1]) for name, span in spans.items()}
        new = new[2:]
    present = sorted((spans[name] for name in RAW_ENTRIES if name in spans), reverse=True)
    if present:
        insert_at = present[-1][0]
        for first, end in present:
            del lines[first:end]
            # One blank line where an entry was, not two.
            while 0 < first < len(lines) and not (lines[first].strip() or lines[first - 1].strip()):
                del lines[first]
    else:
        insert_at = 0
        while insert_at < len(lines) and lines[insert_at].startswith("#"):
            insert_at += 1
        new = ["", *new, ""] if lines else new
    lines[insert_at:insert_at] = new
    text = _point_inference_entry(lines, _entry(dataset_type, filepath))
    after = yaml.safe_load(text) or {}
    written = (*RAW_ENTRIES, INFERENCE_ENTRY)
    kept = {k: v for k, v in before.items() if k not in written}
    if {k: v for k, v in after.items() if k not in written} != kept:
        raise ContractInferenceError(
            f"Could not rewrite the raw entries of {CATALOG_FILE} without changing other "
            "entries; point raw_reference, raw_current and raw_inference at the file by hand."
        )
    return text


def _point_inference_entry(lines: list[str], entry: dict[str, Any]) -> str:
    """The catalog text with raw_inference replaced in place (the comments above it kept), or
    added after the raw entries when the catalog has none."""
    spans = _top_level_blocks(lines)
    rendered = _render_entry(INFERENCE_ENTRY, entry)
    if INFERENCE_ENTRY in spans:
        span = spans[INFERENCE_ENTRY]
        lines[_key_line(lines, INFERENCE_ENTRY, span) : span[1]] = rendered
    else:
        after = max(spans[name][1] for name in RAW_ENTRIES)
        lines[after:after] = ["", *rendered]
    return "\n".join(lines) + "\n"


def _check_round_trip(text: str, expected: dict[str, Any], file: str) -> None:
    """The rendered YAML reads back as the intended blocks (quoting and layout are right)."""
    loaded = yaml.safe_load(text)
    if loaded != json.loads(json.dumps(expected)):
        raise ContractInferenceError(
            f"Rendering {file} went wrong: it does not read back as the inferred values."
        )


# --- the catalog file path --------------------------------------------------------------------


def catalog_filepath(path: str, project: Path) -> str:
    """How the catalog names the file: a URL as is; a local file under the data root via
    `${globals:data_root}`, under the project relative to it, else absolute."""
    if "://" in path and not path.startswith("file://"):
        return path
    local = Path(path.removeprefix("file://")).expanduser()
    local = (local if local.is_absolute() else Path.cwd() / local).resolve()
    data_root = "data"
    globals_file = project / "conf" / "base" / "globals.yml"
    if globals_file.is_file():
        data_root = str((yaml.safe_load(globals_file.read_text()) or {}).get("data_root", "data"))
    if "://" not in data_root:
        root = (project / data_root).resolve()
        if local.is_relative_to(root):
            return "${globals:data_root}/" + local.relative_to(root).as_posix()
    project = project.resolve()
    if local.is_relative_to(project):
        return local.relative_to(project).as_posix()
    return local.as_posix()


def _read_options(project: Path) -> dict[str, Any] | None:
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


def _dataset_type(file_type: str, catalog_text: str) -> str:
    """The raw entries' dataset type: Parquet, or the CSV type the catalog already uses."""
    if file_type == "parquet":
        return PARQUET_DATASET
    current = (yaml.safe_load(catalog_text) or {}).get("raw_reference", {})
    declared = str(current.get("type", "")) if isinstance(current, dict) else ""
    return declared if declared.endswith("CSVDataset") else CSV_DATASET


# --- writing -----------------------------------------------------------------------------------


@dataclass
class Written:
    """The outcome of init-contract: what was inferred, and the files written."""

    config: InferredConfig
    files: list[str]
    warnings: list[str]
    notes: list[str] = field(default_factory=list)


def _shadowing_overrides(project: Path) -> list[str]:
    """conf/local files that would override what init-contract writes."""
    found = []
    local = project / "conf" / "local"
    for path in sorted(local.glob("parameters*.yml")) + sorted(local.glob("catalog*.yml")):
        try:
            keys = set(yaml.safe_load(path.read_text()) or {})
        except yaml.YAMLError:
            continue
        shadowed = keys & {
            "contract",
            "ingestion",
            "holdout",
            "features",
            *RAW_ENTRIES,
            INFERENCE_ENTRY,
        }
        if shadowed:
            rel = path.relative_to(project).as_posix()
            found.append(f"{rel} overrides {sorted(shadowed)}: its values win over those written")
    return found


def _replace_all(contents: dict[Path, str]) -> None:
    """Write every file to a temporary name, then move them all into place; on a failed move,
    put back the ones already moved."""
    temporary = {}
    try:
        for path, text in contents.items():
            temp = path.with_name(f".{path.name}.init-contract.tmp")
            temp.write_text(text)
            temporary[path] = temp
        previous = {path: path.read_text() if path.exists() else None for path in contents}
        moved = []
        try:
            for path, temp in temporary.items():
                os.replace(temp, path)
                moved.append(path)
        except BaseException:
            for path in moved:
                if previous[path] is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_text(previous[path])
            raise
    finally:
        for temp in temporary.values():
            temp.unlink(missing_ok=True)


def write_configuration(
    project: Path,
    path: str,
    target: str,
    task: str | None = None,
    id_column: str | None = None,
    time_column: str | None = None,
    force: bool = False,
) -> Written:
    """Infer the configuration of a data file and write it into the project's conf/base."""
    frame, file_type = read_table(path, _read_options(project))
    config = infer_configuration(
        frame,
        path,
        file_type,
        target,
        task=task,
        id_column=id_column,
        time_column=time_column,
        hash_pii=_salt_configured(project),
    )
    check_configuration(config, frame)
    catalog_path = project / CATALOG_FILE
    catalog_text = catalog_path.read_text() if catalog_path.exists() else ""
    contract_text = render_contract(config)
    ingestion_text = render_ingestion(config)
    features_text = render_features(config)
    _check_round_trip(contract_text, {"contract": config.contract}, CONTRACT_FILE)
    _check_round_trip(ingestion_text, {"ingestion": {"split": config.split}}, INGESTION_FILE)
    _check_round_trip(
        features_text, {"holdout": config.holdout, "features": config.features}, FEATURES_FILE
    )
    contents = {
        project / CONTRACT_FILE: contract_text,
        project / INGESTION_FILE: ingestion_text,
        project / FEATURES_FILE: features_text,
        catalog_path: render_catalog(
            catalog_text,
            _dataset_type(file_type, catalog_text),
            catalog_filepath(path, project),
            path,
        ),
    }
    changed = {
        target_path: text
        for target_path, text in contents.items()
        if not target_path.exists() or target_path.read_text() != text
    }
    existing = [p for p in changed if p.exists()]
    if existing and not force:
        names = ", ".join(p.relative_to(project).as_posix() for p in existing)
        raise ContractInferenceError(
            f"Not written: {names} already exist and would change (the committed conf is the "
            "demo's); nothing was changed. Rerun with --force to replace them (git keeps the "
            "previous versions)."
        )
    _replace_all(changed)
    files = [p.relative_to(project).as_posix() for p in contents]
    notes = [
        f"{INFERENCE_ENTRY} (the rows `kedro run --pipelines inference` scores) now reads {path} "
        "too, so batch scoring works once `kedro run` has trained a model; point it at your new, "
        f"unlabelled rows in {CATALOG_FILE} when you have them."
    ]
    return Written(config, files, _shadowing_overrides(project), notes)

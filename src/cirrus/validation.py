"""Validation of raw rows against the dataset contract, and PII treatment.

Shared by ingestion (labelled reference and current batches), batch scoring and the prediction
API, so every path that reads new rows checks them and treats their PII the same way.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandas.tseries.api import guess_datetime_format
from pandera.errors import SchemaErrors

import cirrus.pandas_options  # noqa: F401  (text as Arrow-backed strings)
from cirrus.contract import (
    CONTRACT_FILE,
    ISO_8601,
    ColumnRule,
    DataContractViolation,
    DatasetContract,
)

_PANDERA_DTYPES = {
    "int": "Int64",
    "float": "float64",
    "string": "string",
    "datetime": "datetime64[ns]",
    "bool": "boolean",
}


# What pandas reads as a missing time: such text is a null, not a value in another format.
_MISSING_TIME_TEXT = ["", "NaT", "nat", "NAT", "nan", "NaN", "NAN", "None", "<NA>"]
_FINITE = pa.Check(
    lambda values: ~np.isinf(values),
    name="finite",
    error="finite (inf and -inf are refused unless the column's rule sets allow_inf: true)",
)


def _checks_for(rule: ColumnRule) -> list[pa.Check]:
    """Pandera checks that express a column rule's finiteness, range and allowed values."""
    checks = [_FINITE] if rule.dtype == "float" and not rule.allow_inf else []
    if rule.min is not None:
        checks.append(pa.Check.greater_than_or_equal_to(rule.min))
    if rule.max is not None:
        checks.append(pa.Check.less_than_or_equal_to(rule.max))
    if rule.allowed is not None:
        checks.append(pa.Check.isin(rule.allowed))
    return checks


def build_schema(contract: DatasetContract) -> pa.DataFrameSchema:
    """Build the pandera schema of the raw data from the contract."""
    columns = {}
    for column in contract.known_columns:
        rule = contract.rule_for(column)
        columns[column] = pa.Column(
            _PANDERA_DTYPES[rule.dtype],
            checks=_checks_for(rule),
            nullable=rule.nullable,
            unique=rule.unique,
            coerce=True,
        )
    return pa.DataFrameSchema(columns, strict=False)


def _describe_failures(errors: SchemaErrors) -> str:
    """Summarise pandera failures as one line per column and check, with a few examples."""
    cases = errors.failure_cases
    lines = []
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=True):
        examples = group["failure_case"].dropna().astype(str).unique()[:3].tolist()
        shown = f" (e.g. {examples})" if examples else ""
        lines.append(f"column '{column}': failed {check} in {len(group)} row(s){shown}")
    return "; ".join(lines)


def _labels_as_text(frame: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    """Keep class labels as text so that 0/1, 0.0/1.0, yes/no and names are treated alike."""
    if contract.task == "regression":
        return frame
    target = frame[contract.target]
    if pd.api.types.is_float_dtype(target) and (target.dropna() % 1 == 0).all():
        target = target.astype("Int64")
    as_text = target.astype("string")
    return frame.assign(**{contract.target: as_text})


def _expected_format(rule: ColumnRule) -> str:
    """The datetime format a rule expects, as a person reads it."""
    if rule.format in (None, ISO_8601):
        return "ISO 8601 (e.g. '2025-01-31' or '2025-01-31 14:30:00')"
    return repr(rule.format)


def _format_found(values: pd.Series) -> str:
    """The format(s) pandas guesses for text in another format: those that read every value of
    a sample spread over the column (so '13/02/2025' settles whether '01/02/2025' is day or
    month first)."""
    distinct = values.drop_duplicates()
    sample = distinct.iloc[np.unique(np.linspace(0, len(distinct) - 1, 200).astype(int))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns about day-first guesses
        guesses = [
            guess_datetime_format(value, dayfirst=dayfirst)
            for value in sample.head(20)
            for dayfirst in (False, True)
        ]
        candidates = list(dict.fromkeys(g for g in guesses if g is not None))
        fitting = [
            candidate
            for candidate in candidates
            if pd.to_datetime(sample, format=candidate, errors="coerce").notna().all()
        ]
    found = fitting or candidates[:1]
    if not found:
        return "pandas recognises no date format in them"
    return f"they look like {' or '.join(repr(f) for f in found)}"


def _datetime_role(column: str, contract: DatasetContract) -> str:
    """Where the contract makes a column a datetime, as a dotted key."""
    if column == contract.event_time_column:
        return "contract.event_time_column"
    if column in contract.features.datetime:
        return "contract.features.datetime"
    return f"contract.columns.{column}.dtype"


def _refuse_numbers_as_times(frame: pd.DataFrame, contract: DatasetContract, source: str) -> None:
    """A datetime column holding numbers (a step count, an epoch) is refused, naming the key:
    pandas would read the numbers as nanoseconds since 1970."""
    problems = []
    for column in frame.columns:
        values = frame[column]
        if contract.rule_for(column).dtype != "datetime":
            continue
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            examples = values.dropna().drop_duplicates().head(3).tolist()
            problems.append(
                f"column '{column}' holds numbers ({values.dtype}, e.g. {examples}), not dates "
                f"or times, but {_datetime_role(column, contract)} makes it a datetime"
            )
    if problems:
        raise DataContractViolation(
            f"Dataset '{source}' violates the contract: {'; '.join(problems)}. Give the column "
            f"dates or times, or, in {CONTRACT_FILE}, declare it as a numeric feature (for the "
            "event time: event_time_column: null with ingestion.split.mode: fraction)."
        )


def _declared_missing_as_null(frame: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    """Texts the contract declares as missing (`missing_values`) become nulls, in text columns."""
    declared = set(contract.missing_values)
    replaced = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            missing = values.isin(declared).to_numpy(dtype=bool, na_value=False)
            if missing.any():
                replaced[column] = values.mask(missing)
    return frame.assign(**replaced) if replaced else frame


def _refuse_text_in_numbers(frame: pd.DataFrame, contract: DatasetContract, source: str) -> None:
    """Values of a numeric column that are no number are refused, counted and shown, before the
    schema's checks (which would count them once per check, with Python's own TypeErrors)."""
    problems = []
    for column in frame.columns:
        values = frame[column]
        if contract.rule_for(column).dtype not in ("int", "float"):
            continue
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        present = values.dropna()
        text = present.astype(str).str.strip()
        # Declared missing texts are nulls already (`_declared_missing_as_null`).
        bad = text[pd.to_numeric(text, errors="coerce").isna()]
        if len(bad):
            problems.append(
                f"column '{column}' holds {len(bad)} value(s) that are not numbers, in "
                f"{_rows_text(bad)}"
            )
    if problems:
        raise DataContractViolation(
            f"Dataset '{source}' violates the contract: {'; '.join(problems)}. Fix the values; "
            f"a text that means 'unknown' goes in contract.missing_values in {CONTRACT_FILE} "
            f"(now {contract.missing_values})."
        )


def empty_features_error(empty: list[str], n_rows: int, source: str) -> DataContractViolation:
    """The error for feature columns without a single value in training data."""
    return DataContractViolation(
        f"Dataset '{source}' has no value at all in feature column(s) {empty} "
        f"({n_rows} row(s)); remove them from contract.features in {CONTRACT_FILE}, "
        "or fix the file."
    )


def _refuse_empty_features(frame: pd.DataFrame, contract: DatasetContract, source: str) -> None:
    """A feature column with no value at all in training data is refused: nothing can be learnt
    from it, and drift cannot compare it."""
    empty = [c for c in contract.features.all if c in frame.columns and frame[c].isna().all()]
    if empty:
        raise empty_features_error(empty, len(frame), source)


# An offset after the time of day (`Z`, `+02:00`, `-0500`, `+02`); a date alone has none.
_OFFSET = r"[T ]\d{1,2}(?::?\d{2}){0,2}(?:[.,]\d+)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
_SHOWN_ROWS = 5  # rows named in a message about a column


def naive_in_zone(times: pd.Series, zone: str) -> pd.Series:
    """Zone-aware times converted to `zone` and made naive; naive times kept as they are.

    Validated datetime columns are naive wall-clock times in the contract's zone rather than
    zone-aware: one dtype (`datetime64[ns]`) whatever the input held, the form the features'
    date parts, drift, the saved tables and every earlier run already use, and a naive cut or
    window compares with them directly.
    """
    if getattr(times.dt, "tz", None) is None:
        return times
    return times.dt.tz_convert(zone).dt.tz_localize(None)


def time_in_zone(text: str, zone: str) -> pd.Timestamp:
    """A written time (a cut such as `current_from`) as a naive time in `zone`: one with an
    offset is converted, one without is read as being in the zone already."""
    stamp = pd.Timestamp(text)
    return stamp if stamp.tzinfo is None else stamp.tz_convert(zone).tz_localize(None)


def _rows_text(rows: pd.Series) -> str:
    """A few row numbers and their values, e.g. `rows [3, 8] (e.g. ['2025-01-01'])`."""
    numbers = [int(i) if isinstance(i, int | np.integer) else i for i in rows.index[:_SHOWN_ROWS]]
    more = " ..." if len(rows) > _SHOWN_ROWS else ""
    examples = rows.drop_duplicates().head(3).tolist()
    return f"rows {numbers}{more} (e.g. {examples})"


def _mixed_zones(column: str, aware: pd.Series, text: pd.Series, zone: str) -> str:
    """The problem of a column holding times with and without an offset, naming the rows of the
    rarer kind."""
    naive = ~aware
    rarer, kind = (naive, "without") if naive.sum() <= aware.sum() else (aware, "with")
    return (
        f"column '{column}' mixes times with a UTC offset or zone (e.g. 'Z', '+02:00') and "
        f"times without one: {int(rarer.sum())} of {len(text)} value(s) {kind} one, "
        f"{_rows_text(text[rarer])}; write every time the same way (with an offset, or none: "
        f"times without one are read as contract.time_zone, {zone!r})"
    )


def _text_times(text: pd.Series, time_format: str, zone: str) -> tuple[pd.Series, pd.Series]:
    """Times parsed from text as naive times in `zone`, and which values carried an offset."""
    with_zone = "%z" in time_format or "%Z" in time_format
    aware = text.notna() if with_zone else text.str.contains(_OFFSET, regex=True).fillna(False)
    aware = aware.astype(bool)
    times = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    for rows, utc in ((aware, True), (~aware, False)):
        if rows.any():
            parsed = pd.to_datetime(text[rows], format=time_format, errors="coerce", utc=utc)
            times[rows] = naive_in_zone(parsed, zone).astype("datetime64[ns]")
    return times, aware


def _parse_datetimes(frame: pd.DataFrame, contract: DatasetContract, source: str) -> pd.DataFrame:
    """Parse the text of datetime columns in the format their rule expects (ISO 8601 unless
    `format` says otherwise) and bring every datetime column to the contract's zone; refuse
    values in another format, saying which format they have, and columns that mix times with
    and without an offset, naming the rows.

    Columns already holding times (a Parquet input) are converted when zone-aware.
    """
    zone = contract.time_zone
    parsed: dict[str, pd.Series] = {}
    problems = []
    for column in frame.columns:
        rule = contract.rule_for(column)
        values = frame[column]
        if rule.dtype != "datetime":
            continue
        if pd.api.types.is_datetime64_any_dtype(values):
            parsed[column] = naive_in_zone(values, zone)
            continue
        if not (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
            continue
        text = values.astype("string").str.strip()
        present = text.notna() & ~text.isin(_MISSING_TIME_TEXT)
        times, aware = _text_times(text.where(present), rule.format or ISO_8601, zone)
        failing = times.isna() & present
        if failing.any():
            examples = text[failing].drop_duplicates().head(3).tolist()
            problems.append(
                f"column '{column}': {int(failing.sum())} value(s) not in the expected format "
                f"{_expected_format(rule)}; {_format_found(text[failing])} (e.g. {examples}); set "
                f"'format' in contract.columns.{column} of {CONTRACT_FILE} if that is intended"
            )
        elif (aware & present).any() and (~aware & present).any():
            problems.append(_mixed_zones(column, aware[present], text[present], zone))
        else:
            parsed[column] = times
    if problems:
        raise DataContractViolation(
            f"Dataset '{source}' violates the contract: {'; '.join(problems)}"
        )
    return frame.assign(**parsed)


def validate_raw(
    raw: pd.DataFrame,
    contract: DatasetContract,
    source: str,
    labelled: bool = True,
    whole_table: bool = True,
) -> pd.DataFrame:
    """Validate and type a raw table against the contract; keep only the declared columns.

    An unlabelled table (a current batch whose outcomes are not known yet) may lack the target
    column or hold nulls in it. The result still holds the raw PII columns: the nodes treat them
    before anything is written (`validate_raw_reference`, `validate_raw_current`).
    `whole_table=False` (one partition of a larger table): the checks that need every row, no
    rows at all and a feature without any value, are left to the caller.
    """
    if whole_table and raw.empty:
        raise DataContractViolation(f"Dataset '{source}' has no rows; expected at least one.")
    if not labelled and contract.target not in raw.columns:
        # Unknown outcomes, typed as the task's target is: a number's NaN, a label's NA.
        unknown = np.nan if contract.task == "regression" else pd.NA
        raw = raw.assign(**{contract.target: unknown})
    missing = [c for c in contract.known_columns if c not in raw.columns]
    if missing:
        raise DataContractViolation(
            f"Dataset '{source}' is missing column(s) {missing} declared in the contract; "
            f"it has {sorted(map(str, raw.columns))}."
        )
    raw = _declared_missing_as_null(raw[contract.known_columns], contract)
    _refuse_numbers_as_times(raw, contract, source)
    _refuse_text_in_numbers(raw, contract, source)
    if labelled and whole_table:
        _refuse_empty_features(raw, contract, source)
    declared = _parse_datetimes(
        _labels_as_text(raw[contract.known_columns], contract), contract, source
    )
    schema = build_schema(contract)
    if not labelled:
        schema = schema.update_column(contract.target, nullable=True)
    try:
        return schema.validate(declared, lazy=True)
    except SchemaErrors as errors:
        raise DataContractViolation(
            f"Dataset '{source}' violates the contract: {_describe_failures(errors)}"
        ) from None


Ranges = dict[str, tuple[float | None, float | None]]


def expected_ranges(contract: DatasetContract) -> Ranges:
    """Each column with an expected range (`expected_min`/`expected_max`) and its bounds."""
    ranges = {}
    for column in contract.known_columns:
        rule = contract.rule_for(column)
        if rule.expected_min is not None or rule.expected_max is not None:
            ranges[column] = (rule.expected_min, rule.expected_max)
    return ranges


def beyond_expected(frame: pd.DataFrame, ranges: Ranges) -> pd.DataFrame:
    """Per row and ranged column of `frame` (`expected_ranges`): whether the value lies outside
    the expected range (a missing value never does)."""
    flags = {}
    for column, (low, high) in ranges.items():
        if column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy("float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            below = values < low if low is not None else np.zeros(len(values), dtype=bool)
            above = values > high if high is not None else np.zeros(len(values), dtype=bool)
        flags[column] = below | above
    return pd.DataFrame(flags, index=frame.index)


def out_of_range_columns(frame: pd.DataFrame, ranges: Ranges) -> list[list[str]]:
    """For each row, the columns whose value lies outside their expected range (`expected_ranges`):
    the list the API answers and the prediction log keeps per row."""
    flags = beyond_expected(frame, ranges)
    if flags.empty or not flags.to_numpy().any():
        return [[] for _ in range(len(frame))]
    names = list(flags.columns)
    return [[names[i] for i in row.nonzero()[0]] for row in flags.to_numpy()]


def out_of_range_counts(frame: pd.DataFrame, contract: DatasetContract) -> dict[str, int]:
    """How many values of each ranged column lie outside their expected range (every ranged
    column is listed, 0 included, so reports of different batches compare key by key)."""
    flags = beyond_expected(frame, expected_ranges(contract))
    return {column: int(flags[column].sum()) for column in flags.columns}


def salted_hash(values: pd.Series, salt: str) -> pd.Series:
    """Replace values with the SHA-256 digest of salt + value, as text (nulls stay null)."""
    present = values.notna().to_numpy()
    # The salt's hash state is computed once and copied per value: the same digest as hashing
    # salt + value, without re-reading the salt or building a string for each row.
    salted = hashlib.sha256(salt.encode())

    def digest(value: object) -> str:
        state = salted.copy()
        state.update(str(value).encode())
        return state.hexdigest()

    digests = np.full(len(values), pd.NA, dtype=object)
    digests[present] = [digest(v) for v in values.to_numpy(dtype=object)[present].tolist()]
    return pd.Series(digests, index=values.index, name=values.name, dtype="string")


def treat_pii(frame: pd.DataFrame, contract: DatasetContract, salt: str | None) -> pd.DataFrame:
    """Drop or hash the contract's PII columns (the salt is needed only to hash)."""
    to_drop = [c for c, how in contract.pii.items() if how == "drop"]
    to_hash = [c for c, how in contract.pii.items() if how == "hash"]
    if to_hash and not salt:
        raise DataContractViolation(
            f"PII column(s) {to_hash} are declared 'hash' but no salt is set: put "
            "'pii_salt: <random string>' in conf/local/credentials.yml or export "
            "CIRRUS_PII_SALT."
        )
    hashed = {column: salted_hash(frame[column], salt) for column in to_hash}
    return frame.drop(columns=to_drop).assign(**hashed)

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


def _parse_datetimes(frame: pd.DataFrame, contract: DatasetContract, source: str) -> pd.DataFrame:
    """Parse the text of datetime columns in the format their rule expects (ISO 8601 unless
    `format` says otherwise); refuse values in another format, saying which format they have.

    Columns already holding times (a Parquet input) or no text are left to the schema.
    """
    parsed: dict[str, pd.Series] = {}
    problems = []
    for column in frame.columns:
        rule = contract.rule_for(column)
        values = frame[column]
        if rule.dtype != "datetime" or not (
            values.dtype == object or isinstance(values.dtype, pd.StringDtype)
        ):
            continue
        times = pd.to_datetime(values, format=rule.format or ISO_8601, errors="coerce")
        text = values.astype("string").str.strip()
        failing = times.isna() & values.notna() & ~text.isin(_MISSING_TIME_TEXT)
        if failing.any():
            examples = text[failing].drop_duplicates().head(3).tolist()
            problems.append(
                f"column '{column}': {int(failing.sum())} value(s) not in the expected format "
                f"{_expected_format(rule)}; {_format_found(text[failing])} (e.g. {examples}); set "
                f"'format' in contract.columns.{column} of {CONTRACT_FILE} if that is intended"
            )
        elif pd.api.types.is_datetime64_any_dtype(times):
            parsed[column] = times
    if problems:
        raise DataContractViolation(
            f"Dataset '{source}' violates the contract: {'; '.join(problems)}"
        )
    return frame.assign(**parsed)


def validate_raw(
    raw: pd.DataFrame, contract: DatasetContract, source: str, labelled: bool = True
) -> pd.DataFrame:
    """Validate and type a raw table against the contract; keep only the declared columns.

    An unlabelled table (a current batch whose outcomes are not known yet) may lack the target
    column or hold nulls in it. The result still holds the raw PII columns: the nodes treat them
    before anything is written (`validate_raw_reference`, `validate_raw_current`).
    """
    if raw.empty:
        raise DataContractViolation(f"Dataset '{source}' has no rows; expected at least one.")
    if not labelled and contract.target not in raw.columns:
        raw = raw.assign(**{contract.target: pd.NA})
    missing = [c for c in contract.known_columns if c not in raw.columns]
    if missing:
        raise DataContractViolation(
            f"Dataset '{source}' is missing column(s) {missing} declared in the contract; "
            f"it has {sorted(map(str, raw.columns))}."
        )
    _refuse_numbers_as_times(raw[contract.known_columns], contract, source)
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

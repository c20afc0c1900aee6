"""Profiles of the columns: what a name or the values suggest (an id, PII, free text, times),
and the dtype, nullability and observed range pandera's own schema inference finds."""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import pandas as pd

from cirrus.contract_inference.given_names import starts_with_given_name

SAMPLE_SIZE = 1000  # values looked at to recognise e-mails, phones, names and free text
CONTENT_SHARE = 0.9  # share of the sample that must look like PII
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
GIVEN_NAME_ALONE = re.compile(r"^[A-Z][a-z'\u2019\-]+$")
GIVEN_SHARE = 0.6  # share of a column's distinct values that must start with a given name
PERSON_NAME = re.compile(r"^[A-Z][A-Za-z'\u2019.\-]+(?: [A-Z][A-Za-z'\u2019.\-]*){1,3}$")


def name_tokens(name: str) -> list[str]:
    """The words of a column name: camelCase, snake_case, kebab and spaces split, lowercased."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [token for token in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if token]


def is_text(values: pd.Series) -> bool:
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
    if not is_text(values):
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


def pii_by_name(name: str) -> str | None:
    """What kind of PII a column name suggests, if any."""
    tokens = name_tokens(name)
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


def pii_by_content(values: pd.Series, n_unique: int) -> tuple[str, float] | None:
    """What kind of PII a text column's values look like, and the share that does."""
    if not is_text(values):
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
    # Few distinct values (staff, agents): names only when most start with a given name, which
    # tells "Anna Meyer" or "Anna" from a category such as "New York".
    distinct = sample.drop_duplicates()
    given = float(distinct.map(starts_with_given_name).mean())
    alone = _share(sample, GIVEN_NAME_ALONE)
    if given >= GIVEN_SHARE and max(names, alone) >= CONTENT_SHARE:
        return "person names (few distinct values, most a given name: review)", given
    return None


def looks_like_free_text(values: pd.Series) -> str | None:
    """A description of free text (several words per value), if the column holds it."""
    sample = _sample(values)
    words = sample.str.split().str.len().mean() if len(sample) else 0
    length = sample.str.len().mean() if len(sample) else 0
    if words >= 4 or length >= 40:
        return f"free text ({words:.0f} words per value on average)"
    return None


def is_id_name(name: str) -> bool:
    """Whether a column is named like an identifier."""
    tokens = name_tokens(name)
    if not tokens:
        return False
    return tokens[-1] in ID_TOKENS or name.endswith(("ID", "Id")) or tokens[0] in ROW_NUMBER_NAMES


def consecutive_integers(values: pd.Series) -> bool:
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

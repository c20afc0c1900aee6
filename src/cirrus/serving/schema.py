"""Request and response models of the API, generated from the dataset contract and feature spec.

A request row has one field per feature column of the contract, typed by its column rule (int,
float, string, datetime, bool), with the rule's range (`ge`/`le`) and allowed values (an enum),
required unless the column is nullable; plus the optional id column. Unknown fields are refused,
so `/openapi.json` names every field, its type and its allowed values. Validated rows become the
same table `validate_raw` makes of a raw file, so the API scores exactly as batch scoring does.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    create_model,
)

from cirrus.contract import ColumnRule, DatasetContract
from cirrus.feature_spec import FeatureSpec
from cirrus.modeling import PREDICTION
from cirrus.prediction_log import (
    FEATURE_SPEC_HASH,
    MODEL_VERSION,
    OUT_OF_RANGE,
    REQUEST_ID,
    UNKNOWN_COLUMNS,
)
from cirrus.scoring import score_columns
from cirrus.validation import Ranges, expected_ranges

ROWS = "rows"
BUNDLE_VERSION = "bundle_version"
PREDICTIONS = "predictions"
MAX_TEXT = 128  # characters of a text value; bounds the body size of a full request
# Integers JSON carries exactly (and the contract's Int64 columns hold).
SAFE_INTEGERS = (-(2**53 - 1), 2**53 - 1)
# The times datetime64[ns] holds (what validate_raw types a datetime column as).
TIME_RANGE = (
    pd.Timestamp.min.ceil("s").to_pydatetime(),
    pd.Timestamp.max.floor("s").to_pydatetime(),
)
TIME_TEXT = (
    f"ISO 8601, from {TIME_RANGE[0].date()} to {TIME_RANGE[1].date()}; a time with an offset is "
    "converted to the contract's time zone, {zone}; one without is read as being in it"
)
# Bytes one JSON value may take: a number, an ISO time, a text of MAX_TEXT escaped characters.
VALUE_BYTES = {"int": 24, "float": 32, "bool": 8, "datetime": 40, "string": 6 * MAX_TEXT + 2}
BODY_SLACK = 4096  # the envelope and whitespace around the rows
_TYPES: dict[str, type] = {"int": int, "float": float, "string": str, "bool": bool}


def _iso_text(value: Any) -> Any:
    """Take a time as ISO 8601 text only (pydantic would also read a number as a Unix time)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError("should be an ISO 8601 date or time as text, e.g. 2026-03-01T14:30:00")
    return value


def _json_integer(value: Any) -> Any:
    """An integral JSON number as an int (JSON Schema counts 3.0 as an integer)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _naive_in_zone(value: datetime, zone: str = "UTC") -> datetime:
    """A time as naive wall-clock time in the contract's zone, the form validation gives the
    training rows (an aware time is converted, a naive one is taken as in the zone), within the
    range pandas holds (years 1677 to 2262)."""
    try:
        naive = (
            value if value.tzinfo is None else value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        )
    except OverflowError:
        naive = None
    if naive is None or not TIME_RANGE[0] <= naive <= TIME_RANGE[1]:
        raise ValueError(
            f"should be between {TIME_RANGE[0].isoformat()} and {TIME_RANGE[1].isoformat()}"
        )
    return naive


def _not_nan(value: float) -> float:
    """Refuse NaN (a column that allows inf still wants a number)."""
    if math.isnan(value):
        raise ValueError("NaN is not a number; send null for a missing value")
    return value


def value_type(rule: ColumnRule, zone: str = "UTC") -> Any:
    """The Python type of a column's values, with the rule's hard range and allowed values (an
    expected range refuses nothing: a value beyond it is scored and listed in `out_of_range`).

    Values are taken as JSON types them (strict): "33" is not a number, 33.5 not an int, 1
    not a boolean; a time is ISO 8601 text, brought to the contract's zone `zone`.
    """
    if rule.allowed is not None:
        return Literal[tuple(rule.allowed)]
    if rule.dtype == "datetime":
        in_zone = AfterValidator(partial(_naive_in_zone, zone=zone))
        return Annotated[datetime, BeforeValidator(_iso_text), in_zone]
    if rule.dtype == "string":
        return Annotated[str, Strict(), Field(max_length=MAX_TEXT)]
    if rule.dtype == "bool":
        return Annotated[bool, Strict()]
    low, high = rule.min, rule.max
    if rule.dtype == "int":
        low = max(SAFE_INTEGERS[0], SAFE_INTEGERS[0] if low is None else math.ceil(low))
        high = min(SAFE_INTEGERS[1], SAFE_INTEGERS[1] if high is None else math.floor(high))
        # The range first: a validator before it would hide it from the JSON schema.
        return Annotated[int, Strict(), Field(ge=low, le=high), BeforeValidator(_json_integer)]
    if rule.allow_inf:
        return Annotated[float, Strict(), Field(ge=low, le=high), AfterValidator(_not_nan)]
    return Annotated[float, Strict(), Field(ge=low, le=high, allow_inf_nan=False)]


def _describe(column: str, contract: DatasetContract) -> str:
    """What a field is, for the API documentation."""
    times = TIME_TEXT.format(zone=contract.time_zone)
    rule = contract.rule_for(column)
    if rule.expected_min is not None or rule.expected_max is not None:
        low = "" if rule.expected_min is None else f"{rule.expected_min:g}"
        high = "" if rule.expected_max is None else f"{rule.expected_max:g}"
        return (
            f"Numeric feature; expected range {low}..{high}: a value beyond it is scored and "
            "listed in out_of_range."
        )
    if column == contract.id_column:
        return "Id of the row: echoed in the answer and logged with the prediction (optional)."
    if column in contract.features.categorical:
        return "Categorical feature; a value never seen in training scores as __unknown__."
    if column in contract.features.datetime:
        return f"Datetime feature ({times})."
    if column == contract.event_time_column:
        return f"Event time ({times}); the time the request is received when left out."
    return "Numeric feature."


def _model_name(contract: DatasetContract, suffix: str) -> str:
    """A schema name from the contract's name, e.g. CreditApplicationsRow."""
    words = re.split(r"[^0-9A-Za-z]+", contract.name)
    return "".join(word[:1].upper() + word[1:] for word in words if word) + suffix


def request_columns(contract: DatasetContract) -> list[str]:
    """The columns a request row may hold: the features, the id and the event time."""
    columns = [contract.id_column, contract.event_time_column, *contract.features.all]
    return [c for c in dict.fromkeys(columns) if c is not None and c not in contract.pii]


def _optional(column: str, contract: DatasetContract, rule: ColumnRule) -> bool:
    """Whether a request may leave the column out (it is then null)."""
    if column == contract.id_column:
        return True
    if column == contract.event_time_column and column not in contract.features.all:
        return True
    return rule.nullable


def row_model(contract: DatasetContract) -> type[BaseModel]:
    """The model of one request row (fields named by their columns)."""
    fields: dict[str, Any] = {}
    for index, column in enumerate(request_columns(contract)):
        rule = contract.rule_for(column)
        kind = value_type(rule, contract.time_zone)
        info = {"alias": column, "description": _describe(column, contract)}
        if _optional(column, contract, rule):
            fields[f"f{index}"] = (kind | None, Field(default=None, **info))
        else:
            fields[f"f{index}"] = (kind, Field(**info))
    # Field names are aliases, so any column name works (even one like `json` or `model_x`).
    config = ConfigDict(extra="forbid", populate_by_name=False)
    return create_model(_model_name(contract, "Row"), __config__=config, **fields)


def request_model(row: type[BaseModel], contract: DatasetContract, max_rows: int) -> type:
    """The model of a request body: 1 to max_rows rows."""
    rows = Field(min_length=1, max_length=max_rows, description=f"1 to {max_rows} rows to score.")
    return create_model(
        _model_name(contract, "PredictRequest"),
        __config__=ConfigDict(extra="forbid"),
        **{ROWS: (list[row], rows)},  # type: ignore[valid-type]
    )


def result_model(contract: DatasetContract, spec: FeatureSpec) -> type[BaseModel]:
    """The model of one answered row: the id (if sent), score(s), prediction, unseen columns."""
    fields: dict[str, Any] = {}
    if contract.id_column:
        kind = value_type(contract.rule_for(contract.id_column))
        fields["row_id"] = (kind | None, Field(default=None, alias=contract.id_column))
    for index, column in enumerate(score_columns(spec)):
        what = "P(positive class)" if spec.task == "binary" else f"P({column[6:]})"
        fields[f"s{index}"] = (float, Field(alias=column, description=what))
    if spec.task == "regression":
        prediction: Any = float
    else:
        prediction = Literal[tuple(spec.class_names())]
    fields["prediction"] = (prediction, Field(alias=PREDICTION, description="Point prediction."))
    categorical = Literal[tuple(contract.features.categorical)] if spec.categories else str
    fields["unknown"] = (
        list[categorical],  # type: ignore[valid-type]
        Field(
            alias=UNKNOWN_COLUMNS,
            description="Categorical columns whose value was never seen in training.",
        ),
    )
    ranged = [c for c in request_columns(contract) if c in expected_ranges(contract)]
    fields["out_of_range"] = (
        list[Literal[tuple(ranged)] if ranged else str],  # type: ignore[misc]
        Field(
            alias=OUT_OF_RANGE,
            description=(
                "Columns whose value lies outside the expected range of the contract "
                "(expected_min/expected_max): scored all the same, but unlike the training rows."
            ),
        ),
    )
    return create_model(_model_name(contract, "Prediction"), **fields)


def response_model(result: type[BaseModel], contract: DatasetContract) -> type[BaseModel]:
    """The model of an answer: who scored it and one result per row, in request order."""
    return create_model(
        _model_name(contract, "PredictResponse"),
        **{
            REQUEST_ID: (str, Field(description="Id of this request, also in the log.")),
            MODEL_VERSION: (str, Field(description="Content hash of the model text.")),
            FEATURE_SPEC_HASH: (str, Field(description="Content hash of the feature spec.")),
            BUNDLE_VERSION: (
                str,
                Field(description="Version of the model bundle (model, spec, threshold) used."),
            ),
            PREDICTIONS: (list[result], ...),  # type: ignore[valid-type]
        },
    )


def body_limit(contract: DatasetContract, max_rows: int) -> int:
    """The most bytes a request of max_rows rows needs, however its values are written."""
    row = 2 + sum(
        len(column) + 4 + VALUE_BYTES[contract.rule_for(column).dtype or "string"]
        for column in request_columns(contract)
    )
    return max_rows * row + BODY_SLACK


def _target_values(contract: DatasetContract, n: int) -> Any:
    """An unknown outcome per row, typed as validate_raw types an unlabelled target."""
    if contract.task == "regression":
        return np.full(n, np.nan)
    return pd.arrays.StringArray(np.full(n, None, dtype=object))


def _column_values(values: list[Any], dtype: str) -> Any:
    """A column's values as the dtype validate_raw gives them (missing as NA)."""
    if dtype == "float":
        return np.array(values, dtype="float64")  # None becomes NaN
    if dtype == "int":
        mask = np.array([value is None for value in values], dtype=bool)
        data = np.array([0 if value is None else value for value in values], dtype="int64")
        return pd.arrays.IntegerArray(data, mask)
    if dtype == "datetime":
        return np.array(values, dtype="datetime64[ns]")  # None becomes NaT
    if dtype == "bool":
        return pd.array(values, dtype="boolean")
    # A StringArray built directly: pd.array's inference costs more than the rest of a column.
    texts = np.array([None if value is None else str(value) for value in values], dtype=object)
    return pd.arrays.StringArray(texts)


@dataclass(frozen=True)
class ServingSchema:
    """The generated models and what turns validated rows into the table scoring reads."""

    contract: DatasetContract
    row: type[BaseModel]
    request: type[BaseModel]
    result: type[BaseModel]
    response: type[BaseModel]
    task: str
    classes: tuple[str, ...]
    body_limit: int
    max_rows: int
    columns: dict[str, str]  # each request column and its dtype
    field_names: dict[str, str]  # each request column and its field in the row model
    expected_ranges: Ranges  # each request column with an expected range, and its bounds

    def frame(self, rows: list[BaseModel], received: datetime) -> pd.DataFrame:
        """Validated request rows as the table `validate_raw` would make of them."""
        contract, n = self.contract, len(rows)
        data: dict[str, Any] = {}
        for column, dtype in self.columns.items():
            name = self.field_names[column]
            values = [getattr(row, name) for row in rows]
            if column == contract.event_time_column and column not in contract.features.all:
                stamp = _naive_in_zone(received, contract.time_zone)
                values = [stamp if value is None else value for value in values]
            data[column] = _column_values(values, dtype)
        data[contract.target] = _target_values(contract, n)
        return pd.DataFrame(data, copy=False)  # fresh arrays: nothing to copy

    def sample_row(self, spec: FeatureSpec, when: datetime) -> dict[str, Any]:
        """A valid request row built from the contract's rules and the spec's levels."""
        row: dict[str, Any] = {}
        for column, dtype in self.columns.items():
            rule = self.contract.rule_for(column)
            row[column] = _sample_value(column, dtype, rule, spec, when)
        return row


def _sample_value(
    column: str, dtype: str, rule: ColumnRule, spec: FeatureSpec, when: datetime
) -> Any:
    """One valid value of a column: an allowed one, one in range, a training level or now."""
    if rule.allowed:
        return rule.allowed[0]
    if dtype == "datetime":
        return when.isoformat()
    if dtype == "bool":
        return False
    if dtype == "string":
        return (spec.categories.get(column) or ["smoke-test"])[0]
    value = 0.0 if rule.min is None else max(0.0, rule.min)
    value = value if rule.max is None else min(value, rule.max)
    return math.ceil(value) if dtype == "int" else value


def build_schema(contract: DatasetContract, spec: FeatureSpec, max_rows: int) -> ServingSchema:
    """Every model of the API for a contract and the feature spec served first."""
    row = row_model(contract)
    result = result_model(contract, spec)
    columns = request_columns(contract)
    return ServingSchema(
        contract=contract,
        row=row,
        request=request_model(row, contract, max_rows),
        result=result,
        response=response_model(result, contract),
        task=spec.task,
        classes=tuple(spec.class_names()),
        body_limit=body_limit(contract, max_rows),
        max_rows=max_rows,
        columns={column: contract.rule_for(column).dtype or "string" for column in columns},
        field_names={field.alias: name for name, field in row.model_fields.items()},
        expected_ranges={
            column: bounds
            for column, bounds in expected_ranges(contract).items()
            if column in columns
        },
    )

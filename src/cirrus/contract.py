"""The dataset contract: one declared description of the data that drives every pipeline."""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator, model_validator

from cirrus.errors import CirrusError
from cirrus.parameters import CONTRACT_FILE, Block, ConfigError, Strict, Task

CONTRACT_KEY = "contract"

DType = Literal["int", "float", "string", "datetime", "bool"]
PiiTreatment = Literal["drop", "hash"]


class ContractError(ConfigError):
    """The dataset contract in the parameters is malformed."""

    hint = (
        "Fix the contract as the message says, or write one from your data with "
        "`kedro cirrus init-contract <file> --target <column>`."
    )


class DataContractViolation(CirrusError, ValueError):
    """A dataset does not satisfy the declared contract."""

    hint = "Fix the data; or, if the data is right, the dataset contract it is checked against."


class FeatureColumns(Strict):
    """Feature columns grouped by kind."""

    numeric: list[str] = Field(default_factory=list)
    """Numeric feature columns (dtype float unless a rule says otherwise)."""
    categorical: list[str] = Field(default_factory=list)
    """Categorical feature columns (levels learned by `features.categorical`)."""
    datetime: list[str] = Field(default_factory=list)
    """Datetime feature columns; the model sees the parts `features.date_parts` takes."""

    @property
    def all(self) -> list[str]:
        """Every declared feature column, in declaration order."""
        return [*self.numeric, *self.categorical, *self.datetime]


ISO_8601 = "ISO8601"
# What a missing value is written as by the tools that write most tables (pandas, R, SQL dumps,
# spreadsheets); declared in the contract, never guessed beyond it.
DEFAULT_MISSING_VALUES = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None")
YAML_BOOLEANS = "unquoted yes/no, true/false and on/off are YAML booleans, not the data's text"


class ColumnRule(Strict):
    """Validation rule of one column.

    `allow_inf` lets a float column hold `inf` and `-inf` (refused by default). `format` is
    the text format of a datetime column in the raw file: `ISO8601` (the default) or a strptime
    pattern such as `%d/%m/%Y %H:%M`.
    """

    dtype: DType | None = None
    """Type the values must have: int, float, string, datetime or bool; unset: by role (numeric
    features float, datetimes datetime, a class target string, others string)."""
    nullable: bool = True
    """Whether missing values are allowed (never for the id, target and event time)."""
    unique: bool = False
    """Whether every value must be distinct."""
    min: float | None = None
    """Smallest allowed value (inclusive): a row below it is refused. For values that are
    impossible (a negative amount), not merely unseen."""
    max: float | None = None
    """Largest allowed value (inclusive): a row above it is refused."""
    expected_min: float | None = None
    """Smallest expected value (inclusive): a value below it is still scored, but counted and
    reported (ingestion report, API answer, prediction log). init-contract writes the observed
    minimum here."""
    expected_max: float | None = None
    """Largest expected value (inclusive): a value above it is scored, counted and reported."""
    allowed: list[Any] | None = None
    """The only values allowed, quoted as the data spells them (a class target's labels are compared
    as text)."""
    allow_inf: bool = False
    """Float columns: allow `inf` and `-inf` (refused by default)."""
    format: str | None = None
    """Datetime columns: the text format in the raw file, `ISO8601` (the default) or a strptime
    pattern such as `%d/%m/%Y %H:%M`."""

    @field_validator("format")
    @classmethod
    def _a_datetime_format(cls, value: str | None) -> str | None:
        """A format is ISO8601 or a strptime pattern (it holds a % directive)."""
        if value is not None and value != ISO_8601 and "%" not in value:
            raise ValueError(
                f"format {value!r} is neither {ISO_8601!r} nor a strptime pattern "
                "such as '%d/%m/%Y %H:%M'"
            )
        return value

    @field_validator("allowed")
    @classmethod
    def _no_yaml_booleans(cls, value: list[Any] | None, info: ValidationInfo) -> Any:
        """Refuse booleans in `allowed` unless the column is declared boolean: YAML turned an
        unquoted Yes/No into True/False, which never match the text the data holds."""
        booleans = [item for item in value or [] if isinstance(item, bool)]
        if booleans and info.data.get("dtype") != "bool":
            raise ValueError(
                f"holds the boolean(s) {booleans}: {YAML_BOOLEANS}; quote the values as the "
                'data spells them, e.g. ["Yes", "No"] (or declare dtype: bool for a boolean '
                "column)"
            )
        return value

    @model_validator(mode="after")
    def _settings_fit_the_dtype(self) -> ColumnRule:
        """Refuse a setting that cannot apply to the declared dtype."""
        if self.format is not None and self.dtype not in (None, "datetime"):
            raise ValueError(f"format applies to datetime columns only, not dtype {self.dtype!r}")
        if self.allow_inf and self.dtype not in (None, "float"):
            raise ValueError(f"allow_inf applies to float columns only, not dtype {self.dtype!r}")
        expected = [k for k in ("expected_min", "expected_max") if getattr(self, k) is not None]
        if expected and self.dtype not in (None, "int", "float"):
            raise ValueError(f"{expected} apply to numeric columns only, not dtype {self.dtype!r}")
        for low, high in (("min", "max"), ("expected_min", "expected_max")):
            low_value, high_value = getattr(self, low), getattr(self, high)
            if low_value is not None and high_value is not None and low_value > high_value:
                raise ValueError(f"{low} {low_value} is above {high} {high_value}")
        return self


class DatasetContract(Block):
    """The dataset contract: the one description of the data that every pipeline and the serving
    API read (typed, strict form of the `contract` parameters block)."""

    block_key = CONTRACT_KEY
    block_file = CONTRACT_FILE
    block_error = ContractError

    name: str
    """Name of the dataset; titles the serving API and names its request model."""
    id_column: str | None = None
    """Column that identifies a row: the latest row of each id is kept; null: rows are not
    de-duplicated."""
    event_time_column: str | None = None
    """Column of each row's event time (the time splits use it); null: a table without time (split
    mode `fraction`)."""
    time_zone: str = "UTC"
    """IANA time zone of every datetime column (e.g. `UTC`, `Europe/Paris`): times with an offset
    (`Z`, `+02:00`, a zone-aware Parquet column) are converted to it, times without one are read
    as being in it; `ingestion.split.current_from` is compared in it."""
    target: str
    """The column to predict."""
    task: Task
    """`binary`, `multiclass` or `regression`: sets the LightGBM objective, the metrics and the
    plots."""
    positive_class: Any | None = None
    """Binary tasks: the label whose probability is scored, quoted as the data holds it; unset: the
    last label in sorted order."""
    features: FeatureColumns
    """Feature columns by kind."""
    pii: dict[str, PiiTreatment] = Field(default_factory=dict)
    """Column -> `drop` (removed at ingestion) or `hash` (salted SHA-256; the salt from credentials
    `pii_salt` or CIRRUS_PII_SALT); never features."""
    columns: dict[str, ColumnRule] = Field(default_factory=dict)
    """Column -> validation rule; columns without one get the defaults of their role."""
    missing_values: list[str] = Field(default_factory=lambda: list(DEFAULT_MISSING_VALUES))
    """Texts that mean a missing value, in any column: the raw CSV reader and validation turn
    exactly these into nulls (an empty cell is one by default); any other text in a numeric
    column is a bad value. Remove `NA` when it is a level (Namibia, North America)."""

    @field_validator("time_zone")
    @classmethod
    def _a_known_zone(cls, value: str) -> str:
        """An IANA zone name that the zone database knows."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a known IANA time zone (e.g. 'UTC', 'Europe/Paris', "
                "'America/New_York')"
            ) from None
        return value

    @field_validator("positive_class")
    @classmethod
    def _not_a_yaml_boolean(cls, value: Any) -> Any:
        """A YAML boolean is never the label the data holds: ask to quote it."""
        if isinstance(value, bool):
            raise ValueError(
                f"is the boolean {value}: {YAML_BOOLEANS}; quote the label as the data holds "
                'it, e.g. positive_class: "Yes" (or "True", "1")'
            )
        return value

    def check_consistency(self) -> None:
        """Reject contracts whose column roles overlap or reference undeclared columns."""
        features = self.features.all
        if not features:
            raise ValueError("features: declare at least one feature column")
        duplicated = sorted({c for c in features if features.count(c) > 1})
        if duplicated:
            raise ValueError(f"features: columns declared twice: {duplicated}")
        for role, column in (("target", self.target), ("id_column", self.id_column)):
            if column in features:
                raise ValueError(f"{role} '{column}' must not also be a feature")
        leaked = sorted(set(self.pii) & set(features))
        if leaked:
            raise ValueError(f"pii columns must not be features: {leaked}")
        unknown = sorted(set(self.columns) - set(self.known_columns))
        if unknown:
            raise ValueError(
                f"columns: rules for columns with no role {unknown}; "
                f"declare them as features, target, id, event time or pii first"
            )
        if self.positive_class is not None and self.task != "binary":
            raise ValueError("positive_class applies to task 'binary' only")
        time_rule = self.columns.get(self.event_time_column or "")
        if time_rule is not None and time_rule.dtype not in (None, "datetime"):
            raise ValueError(
                f"event_time_column '{self.event_time_column}' must hold dates or times, but "
                f"columns.{self.event_time_column} declares dtype '{time_rule.dtype}'; for a "
                "table without time set event_time_column: null (and ingestion.split.mode: "
                "fraction)"
            )

    @property
    def known_columns(self) -> list[str]:
        """Every column the contract gives a role, without duplicates, in a stable order."""
        ordered = [
            self.id_column,
            self.event_time_column,
            *self.features.all,
            self.target,
            *self.pii,
        ]
        return [column for column in dict.fromkeys(ordered) if column is not None]

    def rule_for(self, column: str) -> ColumnRule:
        """The declared rule of a column, completed with defaults from its role."""
        declared = self.columns.get(column, ColumnRule())
        defaults: dict[str, Any] = {}
        if declared.dtype is None:
            defaults["dtype"] = self.default_dtype(column)
        if column in (self.id_column, self.target, self.event_time_column):
            defaults["nullable"] = False
        if column == self.target and self.task != "regression" and declared.allowed:
            # Class labels are compared as text, so `allowed: [0, 1]` matches "0" and "1".
            defaults["allowed"] = [label_text(value) for value in declared.allowed]
        return declared.model_copy(update=defaults)

    def default_dtype(self, column: str) -> DType:
        """The dtype a column gets when its rule does not declare one."""
        if column in self.features.numeric:
            return "float"
        if column in self.features.datetime or column == self.event_time_column:
            return "datetime"
        if column == self.target:
            return "float" if self.task == "regression" else "string"
        return "string"


def label_text(value: Any) -> str:
    """A class label as text: 1, 1.0 and "1" all become "1"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_contract(raw: dict[str, Any] | DatasetContract | None) -> DatasetContract:
    """Parse the `contract` parameters into a typed contract, naming the file and key on error."""
    return DatasetContract.parse(raw)

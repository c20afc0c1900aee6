"""The decisions pandera does not make: the task and positive class, each column's role (by
dtype and cardinality), allowed values of low-cardinality columns, the columns left out, the
split, hold-out and feature transforms. Each is a named step returning typed models."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from cirrus.contract import (
    DEFAULT_MISSING_VALUES,
    ColumnRule,
    DatasetContract,
    FeatureColumns,
    label_text,
)
from cirrus.contract_inference.outcome import ContractInferenceError, InferredConfig, LeftOut
from cirrus.contract_inference.profile import (
    consecutive_integers,
    infer_column_schemas,
    is_id_name,
    is_text,
    looks_like_free_text,
    name_tokens,
    parse_times,
    pii_by_content,
    pii_by_name,
)
from cirrus.parameters import (
    CategoricalEncoding,
    ConfigError,
    FeatureParams,
    HoldoutParams,
    IngestionSplit,
)
from cirrus.preflight import check_feature_references, check_holdout, check_split
from cirrus.validation import naive_in_zone

# Cardinality rules.
MAX_NUMERIC_CLASSES = 10  # an integer target with more distinct values is a regression target
MAX_TEXT_CLASSES = 50  # a text target with more distinct values is refused
NEAR_UNIQUE_SHARE = 0.5  # text with more distinct values than this share of rows is left out
CURRENT_SHARE = 0.2  # share of rows (or of the time span's rows) that becomes the current batch
# Characters LightGBM refuses in feature names (its JSON model dump).
LIGHTGBM_REFUSED = set(',:[]{}"')

# Words naming a count or an amount, which cannot be negative (a hard `min: 0` when the data
# agrees).
NON_NEGATIVE_TOKENS = {
    "count",
    "counts",
    "num",
    "number",
    "n",
    "qty",
    "quantity",
    "amount",
    "price",
    "cost",
    "fee",
    "income",
    "salary",
    "revenue",
    "spend",
    "sales",
    "weight",
    "carat",
    "age",
    "duration",
    "distance",
}
TRUE_LIKE = {"1", "yes", "y", "true", "t", "positive", "pos"}


@dataclass
class Columns:
    """The role of every column: features by kind, their rules, PII and what is left out."""

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    datetime: list[str] = field(default_factory=list)
    rules: dict[str, ColumnRule] = field(default_factory=dict)
    pii: dict[str, str] = field(default_factory=dict)
    left_out: list[LeftOut] = field(default_factory=list)
    rule_comments: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        """Every feature column."""
        return [*self.numeric, *self.categorical, *self.datetime]


@dataclass
class Table:
    """The table, its times parsed from text, and what pandera inferred of each column."""

    frame: pd.DataFrame
    typed: pd.DataFrame  # times held as text parsed to times
    formats: dict[str, str | None]  # datetime columns: strptime format, None for ISO 8601
    schemas: dict[str, dict[str, Any]]


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
        if column in taken or pii_by_name(column) or pd.api.types.is_float_dtype(values):
            continue
        if not (values.notna().all() and values.is_unique):
            continue
        if is_id_name(column):
            return column, "review: unique in every row and named like an id"
        text = values.astype(str)
        short_codes = not text.str.contains(r"\s").any() and text.str.len().max() <= 40
        if is_text(values) and short_codes and pii_by_content(values, len(values)) is None:
            candidates.append(column)
    if candidates:
        return candidates[0], "review: short text codes, unique in every row"
    return None, "no unique id-like column: no de-duplication; the split hashes rows"


def check_options(
    frame: pd.DataFrame, target: str, id_column: str | None, time_column: str | None
) -> None:
    """The columns the options name exist, differ, and the target is labelled in every row."""
    _require_column(frame, target, "--target")
    for option, name in (("--id", id_column), ("--time", time_column)):
        if name is not None:
            _require_column(frame, name, option)
            if name == target:
                raise ContractInferenceError(f"{option} '{name}' is also the --target.")
    if id_column is not None and id_column == time_column:
        raise ContractInferenceError(f"--id and --time both name '{id_column}'.")
    if frame[target].isna().any():
        raise ContractInferenceError(
            f"Target '{target}' is empty in {int(frame[target].isna().sum())} of {len(frame)} "
            "rows: the labelled history must be labelled in every row; remove those rows first."
        )


def check_time_zone(time_zone: str) -> None:
    """The --time-zone option names a zone the zone database knows."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ContractInferenceError(
            f"--time-zone {time_zone!r} is not a known IANA time zone (e.g. 'UTC', "
            "'Europe/Paris', 'America/New_York')."
        ) from None


def profile_table(frame: pd.DataFrame, target: str) -> Table:
    """Times held as text become times, so pandera infers them as datetimes."""
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
    return Table(frame, typed, formats, infer_column_schemas(typed))


def decide_event_time(
    table: Table, time_column: str | None, comments: dict[str, str]
) -> str | None:
    """The event-time column: declared, else the only complete datetime column."""
    frame, typed = table.frame, table.typed
    if time_column is not None:
        if time_column not in table.formats:
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
        return time_column
    candidates = [
        c
        for c in table.formats
        if not pii_by_name(c) and typed[c].nunique() > 1 and typed[c].notna().all()
    ]
    if len(candidates) == 1:
        comments["event_time_column"] = (
            "review: the only datetime column, so later rows are current (null and "
            "split mode fraction for a random split)"
        )
        return candidates[0]
    if candidates:
        comments["event_time_column"] = (
            f"review: several datetime columns {candidates}: none chosen; "
            "--time COLUMN for a split by time"
        )
    else:
        comments["event_time_column"] = "no datetime column: the split takes a share of rows"
    return None


def decide_id(
    table: Table,
    target: str,
    time_column: str | None,
    id_column: str | None,
    comments: dict[str, str],
) -> str | None:
    """The id column: declared, else a unique, complete column named like an id, else one of
    short text codes (no spaces, not PII)."""
    frame = table.frame
    if id_column is None:
        id_column, comments["id_column"] = _find_id(frame, {target, time_column, *table.formats})
        return id_column
    duplicates = int(frame[id_column].duplicated().sum())
    comments["id_column"] = "as declared with --id" + (
        f"; {duplicates} repeated id(s): the last row of each wins" if duplicates else ""
    )
    return id_column


def _not_nullable(nullable: bool) -> dict[str, Any]:
    """`nullable: false` for a column without nulls; nothing (the default) otherwise."""
    return {} if nullable else {"nullable": False}


def decide_columns(
    table: Table, target: str, id_column: str | None, time_column: str | None, treatment: str
) -> Columns:
    """The role and rule of every column but the target, in the order of the file."""
    decided = Columns()
    for column in table.frame.columns:
        if column != target:
            _decide_column(table, column, id_column, time_column, treatment, decided)
    return decided


def _decide_column(
    table: Table,
    column: str,
    id_column: str | None,
    time_column: str | None,
    treatment: str,
    decided: Columns,
) -> None:
    """One column's role: id, event time, left out (and why), PII, or a feature of a kind."""
    values, inferred = table.typed[column], table.schemas[column]
    present = int(values.notna().sum())
    n_unique = int(values.nunique(dropna=True))
    if column == id_column:
        decided.rules[column] = ColumnRule(dtype=inferred["dtype"])
        return
    if column == time_column:
        decided.rules[column] = _time_rule(table.formats[column])
        decided.datetime.append(column)
        return
    # PII first: a reason given for another verdict (a constant's value) would write the value
    # into the committed contract.
    by_name = pii_by_name(column)
    by_content = pii_by_content(table.frame[column], n_unique) if present else None
    if by_name or by_content:
        reason = (
            f"likely PII: {by_content[0]} in {by_content[1]:.0%} of values"
            if by_content
            else f"likely PII by its name ({by_name})"
        )
        decided.pii[column] = treatment
        decided.left_out.append(LeftOut(column, reason, treatment))
        return
    reason = _plainly_unusable(column, values, present, n_unique)
    if reason:
        decided.left_out.append(LeftOut(column, reason))
        return
    if column in table.formats:
        decided.rules[column] = _time_rule(table.formats[column], nullable=inferred["nullable"])
        decided.datetime.append(column)
        return
    if inferred["dtype"] in ("int", "float", "bool"):
        _decide_number(table, column, present, decided)
        return
    _decide_text(table, column, present, n_unique, decided)


def plain_value(value: Any) -> Any:
    """A value as plain Python, so messages show `2013`, not `np.int64(2013)`."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if isinstance(value, np.generic) else value


def _plainly_unusable(column: str, values: pd.Series, present: int, n_unique: int) -> str | None:
    """Why a column cannot be a feature whatever it holds: its name, empty, or constant."""
    if LIGHTGBM_REFUSED & set(column):
        return 'its name holds characters LightGBM refuses ,:[]{}"'
    if present == 0:
        return "empty (null in every row)"
    if n_unique == 1:
        return f"constant (always {plain_value(values.dropna().iloc[0])!r})"
    return None


def _certainly_non_negative(column: str, values: pd.Series) -> bool:
    """Whether negative values are impossible by the column's type: unsigned integers, or
    non-negative values of a column named as a count or an amount."""
    if pd.api.types.is_unsigned_integer_dtype(values):
        return True
    present = values.dropna()
    named = bool(NON_NEGATIVE_TOKENS & set(name_tokens(column)))
    return named and not present.empty and bool((present >= 0).all())


def _decide_number(table: Table, column: str, present: int, decided: Columns) -> None:
    """A numeric feature with its observed range as the expected one (a value beyond it is
    scored and reported, not refused), unless it is a row number or id; a hard `min: 0` only
    where negative values are impossible."""
    values, inferred = table.typed[column], table.schemas[column]
    dtype = inferred["dtype"]
    unique = dtype != "float" and values.is_unique and present == len(table.frame)
    if unique and (is_id_name(column) or consecutive_integers(values)):
        decided.left_out.append(LeftOut(column, "id-like (a unique integer in every row)"))
        return
    decided.numeric.append(column)
    settings: dict[str, Any] = {k: inferred[k] for k in ("allow_inf",) if k in inferred}
    for bound in ("min", "max"):
        if bound in inferred:
            settings[f"expected_{bound}"] = inferred[bound]
    if _certainly_non_negative(column, table.frame[column]):
        settings["min"] = 0
        decided.rule_comments[column] = (
            "review: min 0 refuses negative values (a count or an amount); expected_min/max, "
            "the observed range, only report values beyond it"
        )
    decided.rules[column] = ColumnRule(
        dtype=dtype, **_not_nullable(inferred["nullable"]), **settings
    )


def _decide_text(table: Table, column: str, present: int, n_unique: int, decided: Columns) -> None:
    """Text: left out when free text or near-unique, else a categorical feature."""
    inferred = table.schemas[column]
    text = looks_like_free_text(table.frame[column])
    if n_unique > max(20, NEAR_UNIQUE_SHARE * present):
        reason = text or (
            f"{'id-like' if is_id_name(column) else 'very high cardinality'} "
            f"({n_unique} distinct values in {present} rows)"
        )
        decided.left_out.append(LeftOut(column, reason))
        return
    if text:
        decided.left_out.append(LeftOut(column, text))
        return
    # No `allowed` list of the levels seen: a new level scores as __unknown__ (reported by the
    # API and counted by drift) instead of failing validation of a whole batch.
    decided.categorical.append(column)
    if is_id_name(column):
        decided.rule_comments[column] = "review: named like an id but repeated: used as a category"
    decided.rules[column] = ColumnRule(dtype="string", **_not_nullable(inferred["nullable"]))


def target_rule(values: pd.Series, task: str) -> ColumnRule | None:
    """The target's rule: a float for regression, else its labels (when few enough)."""
    if task == "regression":
        return ColumnRule(dtype="float")
    labels = sorted(_labels(values).unique().tolist())
    return ColumnRule(allowed=labels) if len(labels) <= MAX_TEXT_CLASSES else None


def decide_split(
    table: Table,
    time_column: str | None,
    id_column: str | None,
    comments: dict[str, str],
    time_zone: str = "UTC",
) -> IngestionSplit:
    """Event time cut at its 80% quantile (a time in the contract's zone, as validation makes
    the column), else a seeded 20% share of the rows."""
    if time_column is not None:
        comments["split"] = (
            f"review: the {1 - CURRENT_SHARE:.0%} time quantile of '{time_column}' in "
            f"{time_zone}: later rows are the current batch"
        )
        times = naive_in_zone(table.typed[time_column], time_zone)
        return IngestionSplit(mode="event_time", current_from=_cut_time(times))
    comments["split"] = (
        f"one file, no time: {CURRENT_SHARE:.0%} of the rows (by a hash of the "
        + ("id" if id_column else "row")
        + " and seed) are current"
    )
    return IngestionSplit(mode="fraction", current_share=CURRENT_SHARE, seed=42)


def decide_holdout(task: str, time_column: str | None = None) -> HoldoutParams:
    """A hold-out of 20%: the latest rows with an event time (the model is judged on rows later
    than those it learned from, as it will be used), else stratified (random for regression)."""
    if time_column is not None:
        return HoldoutParams(strategy="time", test_size=0.2, seed=42)
    strategy = "random" if task == "regression" else "stratified"
    return HoldoutParams(strategy=strategy, test_size=0.2, seed=42)


def decide_features(
    table: Table, datetime_features: list[str], comments: dict[str, str], time_zone: str = "UTC"
) -> FeatureParams:
    """No log or ratio transforms; date parts that vary (as the times read in the contract's
    zone); rare levels at 1% (at most 20)."""
    times = [naive_in_zone(table.typed[c], time_zone) for c in datetime_features]
    date_parts, comments["date_parts"] = _date_parts(times)
    n_rows = len(table.frame)
    return FeatureParams(
        log=[],
        ratios={},
        date_parts=date_parts,
        missing_indicators="auto",
        categorical=CategoricalEncoding(
            min_frequency=max(1, min(20, n_rows // 100)), max_levels=200
        ),
    )


def infer_configuration(
    frame: pd.DataFrame,
    source: str,
    file_type: str,
    target: str,
    task: str | None = None,
    id_column: str | None = None,
    time_column: str | None = None,
    hash_pii: bool = True,
    time_zone: str = "UTC",
) -> InferredConfig:
    """Infer the contract, split, hold-out and feature transforms of a table."""
    check_options(frame, target, id_column, time_column)
    check_time_zone(time_zone)
    table = profile_table(frame, target)
    comments: dict[str, str] = {}
    task, comments["task"] = _infer_task(frame[target], target, task)
    positive: dict[str, Any] = {}
    if task == "binary":
        positive["positive_class"], comments["positive_class"] = _positive_class(frame[target])
    time_column = decide_event_time(table, time_column, comments)
    id_column = decide_id(table, target, time_column, id_column, comments)
    columns = decide_columns(table, target, id_column, time_column, "hash" if hash_pii else "drop")
    rule = target_rule(frame[target], task)
    if rule is not None:
        columns.rules[target] = rule
    if not columns.features:
        raise ContractInferenceError(
            f"No usable feature column is left in {source}: "
            + "; ".join(f"{item.column}: {item.reason}" for item in columns.left_out)
        )
    comments["time_zone"] = "times with an offset (Z, +02:00) converted to it, others read in it"
    comments["missing_values"] = "texts read as missing; review: drop one that is a real value"
    split = decide_split(table, time_column, id_column, comments, time_zone)
    features = decide_features(table, columns.datetime, comments, time_zone)
    try:
        contract = DatasetContract(
            name=_contract_name(source),
            id_column=id_column,
            event_time_column=time_column,
            time_zone=time_zone,
            missing_values=list(DEFAULT_MISSING_VALUES),
            target=target,
            task=task,
            **positive,
            features=FeatureColumns(
                numeric=columns.numeric,
                categorical=columns.categorical,
                datetime=columns.datetime,
            ),
            pii=columns.pii,
            columns={c: columns.rules[c] for c in frame.columns if c in columns.rules},
        )
    except ConfigError as error:
        raise ContractInferenceError(f"The inferred configuration is refused: {error}") from None
    return InferredConfig(
        source=source,
        file_type=file_type,
        n_rows=len(frame),
        n_columns=len(frame.columns),
        dataset_contract=contract,
        ingestion_split=split,
        holdout_params=decide_holdout(task, time_column),
        feature_params=features,
        comments=comments,
        rule_comments=columns.rule_comments,
        left_out=columns.left_out,
    )


def _time_rule(time_format: str | None, nullable: bool = False) -> ColumnRule:
    """The rule of a datetime column: its format when it is not ISO 8601."""
    fmt = {} if time_format is None else {"format": time_format}
    return ColumnRule(dtype="datetime", **_not_nullable(nullable), **fmt)


def _contract_name(source: str) -> str:
    """A contract name from the file name: `s3://b/churn/customers.parquet` -> `customers`."""
    stem = PurePosixPath(source.split("?", 1)[0]).name
    stem = re.sub(r"\.(csv|parquet|pq|parq)(\.(gz|bz2|zip|xz|zst))?$", "", stem, flags=re.I)
    return re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_").lower() or "dataset"


def check_configuration(config: InferredConfig, frame: pd.DataFrame) -> DatasetContract:
    """Run the checks across blocks, then ingestion's own validation and split nodes on the
    file (as `kedro run` will), so that what is written runs; raise ContractInferenceError
    with the run's message otherwise."""
    from cirrus.errors import CirrusError
    from cirrus.pipelines.ingestion.nodes import (
        split_reference_current,
        validate_raw_current,
        validate_raw_reference,
    )

    contract = config.dataset_contract
    try:
        check_feature_references(config.feature_params, contract)
        check_holdout(config.holdout_params, contract)
        check_split(config.ingestion_split, contract)
    except ConfigError as error:
        raise ContractInferenceError(f"The inferred configuration is refused: {error}") from None
    # Nothing is written from this check: a stand-in salt lets hashed PII columns pass.
    salt = "init-contract-check"
    try:
        reference = validate_raw_reference(frame, contract, salt)
        current = validate_raw_current(frame, contract, salt)
        split_reference_current(reference, current, contract, config.ingestion_split)
    except CirrusError as error:
        raise ContractInferenceError(
            f"The inferred contract does not validate {config.source} as `kedro run` would: {error}"
        ) from None
    return contract

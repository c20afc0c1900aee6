"""The facts of a model card: what its owners state (params `model_card`) and what the run's
outputs show, read through the catalog.

Every read of an artefact is in `gather_facts` and the helpers it calls: the renderings only see
`CardFacts`. Artefacts load as dicts or as typed results (`_plain` takes either), so a change of
their types is adapted here and nowhere else. The plain-words sentences the three renderings
share are at the end of the module.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict

from cirrus.catalog import filesystem_of, location_of, stored_path
from cirrus.contract import parse_contract
from cirrus.drift.verdict import verdict_in_words
from cirrus.inputs import require_inputs
from cirrus.metrics import PRIMARY_METRIC, higher_is_better
from cirrus.parameters import (
    MODEL_CARD_FILE,
    ConfigError,
    ModelCardParams,
)
from cirrus.results import ModelBundle

if TYPE_CHECKING:  # pandas loads when facts are gathered: the settings model is read at start-up
    import pandas as pd

# What a card cannot do without: the model's bundle and its metrics.
CARD_INPUTS = ("model_bundle", "training_metrics", "evaluation_metrics")
NOT_STATED = "not stated"
MAX_SLICES = 8  # groups shown per sensitive attribute; smaller ones are pooled as "other"
ROC_POINTS = 100  # enough for a smooth curve, small enough for the page
# Files the card points to, by what they are.
LOCATIONS = {"model": "model", "training rows": "train_features", "held-out rows": "test_features"}


class Fact(BaseModel):
    """A strict, immutable piece of the card."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Metric(Fact):
    """A held-out metric of the model beside the trivial baseline's."""

    name: str
    model: float | None
    baseline: float | None
    beats_baseline: bool | None
    interval: tuple[float, float] | None = None


class GateCheck(Fact):
    """One bound of the quality gate and its verdict."""

    metric: str
    value: float | None
    minimum: float | None
    maximum: float | None
    verdict: str


class Threshold(Fact):
    """The binary decision threshold in effect and what it does on held-out rows."""

    value: float
    rule: str | None
    precision: float | None
    recall: float | None
    flagged_share: float | None


class Slice(Fact):
    """The model on one group of held-out rows."""

    attribute: str
    group: str
    rows: int
    positive_rate: float
    predicted_positive_rate: float
    roc_auc: float | None


class LockedFile(Fact):
    """A data or model file as dvc.lock records it; `matches`: the file here has that hash."""

    path: str
    md5: str
    matches: bool | None


class Price(Fact):
    """What something costs on one cloud, in US dollars."""

    cloud: str
    on_demand_usd: float
    spot_usd: float | None


class Cost(Fact):
    """Cost of a run and of 1,000 predictions (`kedro cirrus cost`)."""

    price_table_read_on: str
    per_run: list[Price]
    per_1000_predictions: list[Price]


class Hardware(Fact):
    """The machine the last run used."""

    cores: int
    memory_gib: float
    platform: str
    python: str
    run_seconds: float
    run_started_at: str


class DataFacts(Fact):
    """The rows the model learned from and was judged on, and the contract that shaped them."""

    contract_name: str
    target: str
    task: str
    positive_class: str | None
    columns_by_kind: dict[str, int]
    pii: dict[str, str]
    event_time_column: str | None
    time_range: tuple[str, str] | None
    raw_rows: int | None
    duplicates_dropped: int | None
    reference_rows: int | None
    current_rows: int | None
    train_rows: int | None
    test_rows: int | None
    holdout_strategy: str | None
    holdout_cut: str | None
    locations: dict[str, str]
    files: list[LockedFile]


class TrainingFacts(Fact):
    """How the model was trained."""

    params: dict[str, str | int | float | bool | None]
    best_iteration: int | None
    n_features: int | None
    n_training_rows: int | None
    validation_split: str | None
    scores: dict[str, float]
    tuning_enabled: bool
    tuning_trials: int | None
    tuned_params: dict[str, str | int | float | bool | None]
    hardware: Hardware | None


class CardFacts(Fact):
    """Everything the model card says, gathered once."""

    generated_at: str
    name: str
    stated: ModelCardParams
    data: DataFacts
    training: TrainingFacts
    primary_metric: str
    metrics: list[Metric]
    current_metrics: list[Metric]
    current_rows: int | None
    gate_passed: bool | None
    gate: list[GateCheck]
    threshold: Threshold | None
    slices: list[Slice]
    drift_verdict: str | None
    drifted_features: list[str]
    cost: Cost | None
    roc: list[tuple[float, float]]


# --- reading the artefacts --------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """An artefact or parameters block as plain JSON data, whether a dict or a typed model."""
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def _optional(catalog: Any, name: str) -> Any | None:
    """A dataset's content, or None when the catalog lacks it or it is not written yet."""
    return catalog.load(name) if name in catalog and catalog.exists(name) else None


def _beside(catalog: Any, name: str, filename: str) -> Any | None:
    """A JSON file next to a catalog dataset's file (reports that have no entry of their own)."""
    dataset = catalog.get(name)
    fs, path = filesystem_of(dataset), stored_path(dataset)
    target = f"{posixpath.dirname(path or '')}/{filename}"
    if fs is None or path is None or not fs.exists(target):
        return None
    with fs.open(target, "r") as stream:
        return json.load(stream)


def _time_range(catalog: Any, column: str | None) -> tuple[str, str] | None:
    """First and last event time of the primary table, reading that column only."""
    import pandas as pd

    if column is None or "reference_table" not in catalog:
        return None
    dataset = catalog.get("reference_table")
    fs, path = filesystem_of(dataset), stored_path(dataset)
    if fs is None or path is None:
        frame = catalog.load("reference_table")[[column]]
    else:
        with fs.open(path, "rb") as stream:
            frame = pd.read_parquet(stream, columns=[column])
    times = pd.to_datetime(frame[column], errors="coerce", utc=True).dropna()
    if times.empty:
        return None
    return times.min().isoformat(timespec="minutes"), times.max().isoformat(timespec="minutes")


def _where(catalog: Any, name: str, root: Path) -> str:
    """Where a dataset lives: a path relative to the project when it is inside it, else its URL."""
    found = str(location_of(catalog, name))
    inside = Path(found).resolve().is_relative_to(root.resolve()) if "://" not in found else False
    return Path(found).resolve().relative_to(root.resolve()).as_posix() if inside else found


def _md5(path: Path) -> str:
    """The MD5 of a file, as DVC records it."""
    digest = hashlib.md5(usedforsecurity=False)  # DVC's content address
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def locked_files(lock: dict[str, Any], root: Path) -> list[LockedFile]:
    """Every stage output of a parsed dvc.lock with its MD5, and whether the file here matches."""
    found: dict[str, LockedFile] = {}
    for stage in (lock.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            md5, local = str(out.get("md5", "")), root / out["path"]
            matches = _md5(local) == md5 if local.is_file() and not md5.endswith(".dir") else None
            found[out["path"]] = LockedFile(path=out["path"], md5=md5, matches=matches)
    return sorted(found.values(), key=lambda item: item.path)


def _scalars(values: dict[str, Any]) -> dict[str, str | int | float | bool | None]:
    """Parameter values as scalars a card can print (anything else as JSON text)."""
    plain = (str, int, float, bool, type(None))
    return {k: v if isinstance(v, plain) else json.dumps(v) for k, v in values.items()}


def _training(
    params: dict[str, Any],
    metrics: dict[str, Any],
    tuning: dict[str, Any] | None,
    record: dict[str, Any] | None,
) -> TrainingFacts:
    """LightGBM's settings as trained: declared, `auto` resolved, tuned values applied."""
    declared, tuning = _plain(params.get("training")) or {}, tuning or {}
    resolved = metrics.get("resolved_params") or {}
    tuned = tuning.get("best_params") or {}
    settings = {
        **{k: declared.get(k) for k in ("num_boost_round", "early_stopping_rounds", "seed")},
        "validation_fraction": resolved.get(
            "validation_fraction", declared.get("validation_fraction")
        ),
        **{k: resolved.get(k, v) for k, v in (declared.get("lgbm_params") or {}).items()},
        **tuned,
    }
    return TrainingFacts(
        params=_scalars(settings),
        best_iteration=metrics.get("best_iteration"),
        n_features=metrics.get("n_features"),
        n_training_rows=metrics.get("n_training_rows"),
        validation_split=metrics.get("validation_split"),
        scores={
            k: float(v)
            for k, v in metrics.items()
            if k.startswith(("train_", "valid_")) and isinstance(v, int | float)
        },
        tuning_enabled=bool(tuning.get("enabled")),
        tuning_trials=tuning.get("n_trials"),
        tuned_params=_scalars(tuned),
        hardware=_hardware(record),
    )


def _hardware(record: dict[str, Any] | None) -> Hardware | None:
    """The machine and duration of the last run, from its run record."""
    if not record:
        return None
    machine = record["machine"]
    return Hardware(
        cores=machine["cores"],
        memory_gib=round(machine["memory_bytes"] / 2**30, 1),
        platform=machine["platform"],
        python=machine["python"],
        run_seconds=record["wall_seconds"],
        run_started_at=record["started_at"],
    )


def _metrics(report: dict[str, Any]) -> list[Metric]:
    """A report's metrics of the model beside the baseline's, with bootstrap intervals where
    the evaluation computed them."""
    baseline, beats = report.get("baseline") or {}, report.get("beats_baseline") or {}
    intervals = (report.get("intervals") or {}).get("metrics") or {}
    return [
        Metric(
            name=name,
            model=value,
            baseline=baseline.get(name),
            beats_baseline=beats.get(name),
            interval=tuple(intervals[name]) if intervals.get(name) else None,
        )
        for name, value in (report.get("model") or {}).items()
    ]


def _gate(gate: dict[str, Any] | None) -> list[GateCheck]:
    """The quality gate's bounds and verdicts."""
    if not gate:
        return []
    rules = gate.get("rules") or {}
    return [
        GateCheck(
            metric=name,
            value=check.get("value"),
            minimum=(rules.get(name) or {}).get("min"),
            maximum=(rules.get(name) or {}).get("max"),
            verdict=check["verdict"],
        )
        for name, check in (gate.get("checks") or {}).items()
    ]


def _groups(values: pd.Series, max_groups: int = MAX_SLICES) -> pd.Series:
    """Group labels: quartiles of a many-valued number, else the largest levels and "other"."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(values) and values.nunique() > max_groups:
        numbers = values.astype("float64")
        bands = pd.qcut(numbers, 4, labels=False, duplicates="drop")
        # Named by the values each quartile holds: qcut's own edges start below the minimum.
        edges = numbers.groupby(bands).agg(["min", "max"])
        names = {band: f"{low:g} to {high:g}" for band, (low, high) in edges.iterrows()}
        return bands.map(names).astype("string").fillna("(missing)")
    text = values.astype("string").fillna("(missing)")
    largest = text.value_counts().index[: max_groups - 1]
    if text.nunique() <= max_groups:
        return text
    return text.where(text.isin(largest), f"other ({text.nunique() - len(largest)} groups)")


def slice_metrics(table: pd.DataFrame, attribute: str) -> list[Slice]:
    """Rows, outcome rate, flag rate and ROC AUC of each group of a sensitive attribute."""
    from sklearn.metrics import roc_auc_score

    found = []
    for group, rows in table.groupby(_groups(table[attribute]), sort=True, observed=True):
        labels = rows["label"].astype("float64")
        both = labels.nunique() == 2
        found.append(
            Slice(
                attribute=attribute,
                group=str(group),
                rows=len(rows),
                positive_rate=float(labels.mean()),
                predicted_positive_rate=float(rows["prediction"].astype("float64").mean()),
                roc_auc=float(roc_auc_score(labels, rows["score"])) if both else None,
            )
        )
    return found


def _slices(catalog: Any, attributes: list[str], id_column: str | None) -> list[Slice]:
    """Per-group metrics of the held-out predictions joined with their rows."""
    import pandas as pd

    if not attributes:
        return []
    predictions, rows = catalog.load("test_predictions"), catalog.load("test_rows")
    unknown = [a for a in attributes if a not in rows.columns]
    if unknown:
        raise ConfigError(
            f"model_card.sensitive_attributes in {MODEL_CARD_FILE} names column(s) the held-out "
            f"rows lack: {', '.join(unknown)} (available: {', '.join(map(str, rows.columns))})"
        )
    if id_column and id_column in predictions.columns:
        table = predictions.merge(rows[[id_column, *attributes]], on=id_column, how="inner")
    else:  # no id: the predictions keep the rows' order
        table = pd.concat(
            [predictions.reset_index(drop=True), rows[attributes].reset_index(drop=True)], axis=1
        )
    return [s for attribute in attributes for s in slice_metrics(table, attribute)]


def _drift_verdict(summary: Any) -> str | None:
    """The drift verdict in one set of sentences, as every report states it."""
    if summary is None:
        return None
    return verdict_in_words(summary)


def _cost(raw: dict[str, Any] | None) -> Cost | None:
    """The cost report's prices per run and per 1,000 predictions."""
    if not raw:
        return None

    def prices(block: dict[str, Any]) -> list[Price]:
        return [Price(cloud=cloud, **values) for cloud, values in (block or {}).items()]

    return Cost(
        price_table_read_on=raw["price_table_read_on"],
        per_run=prices(raw.get("per_run")),
        per_1000_predictions=prices(raw.get("per_1000_predictions")),
    )


def _roc(points: pd.DataFrame | None, positive: str | None) -> list[tuple[float, float]]:
    """The positive class's ROC curve, thinned to at most ROC_POINTS points."""
    import pandas as pd

    if points is None or points.empty:
        return []
    if "class" in points.columns and positive is not None:
        points = points[points["class"].astype("string") == positive]
    step = max(1, len(points) // ROC_POINTS)
    kept = pd.concat([points.iloc[::step], points.iloc[[-1]]]).drop_duplicates()
    return [(float(x), float(y)) for x, y in zip(kept["fpr"], kept["tpr"], strict=True)]


def _threshold(catalog: Any, bundle: ModelBundle, evaluation: dict[str, Any]) -> Threshold:
    """The binary threshold in effect (the model bundle's, what batch scoring and the API use),
    its held-out precision and recall, and the share of held-out rows it flags."""
    if bundle.decision_threshold is None:
        raise ConfigError("the model bundle of this binary model holds no decision threshold")
    value, rule = bundle.decision_threshold.value, bundle.decision_threshold.rule
    # Precision and recall belong to the threshold the evaluation used: none if that differs.
    same = evaluation.get("threshold") in (None, value)
    model = (evaluation.get("model") or {}) if same else {}
    predictions = _optional(catalog, "test_predictions")
    flagged = None if predictions is None else float((predictions["score"] >= value).mean())
    return Threshold(
        value=value,
        rule=rule,
        precision=model.get("precision"),
        recall=model.get("recall"),
        flagged_share=flagged,
    )


def _data(
    catalog: Any, params: dict[str, Any], evaluation: dict[str, Any], root: Path
) -> DataFacts:
    """Rows, time range, contract summary and the DVC hashes of the files."""
    contract = parse_contract(params.get("contract"))
    ingestion = _plain(_optional(catalog, "ingestion_report")) or {}
    holdout = _plain(_optional(catalog, "holdout_report")) or evaluation.get("holdout") or {}
    lock_file = root / "dvc.lock"
    lock = yaml.safe_load(lock_file.read_text()) if lock_file.is_file() else None
    features = contract.features
    return DataFacts(
        contract_name=contract.name,
        target=contract.target,
        task=contract.task,
        positive_class=None if contract.positive_class is None else str(contract.positive_class),
        columns_by_kind={
            "numeric features": len(features.numeric),
            "categorical features": len(features.categorical),
            "date-and-time features": len(features.datetime),
            "personal (PII) columns, kept out of the features": len(contract.pii),
        },
        pii={column: str(treatment) for column, treatment in contract.pii.items()},
        event_time_column=contract.event_time_column,
        time_range=_time_range(catalog, contract.event_time_column),
        raw_rows=ingestion.get("raw_reference_rows"),
        duplicates_dropped=ingestion.get("duplicate_id_rows_dropped"),
        reference_rows=ingestion.get("reference_rows"),
        current_rows=ingestion.get("current_rows"),
        train_rows=holdout.get("n_train_rows"),
        test_rows=holdout.get("n_test_rows", evaluation.get("n_test_rows")),
        holdout_strategy=holdout.get("strategy"),
        holdout_cut=holdout.get("cut"),
        locations={
            label: _where(catalog, name, root)
            for label, name in LOCATIONS.items()
            if location_of(catalog, name)
        },
        files=locked_files(lock or {}, root),
    )


def gather_facts(catalog: Any, params: dict[str, Any], root: Path | None = None) -> CardFacts:
    """Read the run's outputs through the catalog and the card's stated facts from params;
    `root` is the project folder that holds dvc.lock (default: the working directory)."""
    root = root or Path.cwd()
    require_inputs(catalog, list(CARD_INPUTS), "No model card to write")
    stated = ModelCardParams.parse(params.get("model_card") or {})
    contract = parse_contract(params.get("contract"))
    binary = contract.task == "binary"
    training_raw = catalog.load("training_metrics")
    evaluation = _plain(catalog.load("evaluation_metrics"))
    gate = _plain(_optional(catalog, "quality_gate_result"))
    drift = _optional(catalog, "drift_summary")
    record = _plain(_optional(catalog, "run_record")) or _beside(
        catalog, "evaluation_metrics", "run_record.json"
    )
    current = evaluation.get("current_batch") or {}
    data = _data(catalog, params, evaluation, root)
    return CardFacts(
        generated_at=datetime.now(UTC).isoformat(timespec="minutes"),
        name=stated.name or (_plain(params.get("registry")) or {}).get("artifact") or contract.name,
        stated=stated,
        data=data,
        training=_training(
            params, _plain(training_raw), _plain(_optional(catalog, "tuning_result")), record
        ),
        primary_metric=PRIMARY_METRIC[contract.task],
        metrics=_metrics(evaluation),
        current_metrics=_metrics(current),
        current_rows=current.get("n_rows_with_outcome"),
        gate_passed=None if gate is None else bool(gate.get("passed")),
        gate=_gate(gate),
        threshold=_threshold(catalog, catalog.load("model_bundle"), evaluation) if binary else None,
        slices=_slices(catalog, stated.sensitive_attributes, contract.id_column) if binary else [],
        drift_verdict=_drift_verdict(drift),
        drifted_features=list((_plain(drift) or {}).get("drifted_features") or []),
        cost=_cost(_beside(catalog, "evaluation_metrics", "cost.json")),
        roc=_roc(_optional(catalog, "roc_points"), data.positive_class) if binary else [],
    )


# --- the facts in plain words: one wording for the three renderings ---------------------------

# Each metric's name on the card and what it measures, in a short clause.
METRIC_WORDS: dict[str, tuple[str, str]] = {
    "roc_auc": (
        "ROC AUC",
        "how often a randomly picked positive case scores above a negative one: "
        "0.5 is a coin toss, 1 is perfect",
    ),
    "pr_auc": ("PR AUC", "precision averaged over every threshold; higher is better"),
    "log_loss": ("Log loss", "how far the scores are from what happened; lower is better"),
    "brier": ("Brier score", "the average squared gap between score and outcome; lower is better"),
    "precision": ("Precision", "of the cases flagged, the share that were positive"),
    "recall": ("Recall", "of the positive cases, the share the model flagged"),
    "f1": ("F1", "one number balancing precision and recall; higher is better"),
    "accuracy": ("Accuracy", "the share of cases given the right class"),
    "macro_f1": ("Macro F1", "F1 averaged over the classes, each counted equally"),
    "rmse": ("RMSE", "the typical size of an error, in the target's units; lower is better"),
    "mae": ("MAE", "the average size of an error, in the target's units; lower is better"),
    "r2": ("R²", "the share of the target's variation the model explains; 1 is perfect"),
}
BASELINE_WORDS = (
    "the trivial baseline (a guess that knows only the training data's average outcome)"
)
GATE_WORDS = "the quality gate (the minimum a model must reach before it may be used)"
RULE_WORDS = {
    "best_f1": "picked on validation rows as the one with the best F1",
    "youden": "picked on validation rows as the one that best separates the two classes",
}


def metric_label(name: str) -> str:
    """A metric's name as the card prints it."""
    return METRIC_WORDS.get(name, (name, ""))[0]


def metric_meaning(name: str) -> str:
    """What a metric measures, in a short clause."""
    fallback = "higher is better" if higher_is_better(name) else "lower is better"
    return METRIC_WORDS.get(name, (name, fallback))[1]


def stated(value: str | list[str] | None) -> str:
    """A stated value as text, or "not stated"."""
    if isinstance(value, list):  # items as sentences, each ending in a full stop
        return " ".join(v if v.rstrip()[-1:] in ".!?" else f"{v}." for v in value) or NOT_STATED
    return value or NOT_STATED


def plural(word: str) -> str:
    """An English plural, good enough for a noun such as `application` or `policy`."""
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def when(iso: str | None) -> str:
    """An ISO timestamp as a person reads it (date, then time)."""
    return NOT_STATED if not iso else iso.replace("T", " ").split(".")[0].replace("+00:00", " UTC")


def usd(value: float | None) -> str:
    """US dollars: with cents from ten cents up, else three significant digits."""
    if value is None:
        return "n/a"
    if value >= 0.1:
        return f"${value:,.2f}"
    # Three significant digits written out (no exponent: a reader sees $0.0000326, not 3.26e-05).
    return f"${Decimal(f'{value:.3g}'):f}"


# How each cloud is named on the card.
CLOUD_NAMES = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}


def _words(facts: CardFacts) -> tuple[str, str, str]:
    """The subject, what a flag means and what the positive outcome is, in words."""
    card, data = facts.stated, facts.data
    label = f"{data.target} = {data.positive_class}"
    flagged = card.flagged_as or f"positive ({label})"
    outcome = card.positive_outcome or f"turned out positive ({label})"
    return card.subject, flagged, outcome


def primary(facts: CardFacts) -> Metric | None:
    """The task's primary metric, the one the model must beat the baseline on."""
    return next((m for m in facts.metrics if m.name == facts.primary_metric), None)


def baseline_sentence(facts: CardFacts) -> str:
    """Whether the model beats the trivial baseline on its primary metric, in one sentence."""
    metric, subject = primary(facts), _words(facts)[0]
    if metric is None or metric.model is None or metric.baseline is None:
        return "No held-out comparison with the baseline was recorded."
    verdict = {True: "it beats the baseline", False: "it does NOT beat the baseline"}.get(
        metric.beats_baseline, "whether it beats the baseline was not recorded"
    )
    rows = f"{facts.data.test_rows:,} " if facts.data.test_rows else ""
    return (
        f"On {rows}held-out {plural(subject)} (kept aside from training), the model's "
        f"{metric_label(metric.name)} ({metric_meaning(metric.name)}) is {metric.model:.3f} "
        f"against {metric.baseline:.3f} for "
        f"{BASELINE_WORDS}: {verdict}."
    )


def gate_sentence(facts: CardFacts) -> str:
    """The quality gate's verdict and bounds, in one sentence."""
    if facts.gate_passed is None:
        return f"No result of {GATE_WORDS} was recorded."
    bounds = []
    for check in facts.gate:
        limits = [f"at least {check.minimum:g}"] if check.minimum is not None else []
        limits += [f"at most {check.maximum:g}"] if check.maximum is not None else []
        value = "n/a" if check.value is None else f"{check.value:.3f}"
        bounds.append(f"{metric_label(check.metric)} {value}, needs {' and '.join(limits)}")
    verdict = "passed" if facts.gate_passed else "FAILED"
    return f"The model {verdict} {GATE_WORDS}: {'; '.join(bounds) or 'no bounds declared'}."


def threshold_sentence(facts: CardFacts) -> str | None:
    """What the binary decision threshold means on held-out rows (None for other tasks)."""
    found = facts.threshold
    if found is None:
        return None
    subject, flagged, outcome = _words(facts)
    article = "An" if subject[:1].lower() in "aeiou" else "A"
    sentence = (
        f"{article} {subject} is flagged as {flagged} when the model's score is "
        f"{found.value:.2f} or more"
    )
    if found.precision is not None and found.recall is not None:
        sentence += (
            f"; at this threshold, on held-out data, {found.precision:.0%} of flagged "
            f"{plural(subject)} {outcome} (precision) and {found.recall:.0%} of "
            f"{plural(subject)} that {outcome} were flagged (recall)"
        )
    how = RULE_WORDS.get(found.rule or "", "set by hand in the evaluation settings")
    return f"{sentence}. The threshold was {how}."


def drift_sentence(facts: CardFacts) -> str:
    """The drift verdict, or that no drift check ran."""
    return facts.drift_verdict or "No drift check was recorded: run the drift pipeline."


def cost_sentence(facts: CardFacts) -> str:
    """What a run and 1,000 predictions cost, or how to measure it."""
    cost = facts.cost
    if cost is None:
        return "Cost: not measured yet: run `kedro cirrus cost`."

    def priced(prices: list[Price]) -> str:
        return ", ".join(
            f"{usd(p.on_demand_usd)} on {CLOUD_NAMES.get(p.cloud, p.cloud)}"
            + (f" ({usd(p.spot_usd)} spot)" if p.spot_usd is not None else "")
            for p in prices
        )

    return (
        f"One run of the pipelines costs about {priced(cost.per_run)}; 1,000 predictions cost "
        f"about {priced(cost.per_1000_predictions)} (prices read on {cost.price_table_read_on})."
    )


def verdicts(facts: CardFacts) -> list[str]:
    """The sentences a reader needs first: baseline, gate, threshold, drift."""
    found = [baseline_sentence(facts), gate_sentence(facts), threshold_sentence(facts)]
    return [s for s in [*found, drift_sentence(facts)] if s]

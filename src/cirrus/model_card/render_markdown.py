"""The card's text as sections of plain blocks, and its Markdown rendering with Hugging Face
model-card metadata (YAML front matter with a `model-index`).

`card_sections` is the one wording of the card: the HTML page renders the same sections.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from cirrus.model_card.facts import (
    CLOUD_NAMES,
    CardFacts,
    baseline_sentence,
    cost_sentence,
    drift_sentence,
    gate_sentence,
    metric_label,
    metric_meaning,
    plural,
    stated,
    threshold_sentence,
    usd,
    verdicts,
    when,
)

# Hugging Face's task ids for the model-index, by the contract's task.
HF_TASKS = {
    "binary": "tabular-classification",
    "multiclass": "tabular-classification",
    "regression": "tabular-regression",
}
PII_WORDS = {"drop": "removed before training", "hash": "replaced by a salted hash"}
TASK_NAMES = {
    "binary": "Binary classification",
    "multiclass": "Multiclass classification",
    "regression": "Regression",
}


@dataclass(frozen=True)
class Pairs:
    """Labelled values, one per line."""

    items: list[tuple[str, str]]


@dataclass(frozen=True)
class Table:
    """A table of text cells."""

    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclass(frozen=True)
class Section:
    """A titled part of the card: paragraphs (str), bullet lists, pairs and tables, in order."""

    key: str
    title: str
    blocks: list[str | list[str] | Pairs | Table]


def _number(value: float | None, digits: int = 3) -> str:
    """A metric value for a table cell."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def _use(facts: CardFacts) -> Section:
    """What the model decides, for whom, and who answers for it."""
    card = facts.stated
    risk = stated(card.risk_rating)
    if card.risk_rating and card.risk_rating_reason:
        risk += f": {card.risk_rating_reason}"
    pairs = Pairs(
        [
            ("Intended use", stated(card.intended_use)),
            ("Owner", stated(card.owner)),
            ("Contact", stated(card.contact)),
            ("Risk rating (how much harm a wrong decision can do)", risk),
        ]
    )
    outside = card.out_of_scope_uses or [stated(None)]
    return Section("use", "What it decides and for whom", [pairs, "Not meant for:", outside])


def _performance(facts: CardFacts) -> Section:
    """Held-out metrics against the baseline, the latest batch and the quality gate."""
    rows = [
        (
            metric_label(m.name),
            metric_meaning(m.name),
            _number(m.model)
            + ("" if m.interval is None else " ({:.3f} to {:.3f})".format(*m.interval)),
            _number(m.baseline),
            {True: "yes", False: "NO"}.get(m.beats_baseline, "n/a"),
        )
        for m in facts.metrics
    ]
    blocks: list = [
        baseline_sentence(facts),
        Table(("Metric", "What it measures", "Model", "Baseline", "Beats baseline"), rows),
    ]
    main = next((m for m in facts.current_metrics if m.name == facts.primary_metric), None)
    if main is not None and main.model is not None:
        blocks.append(
            f"On the latest batch with known outcomes ({facts.current_rows:,} rows), the "
            f"{metric_label(main.name)} is {main.model:.3f} (baseline {_number(main.baseline)})."
        )
    return Section("performance", "How well it works", [*blocks, gate_sentence(facts)])


def _threshold(facts: CardFacts) -> Section | None:
    """What the decision threshold means (binary tasks)."""
    sentence, found = threshold_sentence(facts), facts.threshold
    if sentence is None or found is None:
        return None
    blocks = [sentence]
    if found.flagged_share is not None:
        subjects = plural(facts.stated.subject)
        blocks.append(
            f"At this threshold {found.flagged_share:.0%} of held-out {subjects} are flagged."
        )
    return Section("threshold", "The decision threshold", blocks)


def _fairness(facts: CardFacts) -> Section:
    """The model on each group of the declared sensitive attributes."""
    if facts.data.task != "binary":
        return Section(
            "fairness", "Fairness across groups", ["Group comparisons cover binary tasks only."]
        )
    if not facts.stated.sensitive_attributes:
        note = (
            "No sensitive attributes declared: list the columns to compare under "
            "`model_card.sensitive_attributes` in conf/base/parameters_model_card.yml."
        )
        return Section("fairness", "Fairness across groups", [note])
    outcome = facts.stated.positive_outcome or "positive"
    blocks: list = [
        "The held-out rows split by each sensitive attribute: a large gap between groups in "
        "how often the model flags them, or in how well it ranks them (ROC AUC), deserves a "
        "closer look."
    ]
    for attribute in facts.stated.sensitive_attributes:
        rows = [
            (
                s.group,
                f"{s.rows:,}",
                f"{s.positive_rate:.1%}",
                f"{s.predicted_positive_rate:.1%}",
                _number(s.roc_auc),
            )
            for s in facts.slices
            if s.attribute == attribute
        ]
        headers = (attribute, "Rows", f"Share {outcome}", "Share flagged", "ROC AUC")
        blocks.append(Table(headers, rows))
    return Section("fairness", "Fairness across groups", blocks)


def _data(facts: CardFacts) -> Section:
    """Rows, time range, columns and personal data."""
    data = facts.data
    kinds = ", ".join(f"{count} {kind}" for kind, count in data.columns_by_kind.items() if count)
    pii = "; ".join(f"{c}: {PII_WORDS.get(t, t)}" for c, t in data.pii.items()) or "none declared"
    span = "not recorded" if data.time_range is None else " to ".join(map(when, data.time_range))
    split = f"{_count(data.train_rows)} for training, {_count(data.test_rows)} held out"
    if data.holdout_strategy == "time" and data.holdout_cut:
        split += f" (the latest ones, from {when(data.holdout_cut)})"
    elif data.holdout_strategy:
        split += f" ({data.holdout_strategy} split)"
    pairs = [
        ("Table", f"{data.contract_name}; predicts `{data.target}` ({data.task} task)"),
        (
            "Rows read",
            f"{_count(data.raw_rows)} ({_count(data.duplicates_dropped)} duplicates dropped)",
        ),
        ("Rows used", split),
        (f"Time range ({data.event_time_column or 'no time column'})", span),
        ("Newer batch checked for drift", f"{_count(data.current_rows)} rows"),
        ("Columns", kinds),
        ("Personal data (PII)", pii),
    ]
    return Section("data", "The data", [Pairs(pairs)])


def _count(value: int | None) -> str:
    """A row count, or "not recorded"."""
    return "not recorded" if value is None else f"{value:,}"


def _training(facts: CardFacts) -> Section:
    """The learning algorithm, its settings, tuning and the machine."""
    found = facts.training
    limit = found.params.get("num_boost_round")
    blocks: list = [
        f"LightGBM (gradient-boosted decision trees: many small decision trees, each correcting "
        f"the ones before) learned from {_count(found.n_training_rows)} rows and "
        f"{found.n_features} input features; it stopped at {found.best_iteration} trees of at "
        f"most {_count(limit if isinstance(limit, int) else None)}, when the score on "
        "validation rows stopped improving (early stopping)."
    ]
    if found.tuning_enabled:
        tuned = ", ".join(f"{k} = {v}" for k, v in found.tuned_params.items())
        blocks.append(
            f"Hyperparameter tuning (an automatic search for better settings) ran "
            f"{found.tuning_trials} trials and chose: {tuned}."
        )
    else:
        blocks.append("Hyperparameter tuning (an automatic search for better settings) was off.")
    blocks.append(Table(("Setting", "Value"), [(k, str(v)) for k, v in found.params.items()]))
    machine = found.hardware
    if machine is None:
        blocks.append("Hardware: not recorded.")
    else:
        blocks.append(
            f"Hardware: {machine.cores} CPU cores, {machine.memory_gib:g} GiB memory "
            f"({machine.platform}, Python {machine.python}); the last run took "
            f"{machine.run_seconds:,.0f} s (started {when(machine.run_started_at)})."
        )
    return Section("training", "How it was trained", blocks)


def _cost(facts: CardFacts) -> Section:
    """Cost of a run and of 1,000 predictions on each cloud."""
    blocks: list = [cost_sentence(facts)]
    if facts.cost is not None:
        per_1000 = {p.cloud: p for p in facts.cost.per_1000_predictions}
        rows = [
            (
                CLOUD_NAMES.get(p.cloud, p.cloud),
                usd(p.on_demand_usd),
                usd(p.spot_usd),
                usd(per_1000[p.cloud].on_demand_usd) if p.cloud in per_1000 else "n/a",
                usd(per_1000[p.cloud].spot_usd) if p.cloud in per_1000 else "n/a",
            )
            for p in facts.cost.per_run
        ]
        headers = ("Cloud", "Run", "Run (spot)", "1,000 predictions", "1,000 predictions (spot)")
        blocks.append(Table(headers, rows))
    return Section("cost", "What it costs", blocks)


def _provenance(facts: CardFacts) -> Section:
    """The files' hashes as DVC recorded them."""
    files = facts.data.files
    if not files:
        return Section(
            "provenance",
            "Provenance",
            ["No dvc.lock found: `dvc repro` records the files' hashes."],
        )
    note = (
        "Fingerprints (MD5 hashes) of the data and model files as `dvc.lock` recorded them at "
        'the last `dvc repro`; "matches" says whether the file here still has that content.'
    )
    labels = {True: "yes", False: "no", None: "n/a"}
    rows = [(f.path, f.md5, labels[f.matches]) for f in files]
    return Section("provenance", "Provenance", [note, Table(("File", "MD5", "Matches"), rows)])


def card_sections(facts: CardFacts) -> list[Section]:
    """The card's sections, in reading order."""
    card = facts.stated
    limits = [
        "Limitations:",
        card.limitations or [stated(None)],
        "Ethical considerations:",
        card.ethical_considerations or [stated(None)],
    ]
    drift = [
        drift_sentence(facts),
        "Drift means the data the model sees now differs from the data it learned from; "
        "its scores may then be less reliable.",
    ]
    found = [
        Section("summary", "In short", [verdicts(facts)]),
        _use(facts),
        _performance(facts),
        _threshold(facts),
        _fairness(facts),
        Section("drift", "Is today's data still like the training data?", drift),
        _data(facts),
        _training(facts),
        _cost(facts),
        Section("limitations", "Limitations and ethical considerations", limits),
        _provenance(facts),
    ]
    return [section for section in found if section is not None]


def front_matter(facts: CardFacts) -> dict:
    """Hugging Face model-card metadata: license, library, tags and the evaluation results."""
    data, card = facts.data, facts.stated
    task = {"type": HF_TASKS[data.task], "name": TASK_NAMES[data.task]}
    dataset = {
        "name": f"{data.contract_name} (held-out rows)",
        "type": data.contract_name,
        "split": "test",
    }
    metrics = [
        {"type": m.name, "value": round(m.model, 6), "name": f"{metric_label(m.name)} (held-out)"}
        for m in facts.metrics
        if m.model is not None
    ]
    tags = list(dict.fromkeys([*card.tags, "lightgbm", HF_TASKS[data.task]]))
    return {
        "license": card.license,
        "library_name": "lightgbm",
        "tags": tags,
        "model-index": [
            {
                "name": facts.name,
                "results": [{"task": task, "dataset": dataset, "metrics": metrics}],
            }
        ],
    }


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _block(block: str | list[str] | Pairs | Table) -> str:
    """One block as Markdown."""
    if isinstance(block, str):
        return block
    if isinstance(block, list):
        return "\n".join(f"- {' '.join(item.split())}" for item in block)
    if isinstance(block, Pairs):
        return "\n".join(
            f"- **{label}:** {' '.join(value.split())}" for label, value in block.items
        )
    lines = ["| " + " | ".join(block.headers) + " |", "|" + "---|" * len(block.headers)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in block.rows]
    return "\n".join(lines)


def render_markdown(facts: CardFacts) -> str:
    """The card as Markdown with YAML front matter (Hugging Face's model-card layout)."""
    meta = yaml.safe_dump(front_matter(facts), sort_keys=False, allow_unicode=True)
    parts = [
        f"---\n{meta}---",
        f"# Model card: {facts.name}",
        f"_Generated {when(facts.generated_at)} from the run's outputs by "
        "`kedro cirrus model-card`._",
    ]
    for section in card_sections(facts):
        parts.append(f"## {section.title}")
        parts.extend(_block(block) for block in section.blocks)
    return "\n\n".join(parts) + "\n"

"""The card as the `Content` of an Amazon SageMaker Model Card (CreateModelCard), validated
against SageMaker's model card JSON schema (vendored in schemas/, see its README)."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from cirrus.errors import CirrusError
from cirrus.model_card.facts import (
    CardFacts,
    Metric,
    baseline_sentence,
    cost_sentence,
    drift_sentence,
    gate_sentence,
    metric_label,
    metric_meaning,
    stated,
    threshold_sentence,
)

SCHEMA_FILE = "sagemaker_model_card_schema.json"
CONTENT_LIMIT = 100_000  # CreateModelCard's Content is a string of at most this many characters
RISK_RATINGS = {"low": "Low", "medium": "Medium", "high": "High", None: "Unknown"}
PROBLEM_TYPES = {
    "binary": "Binary Classification",
    "multiclass": "Multiclass Classification",
    "regression": "Regression",
}
# LightGBM's objective by task: what training minimises.
OBJECTIVES = {"binary": "Log loss", "multiclass": "Multiclass log loss", "regression": "L2 loss"}
NAME_LIMIT = 63  # evaluation, metric group and axis names


class SageMakerCardError(CirrusError, ValueError):
    """The SageMaker model card content does not fit SageMaker's model card schema."""

    hint = "Shorten or fix the values the message names (conf/base/parameters_model_card.yml)."


@cache
def model_card_schema() -> dict[str, Any]:
    """SageMaker's model card JSON schema, as vendored."""
    return json.loads((files("cirrus.model_card") / "schemas" / SCHEMA_FILE).read_text())


def _text(value: str, limit: int) -> str:
    """Text cut to a schema's length limit, marked when cut."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _simple(metrics: list[Metric], field: str) -> list[dict[str, Any]]:
    """Metrics as SageMaker simple metrics, the model's or the baseline's values."""
    return [
        {
            "name": metric_label(m.name),
            "type": "number",
            "value": getattr(m, field),
            "notes": _text(metric_meaning(m.name), 1024),
        }
        for m in metrics
        if getattr(m, field) is not None
    ]


def _held_out(facts: CardFacts) -> dict[str, Any]:
    """The held-out evaluation: model and baseline metrics, ROC curve, group comparisons."""
    groups = [
        {"name": "Model", "metric_data": _simple(facts.metrics, "model")},
        {"name": "Trivial baseline", "metric_data": _simple(facts.metrics, "baseline")},
    ]
    if facts.roc:
        curve = {
            "name": "ROC curve",
            "type": "linear_graph",
            "value": [[x, y] for x, y in facts.roc],
            "x_axis_name": "False positive rate",
            "y_axis_name": "True positive rate",
        }
        groups.append({"name": "ROC curve", "metric_data": [curve]})
    for attribute in facts.stated.sensitive_attributes:
        found = [s for s in facts.slices if s.attribute == attribute]
        bars = [
            {
                "name": name,
                "type": "bar_chart",
                "value": [getattr(s, field) for s in found],
                "x_axis_name": [_text(s.group, NAME_LIMIT) for s in found],
                "y_axis_name": "Share of rows",
            }
            for name, field in (
                ("Share positive", "positive_rate"),
                ("Share flagged", "predicted_positive_rate"),
            )
        ]
        name = _text(f"Groups by {attribute}", NAME_LIMIT)
        groups.append({"name": name, "metric_data": bars if found else []})
    observation = " ".join(
        s for s in (baseline_sentence(facts), gate_sentence(facts), threshold_sentence(facts)) if s
    )
    metadata = {"rows": str(facts.data.test_rows), "task": facts.data.task}
    if facts.threshold is not None:
        metadata["decision_threshold"] = f"{facts.threshold.value:g}"
    datasets = (
        [facts.data.locations["held-out rows"]] if "held-out rows" in facts.data.locations else []
    )
    return {
        "name": "Held-out rows",
        "evaluation_observation": _text(observation, 2096),
        "datasets": datasets,
        "metadata": metadata,
        "metric_groups": groups,
    }


def _training(facts: CardFacts) -> dict[str, Any]:
    """The training: objective, observations, data, scores and hyperparameters."""
    found, task = facts.training, facts.data.task
    observations = (
        f"LightGBM stopped at {found.best_iteration} trees (early stopping on validation rows, "
        f"{found.validation_split} split); {found.n_training_rows} training rows, "
        f"{found.n_features} features; tuning {'on' if found.tuning_enabled else 'off'}."
    )
    details: dict[str, Any] = {
        "training_metrics": [{"name": k, "value": v} for k, v in found.scores.items()],
        "hyper_parameters": [
            {"name": k, "value": _text(str(v), 255)} for k, v in found.params.items()
        ],
    }
    if "training rows" in facts.data.locations:
        details["training_datasets"] = [facts.data.locations["training rows"]]
    return {
        "objective_function": {
            "function": {"function": "Minimize", "facet": OBJECTIVES[task]},
            "notes": "LightGBM's objective for the task; early stopping watches the validation "
            "metric.",
        },
        "training_observations": _text(observations, 1024),
        "training_job_details": details,
    }


def _current(facts: CardFacts) -> dict[str, Any] | None:
    """The latest batch with known outcomes, when the evaluation scored one."""
    if not facts.current_rows or not any(m.model is not None for m in facts.current_metrics):
        return None
    return {
        "name": "Latest batch with outcomes",
        "evaluation_observation": _text(drift_sentence(facts), 2096),
        "metadata": {"rows": str(facts.current_rows)},
        "metric_groups": [
            {"name": "Model", "metric_data": _simple(facts.current_metrics, "model")},
            {"name": "Trivial baseline", "metric_data": _simple(facts.current_metrics, "baseline")},
        ],
    }


def sagemaker_content(facts: CardFacts) -> dict[str, Any]:
    """The card as SageMaker model card content (model overview to additional information)."""
    card = facts.stated
    overview: dict[str, Any] = {
        "model_description": _text(stated(card.intended_use), 1024),
        "algorithm_type": "Gradient-boosted decision trees (LightGBM)",
        "problem_type": PROBLEM_TYPES[facts.data.task],
    }
    if card.owner:
        overview |= {
            "model_owner": _text(card.owner, 1024),
            "model_creator": _text(card.owner, 1024),
        }
    if "model" in facts.data.locations:
        overview["model_artifact"] = [facts.data.locations["model"]]
    uses = stated(card.intended_use)
    if card.out_of_scope_uses:
        uses += " Not meant for: " + stated(card.out_of_scope_uses)
    intended = {
        "purpose_of_model": _text(stated(card.intended_use), 2048),
        "intended_uses": _text(uses, 2048),
        "factors_affecting_model_efficiency": _text(drift_sentence(facts), 2048),
        "risk_rating": RISK_RATINGS[card.risk_rating],
    }
    if card.risk_rating_reason:
        intended["explanations_for_risk_rating"] = _text(card.risk_rating_reason, 2048)
    custom = {
        "owner_contact": card.contact,
        "cost": cost_sentence(facts),
        "generated_at": facts.generated_at,
    }
    return {
        "model_overview": overview,
        "intended_uses": intended,
        "training_details": _training(facts),
        "evaluation_details": [e for e in (_held_out(facts), _current(facts)) if e is not None],
        "additional_information": {
            "ethical_considerations": _text(stated(card.ethical_considerations), 2048),
            "caveats_and_recommendations": _text(stated(card.limitations), 2048),
            "custom_details": {k: _text(v, 1024) for k, v in custom.items() if v},
        },
    }


def validate_content(content: dict[str, Any]) -> None:
    """Refuse content SageMaker's schema (or CreateModelCard's size limit) would refuse."""
    import jsonschema

    validator = jsonschema.Draft7Validator(model_card_schema())
    problems = [
        f"{'.'.join(map(str, error.absolute_path)) or '(content)'}: {error.message[:200]}"
        for error in validator.iter_errors(content)
    ]
    size = len(json.dumps(content))
    if size > CONTENT_LIMIT:
        problems.append(f"(content): {size} characters, more than {CONTENT_LIMIT}")
    if problems:
        raise SageMakerCardError("SageMaker model card content is invalid: " + "; ".join(problems))

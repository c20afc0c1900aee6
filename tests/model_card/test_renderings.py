"""The three renderings of the card: Hugging Face Markdown, a self-contained HTML page, and
SageMaker model card content valid under SageMaker's own schema."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cirrus.model_card.command import model_card
from cirrus.model_card.facts import CardFacts, gather_facts
from cirrus.model_card.render_html import render_html
from cirrus.model_card.render_markdown import render_markdown
from cirrus.model_card.sagemaker import (
    SageMakerCardError,
    model_card_schema,
    sagemaker_content,
    validate_content,
)
from cirrus.parameters import ModelCardParams
from cirrus.serving.artifacts import load_project

SVG_NAMESPACE = "http://www.w3.org/2000/svg"


@pytest.fixture(scope="module")
def facts(trained_project: Path) -> CardFacts:
    """The card's facts of the shared trained project."""
    project = load_project(trained_project, None)
    return gather_facts(project.catalog, project.params, trained_project)


def unstated(facts: CardFacts) -> CardFacts:
    """The same facts with nothing stated by the owners."""
    return facts.model_copy(update={"stated": ModelCardParams()})


def front_matter(markdown: str) -> dict:
    """The YAML front matter of a Markdown card."""
    match = re.match(r"---\n(.*?)\n---\n", markdown, re.DOTALL)
    assert match, "no YAML front matter"
    return yaml.safe_load(match.group(1))


def test_markdown_front_matter_is_a_hugging_face_model_index(facts: CardFacts) -> None:
    meta = front_matter(render_markdown(facts))

    assert meta["license"] == "other" and meta["library_name"] == "lightgbm"
    assert "tabular-classification" in meta["tags"]
    [entry] = meta["model-index"]
    assert entry["name"] == facts.name
    [result] = entry["results"]
    assert result["task"]["type"] == "tabular-classification"
    assert {"name", "type"} <= set(result["dataset"])
    metrics = {m["type"]: m for m in result["metrics"]}
    assert set(metrics) == {m.name for m in facts.metrics}
    assert metrics["roc_auc"]["value"] == pytest.approx(facts.metrics[0].model, abs=1e-6)
    assert all(isinstance(m["value"], float) and m["name"] for m in metrics.values())


@pytest.mark.skipif(
    importlib.util.find_spec("huggingface_hub") is None,
    reason="huggingface_hub is not installed: the model-index is checked with PyYAML only",
)
def test_hugging_face_reads_the_markdown_card(facts: CardFacts) -> None:
    from huggingface_hub import ModelCard

    card = ModelCard(render_markdown(facts))

    results = card.data.eval_results
    assert card.data.library_name == "lightgbm"
    assert {r.metric_type for r in results} == {m.name for m in facts.metrics}
    assert {r.task_type for r in results} == {"tabular-classification"}


def test_markdown_states_the_verdicts_and_says_not_stated_for_what_owners_left_out(
    facts: CardFacts,
) -> None:
    full, empty = render_markdown(facts), render_markdown(unstated(facts))

    assert "**Owner:** Credit Risk Analytics team" in full
    assert facts.drift_verdict and facts.drift_verdict in full
    assert "An application is flagged as likely to default" in full
    for label in ("Intended use", "Owner"):
        assert f"**{label}:** not stated" in empty
    assert "**Risk rating (how much harm a wrong decision can do):** not stated" in empty
    assert "Limitations:\n\n- not stated" in empty
    assert "No sensitive attributes declared" in empty
    assert "A row is flagged as positive (defaulted = 1)" in empty


def test_sagemaker_content_is_valid_under_the_vendored_schema(facts: CardFacts) -> None:
    content = sagemaker_content(facts)

    validate_content(content)  # raises on any schema violation
    assert model_card_schema()["title"] == "SageMakerModelCardSchema"
    assert content["intended_uses"]["risk_rating"] == "High"
    assert content["model_overview"]["model_owner"] == "Credit Risk Analytics team"
    held_out = content["evaluation_details"][0]
    groups = {g["name"]: g for g in held_out["metric_groups"]}
    assert {"Model", "Trivial baseline", "ROC curve", "Groups by age"} <= set(groups)
    roc_auc = next(m for m in groups["Model"]["metric_data"] if m["name"] == "ROC AUC")
    assert roc_auc["value"] == facts.metrics[0].model
    assert held_out["metadata"]["decision_threshold"] == f"{facts.threshold.value:g}"
    assert sagemaker_content(unstated(facts))["intended_uses"]["risk_rating"] == "Unknown"
    validate_content(sagemaker_content(unstated(facts)))


def test_content_outside_the_schema_is_refused_naming_the_key(facts: CardFacts) -> None:
    content = sagemaker_content(facts)
    content["intended_uses"]["risk_rating"] = "Severe"

    with pytest.raises(SageMakerCardError, match=r"intended_uses\.risk_rating: 'Severe'"):
        validate_content(content)


def test_html_is_self_contained_and_escapes_what_owners_type(facts: CardFacts) -> None:
    owner = '<script>alert("x")</script> Risk & Models'
    stated = facts.stated.model_copy(update={"owner": owner})

    page = render_html(facts.model_copy(update={"stated": stated}))

    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Risk &amp; Models" in page
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {SVG_NAMESPACE}
    assert not re.search(r"\s(src|href)=", page)
    assert page.count("<svg") == 2  # the bar chart and the ROC curve


def test_the_command_writes_the_three_renderings(
    trained_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(trained_project)
    out = tmp_path / "card"

    result = CliRunner().invoke(model_card, ["--out", str(out)])

    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "model_card.html",
        "model_card.md",
        "sagemaker_model_card.json",
    ]
    validate_content(json.loads((out / "sagemaker_model_card.json").read_text()))
    assert front_matter((out / "model_card.md").read_text())["library_name"] == "lightgbm"

"""`kedro cirrus model-card`: write the model card of the last run in three renderings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # the card's modules load when the command runs, not when the CLI starts
    from cirrus.model_card.facts import CardFacts

DEFAULT_OUT = "data/08_reporting/model_card"
MARKDOWN, HTML, SAGEMAKER = "model_card.md", "model_card.html", "sagemaker_model_card.json"


def write_card(facts: CardFacts, out: str) -> list[str]:
    """Render the card as Markdown, HTML and SageMaker content under `out` (a path or URL)."""
    import fsspec

    from cirrus.model_card.render_html import render_html
    from cirrus.model_card.render_markdown import render_markdown
    from cirrus.model_card.sagemaker import sagemaker_content, validate_content

    content = sagemaker_content(facts)
    validate_content(content)  # before anything is written: no half-updated card
    files = {
        MARKDOWN: render_markdown(facts),
        HTML: render_html(facts),
        SAGEMAKER: json.dumps(content, indent=2, ensure_ascii=False) + "\n",
    }
    fs, root = fsspec.core.url_to_fs(out)
    fs.makedirs(root, exist_ok=True)
    written = []
    for name, text in files.items():
        path = f"{root.rstrip('/')}/{name}"
        fs.pipe_file(path, text.encode("utf-8"))
        written.append(f"{out.rstrip('/')}/{name}")
    return written


@click.command("model-card")
@click.option("--env", "env", default=None, help="Config environment (e.g. cloud).")
@click.option(
    "--out",
    default=DEFAULT_OUT,
    show_default=True,
    help="Folder (path or fsspec URL) the three renderings are written to.",
)
def model_card(env: str | None, out: str) -> None:
    """Write the model card of the last run: Markdown (Hugging Face metadata), a self-contained
    HTML page and Amazon SageMaker model card content, from the run's outputs and the
    `model_card` parameters (conf/base/parameters_model_card.yml)."""
    from cirrus.model_card.facts import gather_facts
    from cirrus.serving.artifacts import load_project

    root = Path.cwd()
    project = load_project(root, env)
    facts = gather_facts(project.catalog, project.params, root)
    for path in write_card(facts, out):
        click.echo(f"Wrote {path}")
    missing = facts.stated.missing_for_production()
    if missing:
        click.echo(
            f"The card does not state {', '.join(missing)} (conf/base/parameters_model_card.yml): "
            "promotion will refuse this model until it does.",
            err=True,
        )

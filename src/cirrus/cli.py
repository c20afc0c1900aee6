"""Project commands, available as `kedro cirrus ...` inside the project."""

from __future__ import annotations

import os
from pathlib import Path

import click
import yaml

from cirrus.deploy.export import BUILD_DIR, TARGETS
from cirrus.parameters import ConfigError
from cirrus.versioning.dvc_yaml import (
    DVC_FILE,
    DvcGenerationError,
    build_dvc_config,
    describe_differences,
    render,
)
from cirrus.versioning.project_view import load_project_view


@click.group(name="cirrus-project")
def cli() -> None:
    """Cirrus project commands."""


@cli.group()
def cirrus() -> None:
    """Cirrus: DVC stages, model promotion and cloud exports."""


@cirrus.command("dvc-yaml")
@click.option("--check", is_flag=True, help="Fail, listing differences, when dvc.yaml is stale.")
def dvc_yaml(check: bool) -> None:
    """Generate dvc.yaml from the pipelines and conf/base/catalog.yml."""
    root = Path.cwd()
    try:
        config = build_dvc_config(load_project_view(root))
    except DvcGenerationError as error:
        raise click.ClickException(str(error)) from None
    target = root / DVC_FILE
    if not check:
        target.write_text(render(config))
        click.echo(f"Wrote {DVC_FILE} with {len(config['stages'])} stages.")
        return
    committed = yaml.safe_load(target.read_text()) if target.exists() else {}
    problems = describe_differences(config, committed)
    if problems or (target.exists() and target.read_text() != render(config)):
        details = "\n".join(f"  - {p}" for p in problems) or "  - formatting or header differs"
        raise click.ClickException(
            f"{DVC_FILE} is stale; run `kedro cirrus dvc-yaml` and commit it:\n{details}"
        )
    click.echo(f"{DVC_FILE} is up to date.")


@cirrus.command("promote")
@click.option("--ref", default="HEAD", show_default=True, help="Git ref of the challenger.")
def promote_model(ref: str) -> None:
    """Promote the model at REF to the registry stage if it beats the champion."""
    from cirrus.versioning.project_view import committed_config
    from cirrus.versioning.promotion import parse_promotion, promote

    root = Path.cwd()
    params = parse_promotion(committed_config(root)["parameters"].get("registry"))
    try:
        decision, version = promote(root, params, ref)
    except (FileNotFoundError, KeyError, ConfigError) as error:
        raise click.ClickException(str(error)) from None
    if version is None:
        raise click.ClickException(f"Not promoted: {decision.reason}.")
    click.echo(f"Promoted {params.artifact}@{version} to '{params.stage}': {decision.reason}.")


@cirrus.command("export")
@click.argument("targets", nargs=-1, required=True, type=click.Choice([*TARGETS, "all"]))
@click.option("--env", "env", default="cloud", show_default=True, help="Config environment.")
@click.option("--out", "out", default=BUILD_DIR, show_default=True, help="Build folder.")
def export_workflows(targets: tuple[str, ...], env: str, out: str) -> None:
    """Export the pipelines to cloud runners, from conf/base/deploy.yml and conf/<env>/."""
    from cirrus.deploy.cloud_project import load_plan
    from cirrus.deploy.export import export

    root = Path.cwd()
    chosen = list(TARGETS) if "all" in targets else list(dict.fromkeys(targets))
    try:
        plan = load_plan(root, env)
        for target in chosen:
            written = export(target, plan, root / out / target)
            names = ", ".join(os.path.relpath(path, root) for path in written)
            click.echo(f"{target}: {len(plan.steps)} steps -> {names}")
    except ConfigError as error:
        raise click.ClickException(str(error)) from None

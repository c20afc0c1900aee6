"""`kedro cirrus cost`: what a run and 1,000 predictions cost on AWS, GCP and Azure."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click
from kedro.config import MissingConfigException
from pydantic import ValidationError

from cirrus.cost.model import (
    NO_SPOT,
    CostError,
    CostReport,
    build_report,
    scaled_usage,
    stale_warning,
)
from cirrus.cost.prices import CLOUDS, load_prices
from cirrus.deploy.cloud_project import cloud_config
from cirrus.deploy.deploy_yml import DEPLOY_KEY, DeployConfig, parse_deploy
from cirrus.deploy.plan import step_name
from cirrus.runs.record import RunRecord

RUN_RECORD = "run_record"
DEFAULT_OUT = "data/08_reporting/cost.json"
# One worker of `kedro cirrus serve` answered 200 one-row requests/s with no error, p99 5.3 ms
# (benchmarks/bench_serving.py on 2 cores: the "Serving" table of benchmarks/README.md).
DEFAULT_PREDICTIONS_PER_SECOND = 200.0


def read_record(path: Path) -> RunRecord:
    """A run record from its JSON file."""
    try:
        return RunRecord.model_validate_json(path.read_bytes())
    except ValidationError as error:
        raise CostError(f"{path} is not a run record: {error.errors()[0]['msg']}") from None


def catalog_record(root: Path, env: str | None) -> RunRecord:
    """The run record the catalog's `run_record` entry holds."""
    from cirrus.serving.artifacts import load_project

    catalog = load_project(root, env).catalog
    if RUN_RECORD not in catalog:
        raise CostError(f"The catalog has no `{RUN_RECORD}` entry: pass --record FILE")
    if not catalog.exists(RUN_RECORD):
        raise CostError(
            f"No run record yet (catalog `{RUN_RECORD}`)",
            hint="Run `kedro run` to record one, or pass --record FILE.",
        )
    loaded = catalog.load(RUN_RECORD)
    return loaded if isinstance(loaded, RunRecord) else RunRecord.model_validate(loaded)


def deploy_config(root: Path, env: str | None) -> DeployConfig:
    """deploy.yml of conf/base, overlaid by conf/<env>."""
    try:
        declared = cloud_config(root, env or "local")[DEPLOY_KEY].get(DEPLOY_KEY)
    except MissingConfigException:
        declared = None
    return parse_deploy(declared)


def usd(value: float | None, places: int = 5) -> str:
    """A dollar amount, or a dash when unknown."""
    if value is None:
        return "-"
    return f"{'-' if value < 0 else ''}${abs(value):.{places}f}"


def render(report: CostReport) -> list[str]:
    """The report as a few plain tables."""
    size = f"{report.rows:,} rows" if report.rows else "as recorded"
    lines = [f"Cost of one run ({size}), USD; prices read {report.price_table_read_on} or later."]
    for step in report.steps:
        capacity = "spot" if step.spot else "on-demand"
        if step.peak_memory_gib > step.requested_memory_gib:
            capacity += " (below the measured peak: a negative saving is the raise it needs)"
        lines += [
            "",
            f"{step.step}: wall {step.wall_seconds:.1f} s, CPU {step.cpu_seconds:.1f} s, peak "
            f"{step.peak_memory_gib:.2f} GiB; requests {step.requested_cpu:g} CPU, "
            f"{step.requested_memory_gib:g} GiB, {capacity}",
            f"  {'cloud':<6} {'instance':<17}{'on-demand':>10}  {'spot':<28} "
            f"{'recommended':<17}{'cost':>10}{'saving':>10}  basis",
        ]
        for cloud, c in step.clouds.items():
            spot = f"{usd(c.spot_usd)} {c.spot_instance_type}" if c.spot_instance_type else NO_SPOT
            lines.append(
                f"  {cloud:<6} {c.instance_type:<17}{usd(c.on_demand_usd):>10}  {spot:<28} "
                f"{c.recommended_instance_type:<17}{usd(c.recommended_usd):>10}"
                f"{usd(c.saving_usd):>10}  {c.basis.replace('_', '-')}"
            )
    monthly = report.runs_per_month
    period = f"saving/month ({monthly:.2f} runs)" if monthly else "saving/100 runs"
    lines += [
        "",
        f"Per run  {'on-demand':>10}{'spot':>10}{'declared':>10}{'recommended':>12}"
        f"{'saving':>10}  {period}",
    ]
    for cloud, run in report.per_run.items():
        saving = report.savings[cloud]
        later = saving.saving_per_month_usd if monthly else saving.saving_usd * 100
        lines.append(
            f"  {cloud:<6} {usd(run.on_demand_usd):>10}{usd(run.spot_usd):>10}"
            f"{usd(saving.current_usd):>10}{usd(saving.recommended_usd):>12}"
            f"{usd(saving.saving_usd):>10}  {usd(later)}"
        )
    lines += ["", "Serving, per 1,000 predictions (see the assumptions):"]
    for cloud, price in report.per_1000_predictions.items():
        on = report.serving_instances[cloud]
        spot = (
            f"spot {usd(price.spot_usd, 6)} on {on.spot_instance_type}"
            if on.spot_instance_type
            else NO_SPOT
        )
        lines.append(
            f"  {cloud:<6} {on.instance_type:<17} on-demand {usd(price.on_demand_usd, 6)}; {spot}"
        )
    return [*lines, "", "Assumptions:", *(f"  - {line}" for line in report.assumptions)]


@click.command("cost")
@click.option(
    "--record",
    "records",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A run record JSON (default: the catalog's run_record); twice, with --rows, to scale.",
)
@click.option("--rows", type=click.IntRange(min=1), help="Price a run of this many rows.")
@click.option("--headroom", default=0.5, show_default=True, type=click.FloatRange(min=0))
@click.option(
    "--predictions-per-second",
    default=DEFAULT_PREDICTIONS_PER_SECOND,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="What one serving pod answers (default: benchmarks/README.md, Serving).",
)
@click.option("--max-price-age-days", default=180, show_default=True, type=click.IntRange(0))
@click.option("--out", default=DEFAULT_OUT, show_default=True, type=click.Path(path_type=Path))
@click.option("--env", "env", default=None, help="Config environment (deploy.yml, catalog).")
def cost(
    records: tuple[Path, ...],
    rows: int | None,
    headroom: float,
    predictions_per_second: float,
    max_price_age_days: int,
    out: Path,
    env: str | None,
) -> None:
    """Price each deploy step of a run on AWS, GCP and Azure, and 1,000 predictions served.

    Per step: the instance deploy.yml requests, on-demand and spot, and the cheapest one whose
    memory covers the measured peak plus --headroom. Compute only (no storage, network or request
    costs). Prints tables and writes the figures as JSON to --out.
    """
    root = Path.cwd()
    deploy = deploy_config(root, env)
    # The steps a workflow runs: a record also keeps, say, the last `--pipelines inference` run.
    loaded = [
        record.for_steps(deploy.pipelines)
        for record in [read_record(path) for path in records] or [catalog_record(root, env)]
    ]
    if not any(record.nodes for record in loaded):
        raise CostError(
            f"The run record holds none of deploy.yml's steps ({', '.join(deploy.pipelines)}): "
            "run them first (`kedro run`)"
        )
    usage, scaling = scaled_usage(loaded, rows)
    report = build_report(
        usage,
        {step: deploy.resources_for(step_name(step)) for step in usage},
        deploy.targets.kubernetes.serving.requests,
        load_prices(),
        headroom=headroom,
        predictions_per_second=predictions_per_second,
        schedule=deploy.schedule,
        rows=rows,
        scaling=scaling,
    )
    for line in render(report):
        click.echo(line)
    warning = stale_warning(report.price_table_read_on, date.today(), max_price_age_days)
    if warning:
        click.echo(warning, err=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
    click.echo(f"Wrote {out} ({', '.join(CLOUDS)}).")

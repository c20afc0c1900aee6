"""Project commands: `kedro cirrus ...`, and `kedro run` with readable errors.

Kedro takes the project's `cli` group before its own commands, so the `run` defined here replaces
Kedro's: the same options, help and behaviour (it calls Kedro's own command), except that an
error of a known kind (a `cirrus.errors.CirrusError`, or one wrapped by Kedro or OmegaConf) ends
the run with its message and hint instead of a traceback. The `kedro cirrus` commands do the same.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import yaml
from kedro.framework.cli.project import run as kedro_run

from cirrus.config_reference import REFERENCE_FILE, render_reference
from cirrus.cost.command import cost
from cirrus.deploy.export import BUILD_DIR, TARGETS
from cirrus.errors import (
    TRACEBACK_ENV,
    KnownErrorLogFilter,
    hint_of,
    message_of,
    readable_error,
    traceback_requested,
)
from cirrus.model_card.command import model_card
from cirrus.results import MonitoringSummary
from cirrus.versioning.dvc_yaml import (
    DVC_FILE,
    build_dvc_config,
    describe_differences,
    render,
)
from cirrus.versioning.project_view import load_project_view

RUN_HINT = f"Run again with --verbose (or {TRACEBACK_ENV}=1) to see the full traceback."
CIRRUS_HINT = f"Set {TRACEBACK_ENV}=1 to see the full traceback."

# Kedro loggers that log an error before raising it (a failing node, an invalid parameter): while
# the CLI prints known errors itself, their records of a known error are dropped.
RESTATING_LOGGERS = ("kedro.pipeline.node", "kedro.validation.parameter_validator")


def report_known_error(error: BaseException, note: str) -> None:
    """Print a known error on stderr: `Error: <message>`, `Hint: <what to do>`, then `note`.

    Plain echo, never wrapped: piped into a CI log the message keeps its lines.
    """
    click.echo(f"Error: {message_of(error)}", err=True)
    hint = hint_of(error)
    if hint:
        click.echo(f"Hint: {hint}", err=True)
    click.secho(note, err=True, dim=True)


@contextmanager
def readable_errors(note: str, verbose: bool = False) -> Iterator[None]:
    """Report an error of a known kind by its message and hint, once, and exit 1; let anything
    else (or all, when a traceback is asked for) propagate with its traceback."""
    short = not (verbose or traceback_requested())
    log_filter = KnownErrorLogFilter()
    loggers = [logging.getLogger(name) for name in RESTATING_LOGGERS] if short else []
    for logger in loggers:
        logger.addFilter(log_filter)
    try:
        yield
    except click.exceptions.ClickException:
        raise
    except Exception as error:
        known = readable_error(error)
        if known is None or not short:
            raise
        report_known_error(known, note)
        raise click.exceptions.Exit(1) from None
    finally:
        for logger in loggers:
            logger.removeFilter(log_filter)


class ReadableErrorsGroup(click.Group):
    """A command group whose commands all report known errors by their message."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the chosen subcommand under `readable_errors`."""
        with readable_errors(CIRRUS_HINT):
            return super().invoke(ctx)


@click.group(name="cirrus-project")
def cli() -> None:
    """Cirrus project commands."""


def _run(verbose: bool, **options: Any) -> Any:
    """Kedro's own `run`, with known errors reported by their message."""
    with readable_errors(RUN_HINT, verbose):
        return click.get_current_context().invoke(kedro_run.callback, **options)


# Kedro's `run`, same options and help, plus --verbose; Kedro finds it under this name both
# in `kedro run` (the `cli` group) and in `python -m cirrus` (`find_run_command`).
run = click.Command(
    name="run",
    callback=_run,
    params=[
        *kedro_run.params,
        click.Option(
            ["--verbose"],
            is_flag=True,
            help=f"Show the full traceback when the run fails (or set {TRACEBACK_ENV}=1).",
        ),
    ],
    help=kedro_run.help,
    epilog=kedro_run.epilog,
    short_help=kedro_run.short_help,
    context_settings=kedro_run.context_settings,
)
cli.add_command(run)


@cli.group(cls=ReadableErrorsGroup)
def cirrus() -> None:
    """Cirrus: a contract from your data, DVC stages, model promotion and cloud exports."""


@cirrus.command("dvc-yaml")
@click.option("--check", is_flag=True, help="Fail, listing differences, when dvc.yaml is stale.")
def dvc_yaml(check: bool) -> None:
    """Generate dvc.yaml from the pipelines and conf/base/catalog.yml."""
    root = Path.cwd()
    config = build_dvc_config(load_project_view(root))
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


@cirrus.command("config-reference")
@click.option("--check", is_flag=True, help=f"Fail when {REFERENCE_FILE} is stale.")
def config_reference(check: bool) -> None:
    """Generate docs/configuration.md, every setting's key, type, default and description."""
    target = Path.cwd() / REFERENCE_FILE
    text = render_reference()
    if not check:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        click.echo(f"Wrote {REFERENCE_FILE}.")
        return
    if not target.exists() or target.read_text() != text:
        raise click.ClickException(
            f"{REFERENCE_FILE} is stale; run `kedro cirrus config-reference` and commit it"
        )
    click.echo(f"{REFERENCE_FILE} is up to date.")


@cirrus.command("init-contract")
@click.argument("path")
@click.option("--target", required=True, help="The column to predict.")
@click.option(
    "--task",
    type=click.Choice(["binary", "multiclass", "regression"]),
    default=None,
    help="The task; default: inferred from the target's values.",
)
@click.option(
    "--id",
    "id_column",
    default=None,
    help="The id column; default: a unique column named like an id, if there is one.",
)
@click.option(
    "--time",
    "time_column",
    default=None,
    help="The event-time column; default: the only datetime column, if there is one.",
)
@click.option(
    "--time-zone",
    "time_zone",
    default="UTC",
    show_default=True,
    help="IANA zone of the datetime columns: times with an offset are converted to it, "
    "times without one are read in it.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace the existing contract, split, feature transforms and raw catalog entries.",
)
def init_contract(
    path: str,
    target: str,
    task: str | None,
    id_column: str | None,
    time_column: str | None,
    time_zone: str,
    force: bool,
) -> None:
    """Write a working configuration for the CSV or Parquet file at PATH (any fsspec URL).

    Infers the dataset contract (conf/base/parameters_contract.yml), the reference/current
    split (conf/base/parameters_ingestion.yml), feature transforms that fit the data
    (conf/base/parameters_features.yml), threshold auto for a binary target
    (conf/base/parameters_evaluation.yml) and points raw_reference/raw_current in
    conf/base/catalog.yml at the file. The file is first checked by ingestion's own validation
    and split, as `kedro run` will read it. Existing files that would change are replaced only with
    --force; on any error nothing is changed.
    """
    from cirrus.contract_inference import write_configuration

    written = write_configuration(
        Path.cwd(),
        path,
        target,
        task=task,
        id_column=id_column,
        time_column=time_column,
        time_zone=time_zone,
        force=force,
    )
    for line in written.config.summary():
        click.echo(line)
    click.echo(f"Wrote {', '.join(written.files)}.")
    for note in written.notes:
        click.echo(note)
    for warning in written.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(
        "Check the lines marked `review:` in conf/base/parameters_contract.yml, "
        "then run `kedro run`."
    )


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
    except (FileNotFoundError, KeyError) as error:
        raise click.ClickException(message_of(error)) from None
    if version is None:
        raise click.ClickException(f"Not promoted: {decision.reason}.")
    click.echo(f"Promoted {params.artifact}@{version} to '{params.stage}': {decision.reason}.")


# `kedro cirrus monitor` exits with this code when retraining is recommended (1 is an error).
RETRAIN_EXIT_CODE = 3


def monitoring_lines(summary: MonitoringSummary) -> list[str]:
    """The monitoring verdict as a few lines a person (or a CI log) reads."""
    window, live = summary.window, summary.live_metric
    if live.live is None:
        performance = f"no outcomes to score yet (held-out {live.held_out:.4f})"
    else:
        performance = f"{live.live:.4f} live vs {live.held_out:.4f} held-out"
    return [
        f"Monitored {window['rows']} logged row(s) received {window['first_received_at']} .. "
        f"{window['last_received_at']} ({window['rows_with_outcomes']} with outcomes).",
        f"{live.name}: {performance}.",
        f"Verdict: {summary.verdict}",
    ]


@cirrus.command("monitor")
@click.option("--env", "env", default=None, help="Config environment (e.g. cloud).")
@click.option(
    "--window-days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Override monitoring.window_days (conf/base/parameters_monitoring.yml).",
)
def monitor(env: str | None, window_days: float | None) -> None:
    """Drift and live metrics on a window of the prediction log; exit 3 when retraining is due.

    Runs the monitoring pipeline (`kedro run --pipelines monitoring`), prints its verdict
    (data/08_reporting/monitoring/summary.json) and exits 0 when the model may stay, 3 when
    retraining is recommended, 1 on an error, so a scheduler or CI can act on the code.
    """
    from kedro.framework.session import KedroSession

    runtime = {"monitoring": {"window_days": window_days}} if window_days else None
    with KedroSession.create(project_path=Path.cwd(), env=env, runtime_params=runtime) as session:
        session.run(pipeline_names=["monitoring"])
        summary = session.load_context().catalog.load("monitoring_summary")
    for line in monitoring_lines(summary):
        click.echo(line)
    if summary.retrain_recommended:
        raise SystemExit(RETRAIN_EXIT_CODE)


@cirrus.command("serve")
@click.option("--env", "env", default=None, help="Config environment (e.g. cloud).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--no-auth", is_flag=True, help="Serve without a token (only on a loopback --host).")
@click.option(
    "--max-rows",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Most rows one request may hold.",
)
@click.option(
    "--reload-interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds between checks for a new model.",
)
@click.option("--access-log", is_flag=True, help="Log every request (costs latency).")
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a new connection has to send a request's headers before it is closed.",
)
@click.option(
    "--max-connections",
    default=None,
    type=click.IntRange(min=1),
    help="Open connections at most; the idlest gives way at the cap. Default: the open-file "
    "limit minus 256.",
)
def serve(
    env: str | None,
    host: str,
    port: int,
    workers: int,
    no_auth: bool,
    max_rows: int,
    reload_interval: float,
    access_log: bool,
    header_timeout: float,
    max_connections: int | None,
) -> None:
    """Serve the model as an HTTP API: POST /v1/predict, GET /v1/model, /healthz, /readyz.

    Requests are checked against the dataset contract; every endpoint but /healthz needs
    'Authorization: Bearer <token>' (CIRRUS_API_TOKEN, or api_token in
    conf/local/credentials.yml). A model the training publishes is swapped in without downtime
    once it passes a smoke prediction. Answered rows go to the prediction log, as batch scoring's.
    """
    from cirrus.serving.app import run_server
    from cirrus.serving.config import ServeOptions

    options = ServeOptions(
        project_path=str(Path.cwd()),
        env=env,
        host=host,
        port=port,
        workers=workers,
        auth=not no_auth,
        max_rows=max_rows,
        reload_interval=reload_interval,
        access_log=access_log,
        header_timeout=header_timeout,
        max_connections=max_connections,
    )
    run_server(options)


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
    plan = load_plan(root, env)
    for target in chosen:
        written = export(target, plan, root / out / target)
        names = ", ".join(os.path.relpath(path, root) for path in written)
        steps = f"{len(plan.steps)} steps"
        named = {"kubernetes-serving": "the prediction API", "terraform": "variables"}
        what = named.get(target, steps)
        click.echo(f"{target}: {what} -> {names}")


# Commands that live with their capability; each is a click command of its own.
cirrus.add_command(cost)
cirrus.add_command(model_card)

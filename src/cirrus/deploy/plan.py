"""One description of a cloud run, shared by every export target.

The pipelines and the catalog of the `cloud` environment become steps: what each step runs, which
steps it waits for (from the datasets it reads), what it needs, and where its data lives. Every
target renders this plan; none of them looks at Kedro directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kedro.io import DataCatalog
from kedro.pipeline import Pipeline

from cirrus.catalog import is_stored_input, location_of
from cirrus.deploy.deploy_yml import (
    DEPLOY_FILE,
    DeployConfig,
    DeployConfigError,
    StepResources,
    Targets,
)
from cirrus.deploy.run_id import RUN_ID_ENV
from cirrus.storage import STORAGE_ROOT_ENV

# What the image runs; a step appends its selector (`--pipelines training`). The Dockerfile's
# ENTRYPOINT is exactly this, and a test keeps the two equal.
STEP_ENTRYPOINT = ("kedro", "run", "--env", "cloud")
# The Dockerfile's WORKDIR: the project inside the image, for targets that must `cd` into it.
IMAGE_PROJECT_DIR = "/home/cirrus/app"
RUNTIME_ENV = {"KEDRO_DISABLE_TELEMETRY": "true", "PYTHONUNBUFFERED": "1"}


class PlanError(DeployConfigError):
    """The pipelines cannot run as separate cloud steps as declared."""


@dataclass(frozen=True)
class Step:
    """One unit of work on one machine: a `kedro run` of some nodes."""

    name: str
    selector: tuple[str, ...]
    depends_on: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    resources: StepResources

    @property
    def command(self) -> list[str]:
        """The full command the step's container runs."""
        return [*STEP_ENTRYPOINT, *self.selector]

    @property
    def identifier(self) -> str:
        """The name as a Python identifier, for targets that reject '-'."""
        return self.name.replace("-", "_")


@dataclass(frozen=True)
class DeploymentPlan:
    """Everything a target needs to render a workflow."""

    name: str
    image: str
    storage_root: str
    steps: tuple[Step, ...]
    schedule: str | None
    region: str | None
    service_account: str | None
    env: Mapping[str, str]
    secret_env: Mapping[str, str]
    targets: Targets = field(default_factory=Targets)

    def step(self, name: str) -> Step:
        """The step called `name`."""
        for step in self.steps:
            if step.name == name:
                return step
        raise PlanError(f"No step '{name}'; the plan has: {', '.join(self.step_names)}")

    @property
    def step_names(self) -> list[str]:
        """Step names in run order."""
        return [step.name for step in self.steps]

    @property
    def spot_steps(self) -> list[str]:
        """Steps declared for spot (preemptible, low-priority) capacity."""
        return [step.name for step in self.steps if step.resources.spot]

    @property
    def identifier(self) -> str:
        """The workflow name as a Python identifier."""
        return self.name.replace("-", "_")


def step_name(raw: str) -> str:
    """A name every target accepts: lowercase letters, digits and '-', starting with a letter."""
    name = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    return name if name[:1].isalpha() else f"step-{name}"


def _groups(
    config: DeployConfig, pipelines: Mapping[str, Pipeline]
) -> tuple[dict[str, Pipeline], dict[str, tuple[str, ...]]]:
    """The nodes of each step by the declared grouping, and the `kedro run` selector of each."""
    groups: dict[str, Pipeline] = {}
    selectors: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for pipeline_name in config.pipelines:
        for node in pipelines[pipeline_name].nodes:
            if node.name in seen:
                raise PlanError(
                    f"Node '{node.name}' is in both pipelines '{seen[node.name]}' and "
                    f"'{pipeline_name}' listed in {DEPLOY_FILE}: deploy.pipelines; list each once"
                )
            seen[node.name] = pipeline_name
            if config.grouping == "node":
                key, selector = node.name, ("--nodes", node.name)
            elif config.grouping == "namespace" and node.namespace:
                top = node.namespace.split(".")[0]
                key, selector = top, ("--namespaces", top)
            else:
                key, selector = pipeline_name, ("--pipelines", pipeline_name)
            name = step_name(key)
            groups[name] = groups.get(name, Pipeline([])) + Pipeline([node])
            selectors[name] = selector
    return groups, selectors


def _check_declared_names(config: DeployConfig, pipelines: Mapping[str, Pipeline]) -> None:
    """Pipelines listed in deploy.yml must exist."""
    unknown = [name for name in config.pipelines if name not in pipelines]
    if unknown:
        raise PlanError(
            f"{DEPLOY_FILE}: deploy.pipelines names {', '.join(repr(n) for n in unknown)}, "
            f"not a registered pipeline; expected some of: {', '.join(sorted(pipelines))}"
        )


def _check_reserved_env(config: DeployConfig) -> None:
    """The run id comes from the orchestrator: a fixed value would merge every run into one."""
    for key in ("env", "secret_env"):
        if RUN_ID_ENV in getattr(config, key):
            raise PlanError(
                f"{DEPLOY_FILE}: deploy.{key}.{RUN_ID_ENV} is set by each export to the id of the "
                "workflow execution; remove it"
            )


def _check_step_overrides(config: DeployConfig, names: list[str]) -> None:
    """Every step under `deploy.steps` must be a step of the plan."""
    unknown = [name for name in config.steps if name not in names]
    if unknown:
        raise PlanError(
            f"{DEPLOY_FILE}: deploy.steps.{unknown[0]} is not a step of this plan "
            f"(grouping '{config.grouping}'); the steps are: {', '.join(names)}"
        )


def _why_not_shared(catalog: DataCatalog, name: str, storage_root: str) -> str | None:
    """Why a dataset cannot cross steps in the cloud, or None when it can."""
    path = location_of(catalog, name)
    if path is None:
        return "it would be held in memory, which a separate machine cannot read"
    local_root = storage_root.removeprefix("file://")
    if "://" not in path and not path.startswith(local_root):
        return f"it is a local file ({path}), not under the storage root {storage_root}"
    return None


def _check_storage(groups: Mapping[str, Pipeline], catalog: DataCatalog, storage_root: str) -> None:
    """Refuse any dataset read or written by a step that a cloud machine could not reach."""
    for name, pipeline in groups.items():
        external = {d for d in pipeline.inputs() if is_stored_input(d)}
        for dataset in sorted(external | pipeline.all_outputs()):
            problem = _why_not_shared(catalog, dataset, storage_root)
            if problem:
                raise PlanError(
                    f"Dataset '{dataset}' of step '{name}' cannot be used across cloud steps: "
                    f"{problem}. Declare it in conf/base/catalog.yml under "
                    "${globals:data_root}/ (or change deploy.grouping)"
                )


def _dependencies(groups: Mapping[str, Pipeline]) -> dict[str, tuple[str, ...]]:
    """Step B waits for step A when B reads a dataset A writes."""
    producers = {out: name for name, p in groups.items() for out in p.all_outputs()}
    needed = {
        name: {producers[d] for d in p.inputs() if producers.get(d, name) != name}
        for name, p in groups.items()
    }
    return {name: tuple(n for n in groups if n in needed[name]) for name in groups}


def _run_order(depends_on: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Steps sorted so each comes after what it waits for; declared order breaks ties."""
    order: list[str] = []
    pending = list(depends_on)
    while pending:
        ready = [s for s in pending if all(d in order for d in depends_on[s])]
        if not ready:
            raise PlanError(f"Steps wait on each other in a cycle: {', '.join(pending)}")
        order.append(ready[0])
        pending.remove(ready[0])
    return order


def build_plan(
    config: DeployConfig,
    pipelines: Mapping[str, Pipeline],
    catalog: DataCatalog,
    storage_root: str,
) -> DeploymentPlan:
    """Turn the pipelines, the cloud catalog and deploy.yml into steps with dependencies."""
    _check_declared_names(config, pipelines)
    _check_reserved_env(config)
    groups, selectors = _groups(config, pipelines)
    _check_step_overrides(config, list(groups))
    _check_storage(groups, catalog, storage_root)
    depends_on = _dependencies(groups)
    steps = tuple(
        Step(
            name=name,
            selector=selectors[name],
            depends_on=depends_on[name],
            inputs=tuple(sorted(d for d in groups[name].inputs() if is_stored_input(d))),
            outputs=tuple(sorted(groups[name].all_outputs())),
            resources=config.resources_for(name),
        )
        for name in _run_order(depends_on)
    )
    return DeploymentPlan(
        name=config.name,
        image=config.image,
        storage_root=storage_root,
        steps=steps,
        schedule=config.schedule,
        region=config.region,
        service_account=config.service_account,
        env={**RUNTIME_ENV, **config.env, STORAGE_ROOT_ENV: storage_root},
        secret_env=dict(config.secret_env),
        targets=config.targets,
    )

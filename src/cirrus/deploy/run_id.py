"""The id of one workflow execution, shared by all its steps, and the labels that carry it.

Each exported step is its own `kedro run`. The steps of one execution belong to one run record
when they all read the same id, so every target hands them the orchestrator's own id of the
execution in RUN_ID_ENV, written as the platform's runtime placeholder (RUN_ID_SOURCES). Where
the platform offers no placeholder but sets the id itself in every step's environment (Azure ML),
the export sets nothing and the step reads the platform's variable: RUN_ID_FALLBACK_ENVS, in
order, when RUN_ID_ENV is unset.

Steps also carry RUN_ID_LABEL, PIPELINE_LABEL and STEP_LABEL as labels or tags where the platform
allows them, so the bill can be grouped by run; docs/deploy-to-your-cloud.md says, per cloud, how
the bill is matched to a run where a label cannot hold the id.

This module imports nothing beyond the standard library: the run-record code reads it in every
`kedro run`, where no orchestrator SDK is installed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

RUN_ID_ENV = "CIRRUS_RUN_ID"

RUN_ID_LABEL = "cirrus-run-id"
PIPELINE_LABEL = "cirrus-pipeline"
STEP_LABEL = "cirrus-step"

# Kubernetes label values (and GCP's, which allow no more): 63 characters, alphanumeric at both
# ends. Deploy and step names are lowercase already; only their length can exceed the limit.
LABEL_VALUE_MAX = 63
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


@dataclass(frozen=True)
class RunIdSource:
    """How one target gives its steps the execution's id."""

    placeholder: str | None
    """What the export writes as RUN_ID_ENV's value, resolved by the platform at run time
    (SageMaker: the path of the `Get` expression); None when the platform has no placeholder."""
    fallback_env: str | None
    """A variable the platform itself sets to the execution's id in every step, or None."""


RUN_ID_SOURCES: dict[str, RunIdSource] = {
    # Argo global variable, substituted in the container's env and the pod's labels.
    "argo": RunIdSource("{{workflow.uid}}", None),
    # kfp's dsl.PIPELINE_JOB_ID_PLACEHOLDER, passed as a component argument (resolved there).
    "vertex": RunIdSource("{{$.pipeline_job_uuid}}", None),
    # ExecutionVariables.PIPELINE_EXECUTION_ID in the processing job's Environment.
    "sagemaker": RunIdSource("Execution.PipelineExecutionId", None),
    # Expressions cannot reach environment_variables (`${{name}}` is the step's own job name
    # and works in output paths only); Azure ML sets the pipeline job's name in every step.
    "azureml": RunIdSource(None, "AZUREML_ROOT_RUN_ID"),
    # Jinja in the templated env of both operators; BashOperator also exports the context.
    "airflow": RunIdSource("{{ run_id }}", "AIRFLOW_CTX_DAG_RUN_ID"),
}

RUN_ID_FALLBACK_ENVS: tuple[str, ...] = tuple(
    source.fallback_env for source in RUN_ID_SOURCES.values() if source.fallback_env
)


def run_id_env(target: str) -> dict[str, str]:
    """RUN_ID_ENV set to the target's placeholder, or nothing where the platform sets the id."""
    placeholder = RUN_ID_SOURCES[target].placeholder
    return {RUN_ID_ENV: placeholder} if placeholder else {}


def label_value(text: str) -> str:
    """A name as a label value: unchanged when it fits, else shortened with a hash kept unique."""
    if len(text) <= LABEL_VALUE_MAX:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: LABEL_VALUE_MAX - len(digest) - 1].rstrip('-_.')}-{digest}"


def static_labels(pipeline: str, step: str | None = None) -> dict[str, str]:
    """The labels known at export time: the deploy name and, for one step, the step's name."""
    labels = {PIPELINE_LABEL: label_value(pipeline)}
    if step is not None:
        labels[STEP_LABEL] = label_value(step)
    return labels

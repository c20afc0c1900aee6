"""SageMaker Pipelines: the plan as a pipeline definition built with the sagemaker SDK (v2).

Each step is one processing job (a `ProcessingStep` of a generic `Processor`) on the project
image: its command as the container entrypoint, the plan's env vars, one instance of the smallest
ml.* type that fits the step (or `deploy.targets.sagemaker.instance_types.<step>`), its timeout as
the job's MaxRuntimeInSeconds and `DependsOn` from the plan. Steps exchange data only through the
storage root, so the jobs have no processing inputs or outputs.

The definition is built offline: a `PipelineSession` on a boto3 session with placeholder
credentials, a default bucket and the SDK config given here (the SDK's config files are not read),
and a hook that fails any AWS request the SDK might try. Nothing is uploaded: the jobs have no code
or data for the SDK to stage.

Spot: managed spot exists only for training jobs (CreateTrainingJob EnableManagedSpotTraining);
CreateProcessingJob has no capacity-type setting in the SageMaker API, so steps declared `spot` run
on demand. The step and pipeline descriptions say so.

Retries: a retry policy can only match SageMaker's retryable exception types (service faults,
throttling, job internal errors, capacity errors, resource limits). A job whose container exits
with an error is not retried by SageMaker Pipelines.

Secrets: processing jobs cannot bind a secret to an environment variable, and their Environment is
shown in clear by the API. When the plan has `secret_env`, the entrypoint is a short Python launcher
that reads each secret from AWS Secrets Manager with the job's role (which then needs
secretsmanager:GetSecretValue) and then execs the step's command.

Run id: every job's Environment sets CIRRUS_RUN_ID to the execution variable PipelineExecutionId
(`{"Get": "Execution.PipelineExecutionId"}`, resolved when the job starts). Tags are static: each
job carries cirrus-pipeline and cirrus-step, the pipeline cirrus-pipeline. The execution's id
reaches the bill another way: SageMaker names each job `pipelines-<execution id>-<step>-...` and
tags it `sagemaker:pipeline-execution-arn` (the execution's ARN, which ends in the id).

Schedule: SageMaker pipelines are started on a schedule by an EventBridge rule; schedule.json is
the PutRule request (the cron in EventBridge's six-field form, UTC) and schedule-targets.json the
PutTargets request that starts the pipeline with `schedule_role_arn` (or `role_arn`), a role
EventBridge may assume (trusts events.amazonaws.com, allows sagemaker:StartPipelineExecution).

Deploying the files, from this folder:

    aws sagemaker create-pipeline --cli-input-json file://create-pipeline.json \
        --pipeline-definition file://pipeline.json
    aws events put-rule --cli-input-json file://schedule.json
    aws events put-targets --cli-input-json file://schedule-targets.json
"""

# ruff: noqa: E402
from __future__ import annotations

import json
import logging
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

# Importing the SDK announces its v2 -> v3 migration (v3 cannot be installed beside pyarrow 26),
# and builds a default session that logs, at INFO, each SDK config file it did not find; this
# export passes its own SDK config instead. Both are set before the imports below (hence E402).
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
logging.getLogger("sagemaker.config").setLevel(logging.WARNING)

import boto3
import botocore.model
import botocore.session
from sagemaker.processing import Processor
from sagemaker.workflow.entities import PipelineVariable
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.retry import (
    RetryPolicy,
    SageMakerJobExceptionTypeEnum,
    SageMakerJobStepRetryPolicy,
    StepExceptionTypeEnum,
    StepRetryPolicy,
)
from sagemaker.workflow.steps import ProcessingStep

from cirrus.deploy.deploy_yml import DEPLOY_FILE
from cirrus.deploy.plan import DeploymentPlan, PlanError, Step
from cirrus.deploy.run_id import RUN_ID_ENV, static_labels

logger = logging.getLogger(__name__)

DEFINITION_FILE = "pipeline.json"
CREATE_REQUEST_FILE = "create-pipeline.json"
SCHEDULE_RULE_FILE = "schedule.json"
SCHEDULE_TARGETS_FILE = "schedule-targets.json"
TARGET_KEY = "deploy.targets.sagemaker"
# Used when neither targets.sagemaker.region nor the shared region is set.
DEFAULT_REGION = "us-east-1"
# The SDK's own config, passed explicitly so that files in ~/.config/sagemaker never change the
# exported definition.
SDK_CONFIG = {"SchemaVersion": "1.0"}
VOLUME_SIZE_GB = 30
# Names the secrets for the launcher; the values never appear in the definition.
SECRET_ENV_VAR = "CIRRUS_SECRET_ENV"
# Runs in the job's container as `python -c SECRET_LAUNCHER <command...>`: puts each secret in the
# environment, then replaces itself with the command. One terse line: the API allows 256
# characters per entrypoint item and its pattern `.*` no line break. It needs only botocore, which
# the image has for S3 (s3fs, dvc-s3).
SECRET_LAUNCHER = ";".join(
    (
        "import json,os,sys,botocore.session as b",
        "e=os.environ",
        "c=b.Session().create_client('secretsmanager')",
        "e.update({k:c.get_secret_value(SecretId=v)['SecretString']"
        f" for k,v in json.loads(e.pop('{SECRET_ENV_VAR}')).items()}})",
        "os.execvp(sys.argv[1],sys.argv[1:])",
    )
)
# What a step's `retries` applies to: the pipeline service's own faults (retried by default; a
# policy sets how often) and SageMaker's retryable job errors, whose capacity and quota causes
# need minutes, not seconds, to clear.
STEP_EXCEPTIONS = [StepExceptionTypeEnum.SERVICE_FAULT, StepExceptionTypeEnum.THROTTLING]
JOB_EXCEPTIONS = [
    SageMakerJobExceptionTypeEnum.INTERNAL_ERROR,
    SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
    SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT,
]
JOB_RETRY_INTERVAL_SECONDS = 60
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# One item of a cron field both forms share: `*`, `5`, `1-5`, `JAN-MAR`, each with an optional /n.
CRON_ITEM = re.compile(r"(\*|\d{1,2}(-\d{1,2})?|[A-Za-z]{3}(-[A-Za-z]{3})?)(/\d{1,2})?")


@dataclass(frozen=True)
class InstanceType:
    """One ml.* instance type: vCPUs, memory (GiB) and NVIDIA T4 GPUs."""

    name: str
    cpu: int
    memory_gb: int
    gpu: int = 0

    def fits(self, cpu: float, memory_gb: float, gpu: int) -> bool:
        """Whether a step's request fits this type (nominal sizes; the job gets a bit less)."""
        return self.cpu >= cpu and self.memory_gb >= memory_gb and self.gpu >= gpu


# Cheapest first: a step gets the first type that fits. r5 doubles m5's memory per vCPU.
CPU_INSTANCE_TYPES = (
    InstanceType("ml.m5.large", 2, 8),
    InstanceType("ml.r5.large", 2, 16),
    InstanceType("ml.m5.xlarge", 4, 16),
    InstanceType("ml.r5.xlarge", 4, 32),
    InstanceType("ml.m5.2xlarge", 8, 32),
    InstanceType("ml.r5.2xlarge", 8, 64),
    InstanceType("ml.m5.4xlarge", 16, 64),
    InstanceType("ml.r5.4xlarge", 16, 128),
)
GPU_INSTANCE_TYPES = (
    InstanceType("ml.g4dn.xlarge", 4, 16, 1),
    InstanceType("ml.g4dn.2xlarge", 8, 32, 1),
    InstanceType("ml.g4dn.4xlarge", 16, 64, 1),
    InstanceType("ml.g4dn.8xlarge", 32, 128, 1),
    InstanceType("ml.g4dn.12xlarge", 48, 192, 4),
)


@cache
def service_model(service: str) -> botocore.model.ServiceModel:
    """The API model botocore ships for an AWS service (read from disk, no request)."""
    return botocore.session.get_session().get_service_model(service)


def processing_instance_types() -> tuple[str, ...]:
    """Every instance type CreateProcessingJob accepts, by the SageMaker API model."""
    return tuple(service_model("sagemaker").shape_for("ProcessingInstanceType").enum)


def _check_instance_overrides(plan: DeploymentPlan) -> None:
    """Per-step instance types must name a step and a type processing jobs accept."""
    allowed = processing_instance_types()
    for step_name, chosen in plan.targets.sagemaker.instance_types.items():
        where = f"{DEPLOY_FILE}: {TARGET_KEY}.instance_types.{step_name}"
        if step_name not in plan.step_names:
            raise PlanError(f"{where}: no such step; the steps are {', '.join(plan.step_names)}")
        if chosen not in allowed:
            raise PlanError(
                f"{where}: '{chosen}' is not a processing instance type (e.g. ml.m5.xlarge)"
            )


def instance_type(step: Step, overrides: dict[str, str]) -> str:
    """The declared type of a step, else the smallest type of the table that fits it."""
    if step.name in overrides:
        return overrides[step.name]
    resources = step.resources
    if resources.gpu and resources.gpu_type and "t4" not in resources.gpu_type.lower():
        raise PlanError(
            f"Step '{step.name}' asks for GPU type '{resources.gpu_type}'; the table has NVIDIA "
            f"T4 types only: set {DEPLOY_FILE}: {TARGET_KEY}.instance_types.{step.name}"
        )
    table = GPU_INSTANCE_TYPES if resources.gpu else CPU_INSTANCE_TYPES
    for candidate in table:
        if candidate.fits(resources.cpu, resources.memory_gb, resources.gpu):
            return candidate.name
    raise PlanError(
        f"Step '{step.name}' needs {resources.cpu:g} vCPU, {resources.memory_gb:g} GiB and "
        f"{resources.gpu} GPU(s), more than {table[-1].name}: set "
        f"{DEPLOY_FILE}: {TARGET_KEY}.instance_types.{step.name}"
    )


def max_runtime_seconds(step: Step) -> int:
    """The step's timeout, within what a processing job allows."""
    seconds = step.resources.timeout_minutes * 60
    limit = service_model("sagemaker").shape_for("ProcessingMaxRuntimeInSeconds").metadata["max"]
    if seconds > limit:
        raise PlanError(
            f"Step '{step.name}': timeout_minutes {step.resources.timeout_minutes} exceeds the "
            f"processing job limit of {limit // 60} minutes ({DEPLOY_FILE}: deploy.steps)"
        )
    return seconds


def retry_policies(retries: int) -> list[RetryPolicy]:
    """Up to `retries` new attempts on pipeline faults and on SageMaker's retryable job errors."""
    if retries == 0:
        return []
    return [
        StepRetryPolicy(exception_types=STEP_EXCEPTIONS, max_attempts=retries),
        SageMakerJobStepRetryPolicy(
            exception_types=JOB_EXCEPTIONS,
            max_attempts=retries,
            interval_seconds=JOB_RETRY_INTERVAL_SECONDS,
        ),
    ]


def role_arn(plan: DeploymentPlan) -> str:
    """The IAM role the jobs run as: targets.sagemaker.role_arn, else a role ARN service account."""
    pattern = service_model("sagemaker").shape_for("RoleArn").metadata["pattern"]
    chosen = plan.targets.sagemaker.role_arn
    if chosen is None and re.fullmatch(pattern, plan.service_account or ""):
        chosen = plan.service_account
    if chosen is None or not re.fullmatch(pattern, chosen):
        raise PlanError(
            f"SageMaker jobs need an IAM role: set {DEPLOY_FILE}: {TARGET_KEY}.role_arn to "
            f"arn:aws:iam::<account>:role/<name> (got {chosen!r})"
        )
    return chosen


def region(plan: DeploymentPlan) -> str:
    """The AWS region of the pipeline: targets.sagemaker.region, else the shared region."""
    chosen = plan.targets.sagemaker.region or plan.region or DEFAULT_REGION
    session = botocore.session.get_session()
    known = {
        name
        for partition in session.get_available_partitions()
        for name in session.get_available_regions("sagemaker", partition_name=partition)
    }
    if chosen not in known:
        raise PlanError(
            f"'{chosen}' is not an AWS region with SageMaker: set {DEPLOY_FILE}: "
            f"{TARGET_KEY}.region (e.g. eu-west-1)"
        )
    return chosen


def environment(plan: DeploymentPlan, aws_region: str) -> dict[str, str | PipelineVariable]:
    """The plan's env vars and the run id, plus the secret names and region the launcher needs."""
    # RUN_ID_SOURCES["sagemaker"] names this execution variable; a test keeps the two equal.
    variables: dict[str, str | PipelineVariable] = {
        **plan.env,
        RUN_ID_ENV: ExecutionVariables.PIPELINE_EXECUTION_ID,
    }
    if not plan.secret_env:
        return variables
    return {
        "AWS_DEFAULT_REGION": aws_region,
        **variables,
        SECRET_ENV_VAR: json.dumps(dict(plan.secret_env), separators=(",", ":")),
    }


def tags(labels: dict[str, str]) -> list[dict[str, str]]:
    """Labels as SageMaker tags."""
    return [{"Key": key, "Value": value} for key, value in labels.items()]


def entrypoint(plan: DeploymentPlan, step: Step) -> list[str]:
    """The step's command, behind the secret launcher when the plan has secrets."""
    if not plan.secret_env:
        return step.command
    return ["python", "-c", SECRET_LAUNCHER, *step.command]


def step_description(step: Step) -> str:
    """What the step runs, and the spot request it could not honour."""
    text = " ".join(step.command)
    if step.resources.spot:
        text += "; declared spot, runs on demand (processing jobs have no managed spot)"
    return text


def pipeline_description(plan: DeploymentPlan) -> str:
    """The pipeline description: steps, schedule and what the export could not set."""
    parts = [f"Cirrus steps of {plan.name}: {', '.join(plan.step_names)}."]
    if plan.schedule:
        parts.append(
            f"Schedule: {plan.schedule} (UTC) as EventBridge {eventbridge_cron(plan.schedule)}, "
            f"rule in {SCHEDULE_RULE_FILE}."
        )
    if plan.spot_steps:
        parts.append(
            f"Declared spot, run on demand: {', '.join(plan.spot_steps)} (managed spot exists "
            "for training jobs only, not processing jobs)."
        )
    parts.append("Retries cover SageMaker's retryable errors, not a failed container.")
    return " ".join(parts)


def _refuse_request(event_name: str, **_: Any) -> None:
    """Fail any AWS request: building a definition must not reach AWS."""
    raise RuntimeError(f"The SageMaker export is offline, yet the SDK tried {event_name}")


def offline_session(plan: DeploymentPlan, aws_region: str) -> PipelineSession:
    """A pipeline session that only records jobs, and fails on any AWS request."""
    boto_session = boto3.Session(
        aws_access_key_id="offline-export",
        aws_secret_access_key="offline-export",
        region_name=aws_region,
    )
    boto_session.events.register("before-send", _refuse_request)
    bucket = plan.targets.sagemaker.default_bucket or f"{plan.name}-sagemaker"
    session = PipelineSession(
        boto_session=boto_session, default_bucket=bucket, sagemaker_config=SDK_CONFIG
    )
    # No SDK defaults at all. A non-empty config would also be checked against the SDK's JSON
    # schema on each of the ~80 lookups a pipeline build makes, seconds per step.
    session.sagemaker_config = {}
    return session


@contextmanager
def _sdk_notices_muted() -> Iterator[None]:
    """Mute the SDK's notices that only restate how pipeline sessions work."""
    utilities = logging.getLogger("sagemaker.workflow.utilities")
    level = utilities.level
    utilities.setLevel(logging.ERROR)  # "Popping out 'ProcessingJobName'": names come at run time
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Running within a PipelineSession", UserWarning)
            yield
    finally:
        utilities.setLevel(level)


def processing_step(
    plan: DeploymentPlan, step: Step, session: PipelineSession, role: str, aws_region: str
) -> ProcessingStep:
    """One processing job running one step of the plan."""
    processor = Processor(
        role=role,
        image_uri=plan.image,
        entrypoint=entrypoint(plan, step),
        instance_count=1,
        instance_type=instance_type(step, plan.targets.sagemaker.instance_types),
        volume_size_in_gb=VOLUME_SIZE_GB,
        max_runtime_in_seconds=max_runtime_seconds(step),
        env=environment(plan, aws_region),
        tags=tags(static_labels(plan.name, step.name)),
        sagemaker_session=session,
    )
    return ProcessingStep(
        name=step.name,
        step_args=processor.run(),
        description=step_description(step),
        depends_on=list(step.depends_on) or None,
        retry_policies=retry_policies(step.resources.retries),
    )


def build_pipeline(plan: DeploymentPlan) -> Pipeline:
    """The SageMaker pipeline of the plan: one processing step per step."""
    _check_instance_overrides(plan)
    aws_region = region(plan)
    role = role_arn(plan)
    session = offline_session(plan, aws_region)
    with _sdk_notices_muted():
        steps = [processing_step(plan, step, session, role, aws_region) for step in plan.steps]
    return Pipeline(name=plan.name, steps=steps, sagemaker_session=session)


def definition(plan: DeploymentPlan) -> dict[str, Any]:
    """The pipeline definition (the JSON SageMaker stores), parsed."""
    pipeline = build_pipeline(plan)
    with _sdk_notices_muted():
        return json.loads(pipeline.definition())


def create_request(plan: DeploymentPlan) -> dict[str, Any]:
    """The CreatePipeline request without the definition, which comes from pipeline.json."""
    return {
        "PipelineName": plan.name,
        "PipelineDisplayName": plan.name,
        "PipelineDescription": pipeline_description(plan),
        "RoleArn": role_arn(plan),
        "Tags": tags(static_labels(plan.name)),
    }


def _weekday(token: str) -> int:
    """A cron day of week (0-7, or sun-sat) as 0 (Sunday) to 6."""
    if token.isdigit() and int(token) <= 7:
        return int(token) % 7
    if token.upper() in WEEKDAYS:
        return WEEKDAYS.index(token.upper())
    raise PlanError(f"{DEPLOY_FILE}: deploy.schedule has an invalid day of week '{token}'")


def _weekday_names(field: str) -> str:
    """A cron day-of-week field as EventBridge day names (whose numbers start at 1 = SUN)."""
    days: set[int] = set()
    for item in field.split(","):
        span, _, step = item.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            raise PlanError(f"{DEPLOY_FILE}: deploy.schedule has an invalid step '/{step}'")
        if span == "*":
            first, last = 0, 6
        else:
            start, _, end = span.partition("-")
            first = _weekday(start)
            # 7 is Sunday too: `5-7` is Friday to Sunday.
            last = (7 if end == "7" else _weekday(end)) if end else (6 if step else first)
            if last < first:
                raise PlanError(f"{DEPLOY_FILE}: deploy.schedule has a reversed range '{span}'")
        days.update(day % 7 for day in range(first, last + 1, int(step or 1)))
    return ",".join(WEEKDAYS[day] for day in sorted(days))


def _from_first(field: str, first: int) -> str:
    """A minute, hour, day or month field, with `*/n` as `first/n` (EventBridge's step form)."""
    items = field.split(",")
    for item in items:
        if not CRON_ITEM.fullmatch(item):
            raise PlanError(f"{DEPLOY_FILE}: deploy.schedule has an invalid field '{field}'")
    return ",".join(f"{first}/{item[2:]}" if item.startswith("*/") else item for item in items)


def eventbridge_cron(cron: str) -> str:
    """A five-field cron (UTC) as an EventBridge schedule expression."""
    minute, hour, day, month, weekday = cron.split()
    if weekday != "*" and day != "*":
        raise PlanError(
            f"{DEPLOY_FILE}: deploy.schedule '{cron}' restricts both the day of month and the day "
            "of week, which EventBridge cannot express; restrict one of them"
        )
    day_field = "?" if weekday != "*" else _from_first(day, 1)
    weekday_field = _weekday_names(weekday) if weekday != "*" else "?"
    fields = (_from_first(minute, 0), _from_first(hour, 0), day_field, _from_first(month, 1))
    return f"cron({' '.join(fields)} {weekday_field} *)"


def pipeline_arn(plan: DeploymentPlan) -> str:
    """The ARN the pipeline gets, in the role's account and partition."""
    _, partition, _, _, account, _ = role_arn(plan).split(":", 5)
    return f"arn:{partition}:sagemaker:{region(plan)}:{account}:pipeline/{plan.name}"


def schedule_rule_name(plan: DeploymentPlan) -> str:
    """The EventBridge rule's name (at most 64 characters)."""
    return f"{plan.name[:55]}-schedule"


def schedule_rule(plan: DeploymentPlan, cron: str) -> dict[str, Any]:
    """The PutRule request of the schedule."""
    return {
        "Name": schedule_rule_name(plan),
        "ScheduleExpression": eventbridge_cron(cron),
        "State": "ENABLED",
        "Description": f"Starts SageMaker pipeline {plan.name} at '{cron}' (UTC)",
    }


def schedule_targets(plan: DeploymentPlan) -> dict[str, Any]:
    """The PutTargets request that makes the rule start the pipeline."""
    scheduler_role = plan.targets.sagemaker.schedule_role_arn or role_arn(plan)
    target = {"Id": "sagemaker-pipeline", "Arn": pipeline_arn(plan), "RoleArn": scheduler_role}
    return {"Rule": schedule_rule_name(plan), "Targets": [target]}


def _write_json(path: Path, content: dict[str, Any]) -> Path:
    """Write pretty JSON and return the path."""
    path.write_text(json.dumps(content, indent=2) + "\n")
    return path


def export(plan: DeploymentPlan, out_dir: Path) -> list[Path]:
    """Write the definition, the CreatePipeline request and the schedule into out_dir."""
    if plan.spot_steps:
        logger.warning(
            "SageMaker processing jobs have no managed spot: %s run on demand",
            ", ".join(plan.spot_steps),
        )
    written = [
        _write_json(out_dir / DEFINITION_FILE, definition(plan)),
        _write_json(out_dir / CREATE_REQUEST_FILE, create_request(plan)),
    ]
    if plan.schedule:
        rule = schedule_rule(plan, plan.schedule)
        written.append(_write_json(out_dir / SCHEDULE_RULE_FILE, rule))
        written.append(_write_json(out_dir / SCHEDULE_TARGETS_FILE, schedule_targets(plan)))
    return written

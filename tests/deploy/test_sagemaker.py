"""SageMaker export: the definition built offline, checked against the SageMaker API model.

No JSON schema of the pipeline definition ships in an installed package (sagemaker, sagemaker-core,
botocore), so each step's Arguments, a CreateProcessingJob request, are checked against botocore's
SageMaker model: required and unknown members, types, lengths, ranges, patterns and enums. moto
stores a pipeline definition without reading it; the round trip through moto shows only that the
CreatePipeline, PutRule and PutTargets requests are accepted and that the ARNs line up.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import regex
from botocore.exceptions import ParamValidationError
from botocore.model import Shape
from botocore.validate import validate_parameters

from cirrus.deploy.deploy_yml import StepResources
from cirrus.deploy.export import export
from cirrus.deploy.plan import DeploymentPlan, PlanError, Step
from cirrus.deploy.run_id import RUN_ID_ENV, RUN_ID_SOURCES
from cirrus.deploy.targets.sagemaker import (
    CREATE_REQUEST_FILE,
    DEFINITION_FILE,
    SCHEDULE_RULE_FILE,
    SCHEDULE_TARGETS_FILE,
    SECRET_ENV_VAR,
    SECRET_LAUNCHER,
    definition,
    eventbridge_cron,
    instance_type,
    offline_session,
    service_model,
)
from cirrus.storage import STORAGE_ROOT_ENV
from tests.deploy.conftest import STORAGE_ROOT
from tests.emulators.servers import s3_server

FILES = (DEFINITION_FILE, CREATE_REQUEST_FILE, SCHEDULE_RULE_FILE, SCHEDULE_TARGETS_FILE)
REGION = "eu-west-1"  # deploy.targets.sagemaker.region in conf/base/deploy.yml
# The committed resources, sized by the table: (cpu, memory_gb) -> smallest fitting type.
EXPECTED_INSTANCE_TYPES = {
    "ingestion": "ml.m5.large",  # 1 vCPU, 8 GiB
    "features": "ml.m5.large",
    "training": "ml.m5.xlarge",  # 4 vCPU, 16 GiB
    "evaluation": "ml.m5.large",
    "drift": "ml.m5.large",  # 2 vCPU, 8 GiB
}
STEP_EXCEPTIONS = ["Step.SERVICE_FAULT", "Step.THROTTLING"]
JOB_EXCEPTIONS = [
    "SageMaker.JOB_INTERNAL_ERROR",
    "SageMaker.CAPACITY_ERROR",
    "SageMaker.RESOURCE_LIMIT",
]
# The execution variable SageMaker resolves into each job's Environment when the job starts,
# and a value of the form it takes (execution ids are 12 lowercase letters and digits).
EXECUTION_ID = {"Get": "Execution.PipelineExecutionId"}
SAMPLE_EXECUTION_ID = "kytlemm1lvpq"
TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


def _no_connection(_socket: socket.socket, address: Any) -> None:
    """Stand-in for socket.connect while exporting: any connection attempt fails the test."""
    raise AssertionError(f"the export opened a network connection to {address}")


@pytest.fixture(scope="module")
def exported(plan: DeploymentPlan, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The committed plan exported once, with every socket connection refused."""
    out_dir = tmp_path_factory.mktemp("sagemaker")
    with pytest.MonkeyPatch.context() as patch:
        # Should the SDK reach for credentials or an endpoint anyway, fail at once, not hang.
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setattr(socket.socket, "connect", _no_connection)
        written = export("sagemaker", plan, out_dir)
    assert sorted(path.name for path in written) == sorted(FILES)
    texts = {name: (out_dir / name).read_text() for name in FILES}
    return {"texts": texts, **{name: json.loads(text) for name, text in texts.items()}}


def steps_by_name(exported: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The definition's steps keyed by name."""
    return {step["Name"]: step for step in exported[DEFINITION_FILE]["Steps"]}


def model_problems(value: Any, shape: Shape, where: str) -> list[str]:
    """Every way a request breaks its botocore shape, beyond what botocore itself checks."""
    problems: list[str] = []
    meta = shape.metadata
    if shape.type_name == "structure":
        problems += [
            f"{where}.{name}: missing" for name in shape.required_members if name not in value
        ]
        for name, item in value.items():
            if name not in shape.members:
                problems.append(f"{where}.{name}: not a member of {shape.name}")
            else:
                problems += model_problems(item, shape.members[name], f"{where}.{name}")
        return problems
    if shape.type_name == "list":
        for index, item in enumerate(value):
            problems += model_problems(item, shape.member, f"{where}[{index}]")
    if shape.type_name == "map":
        for key, item in value.items():
            problems += model_problems(key, shape.key, f"{where} key {key!r}")
            problems += model_problems(item, shape.value, f"{where}.{key}")
    size = len(value) if shape.type_name in ("string", "list", "map") else value
    if not meta.get("min", size) <= size <= meta.get("max", size):
        problems.append(f"{where}: {size} outside [{meta.get('min')}, {meta.get('max')}]")
    # The API's patterns are Java regexes matched against the whole value: `.` stops at a newline,
    # and Unicode classes such as \p{L} (in tag patterns) need the `regex` module.
    if "pattern" in meta and not regex.fullmatch(meta["pattern"], value):
        problems.append(f"{where}: {value!r} does not match {meta['pattern']}")
    enum = getattr(shape, "enum", None)  # only string shapes have one
    if enum and value not in enum:
        problems.append(f"{where}: {value!r} is not one of {shape.name}")
    return problems


def check_request(service: str, operation: str, request: dict[str, Any]) -> None:
    """Validate a request with botocore's own validator and then the model's remaining rules."""
    shape = service_model(service).operation_model(operation).input_shape
    validate_parameters(request, shape)
    assert model_problems(request, shape, operation) == []


def resolved(value: Any) -> Any:
    """A definition's value with the execution id expression resolved, as SageMaker does."""
    if value == EXECUTION_ID:
        return SAMPLE_EXECUTION_ID
    if isinstance(value, dict):
        return {key: resolved(item) for key, item in value.items()}
    if isinstance(value, list):
        return [resolved(item) for item in value]
    return value


def job_request(step: dict[str, Any]) -> dict[str, Any]:
    """A processing step's Arguments as the CreateProcessingJob request the pipeline sends."""
    # The pipeline names each job at run time; the SDK leaves the name out of the definition.
    return {**resolved(step["Arguments"]), "ProcessingJobName": f"cirrus-{step['Name']}"}


def with_resources(plan: DeploymentPlan, name: str, **changes: Any) -> DeploymentPlan:
    """The plan with one step's resources changed."""
    steps = tuple(
        dataclasses.replace(s, resources=s.resources.model_copy(update=changes))
        if s.name == name
        else s
        for s in plan.steps
    )
    return dataclasses.replace(plan, steps=steps)


def with_sagemaker(plan: DeploymentPlan, **settings: Any) -> DeploymentPlan:
    """The plan with other targets.sagemaker settings."""
    sagemaker = plan.targets.sagemaker.model_copy(update=settings)
    return dataclasses.replace(
        plan, targets=plan.targets.model_copy(update={"sagemaker": sagemaker})
    )


def test_one_processing_step_per_plan_step(plan: DeploymentPlan, exported: dict[str, Any]) -> None:
    """Version, step order, image, command, machine, env, timeout, retries and run order."""
    document = exported[DEFINITION_FILE]
    assert document["Version"] == "2020-12-01"
    assert [step["Name"] for step in document["Steps"]] == plan.step_names
    role = plan.targets.sagemaker.role_arn
    for step in plan.steps:
        rendered = steps_by_name(exported)[step.name]
        arguments = rendered["Arguments"]
        assert rendered["Type"] == "Processing"
        assert arguments["AppSpecification"] == {
            "ImageUri": plan.image,
            "ContainerEntrypoint": ["python", "-c", SECRET_LAUNCHER, *step.command],
        }
        assert arguments["ProcessingResources"]["ClusterConfig"] == {
            "InstanceType": EXPECTED_INSTANCE_TYPES[step.name],
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        }
        assert arguments["Environment"] == {
            **plan.env,
            RUN_ID_ENV: EXECUTION_ID,
            "AWS_DEFAULT_REGION": REGION,
            SECRET_ENV_VAR: json.dumps(
                {"CIRRUS_PII_SALT": "cirrus-pii-salt"}, separators=(",", ":")
            ),
        }
        assert arguments["Environment"][STORAGE_ROOT_ENV] == STORAGE_ROOT
        assert arguments["StoppingCondition"] == {
            "MaxRuntimeInSeconds": step.resources.timeout_minutes * 60
        }
        assert arguments["RoleArn"] == role
        assert rendered.get("DependsOn", []) == list(step.depends_on)
        retries = step.resources.retries
        assert [(p["ExceptionType"], p["MaxAttempts"]) for p in rendered["RetryPolicies"]] == [
            (STEP_EXCEPTIONS, retries),
            (JOB_EXCEPTIONS, retries),
        ]
    # The salt's value never reaches the definition, only the secret's name.
    assert "test-salt" not in exported["texts"][DEFINITION_FILE]


def test_every_job_gets_the_execution_id_and_static_tags(
    plan: DeploymentPlan, exported: dict[str, Any]
) -> None:
    """CIRRUS_RUN_ID is the execution id; jobs and pipeline carry the cirrus tags."""
    # Imported here, after the export module has silenced the SDK's import-time notice.
    from sagemaker.workflow.execution_variables import ExecutionVariables

    assert ExecutionVariables.PIPELINE_EXECUTION_ID.expr == EXECUTION_ID
    assert RUN_ID_SOURCES["sagemaker"].placeholder == EXECUTION_ID["Get"]
    for step in plan.steps:
        arguments = steps_by_name(exported)[step.name]["Arguments"]
        assert arguments["Environment"][RUN_ID_ENV] == EXECUTION_ID
        assert arguments["Tags"] == [
            {"Key": "cirrus-pipeline", "Value": plan.name},
            {"Key": "cirrus-step", "Value": step.name},
        ]
    assert exported[CREATE_REQUEST_FILE]["Tags"] == [{"Key": "cirrus-pipeline", "Value": plan.name}]


def test_no_retry_policy_without_retries(plan: DeploymentPlan) -> None:
    """retries: 0 leaves the step to SageMaker's default handling."""
    steps = steps_by_name({DEFINITION_FILE: definition(with_resources(plan, "drift", retries=0))})
    assert "RetryPolicies" not in steps["drift"]
    assert len(steps["training"]["RetryPolicies"]) == 2


def test_steps_are_valid_create_processing_job_requests(exported: dict[str, Any]) -> None:
    """Each step's Arguments pass the SageMaker API model of CreateProcessingJob."""
    for step in exported[DEFINITION_FILE]["Steps"]:
        check_request("sagemaker", "CreateProcessingJob", job_request(step))


def test_model_check_rejects_what_the_api_would(exported: dict[str, Any]) -> None:
    """The model check fails on a bad instance type, a long entrypoint item and a newline."""
    request = job_request(exported[DEFINITION_FILE]["Steps"][0])
    bad = json.loads(json.dumps(request))
    bad["ProcessingResources"]["ClusterConfig"]["InstanceType"] = "ml.m5.huge"
    bad["AppSpecification"]["ContainerEntrypoint"] = ["python", "-c", "x" * 257, "a\nb"]
    bad["StoppingCondition"]["MaxRuntimeInSeconds"] = 10**7
    shape = service_model("sagemaker").operation_model("CreateProcessingJob").input_shape
    problems = model_problems(bad, shape, "CreateProcessingJob")
    assert len(problems) == 4, problems
    del bad["RoleArn"]
    with pytest.raises(ParamValidationError, match="RoleArn"):
        validate_parameters(bad, shape)


def test_deploy_requests_pass_the_api_models(exported: dict[str, Any]) -> None:
    """create-pipeline.json with the definition, and the schedule, are valid API requests."""
    create = {
        **exported[CREATE_REQUEST_FILE],
        "PipelineDefinition": exported["texts"][DEFINITION_FILE],
        "ClientRequestToken": "0" * 32,  # the CLI and SDKs fill it in
    }
    check_request("sagemaker", "CreatePipeline", create)
    check_request("events", "PutRule", exported[SCHEDULE_RULE_FILE])
    check_request("events", "PutTargets", exported[SCHEDULE_TARGETS_FILE])


def test_spot_is_recorded_not_faked(plan: DeploymentPlan, exported: dict[str, Any]) -> None:
    """Processing jobs have no spot setting: spot steps say they run on demand."""
    sagemaker = service_model("sagemaker")
    processing = sagemaker.operation_model("CreateProcessingJob").input_shape.members
    training = sagemaker.operation_model("CreateTrainingJob").input_shape.members
    assert "EnableManagedSpotTraining" in training
    assert not [name for name in processing if "Spot" in name]
    spot = [step.name for step in plan.steps if step.resources.spot]
    assert spot == ["training", "drift"]
    for name, step in steps_by_name(exported).items():
        assert ("runs on demand" in step["Description"]) == (name in spot)
    description = exported[CREATE_REQUEST_FILE]["PipelineDescription"]
    assert "Declared spot, run on demand: training, drift" in description


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (StepResources(cpu=1, memory_gb=4), "ml.m5.large"),
        (StepResources(cpu=2, memory_gb=12), "ml.r5.large"),  # memory-heavy: r5
        (StepResources(cpu=3, memory_gb=16), "ml.m5.xlarge"),
        (StepResources(cpu=4, memory_gb=20), "ml.r5.xlarge"),
        (StepResources(cpu=16, memory_gb=100), "ml.r5.4xlarge"),
        (StepResources(cpu=1, memory_gb=4, gpu=1), "ml.g4dn.xlarge"),
        (StepResources(cpu=8, memory_gb=24, gpu=1, gpu_type="nvidia-tesla-t4"), "ml.g4dn.2xlarge"),
        (StepResources(cpu=4, memory_gb=16, gpu=2), "ml.g4dn.12xlarge"),
    ],
)
def test_smallest_fitting_instance_type(resources: StepResources, expected: str) -> None:
    """The first type of the table that has the vCPUs, memory and GPUs a step asks for."""
    step = Step("s", ("--pipelines", "s"), (), (), (), resources)
    assert instance_type(step, {}) == expected
    assert instance_type(step, {"s": "ml.c5.2xlarge"}) == "ml.c5.2xlarge"


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (StepResources(cpu=64, memory_gb=8), "more than ml.r5.4xlarge"),
        (StepResources(gpu=1, gpu_type="nvidia-l4"), "T4 types only"),
    ],
)
def test_unfitting_step_names_the_override(resources: StepResources, message: str) -> None:
    """A step the table cannot hold points to targets.sagemaker.instance_types."""
    step = Step("big", ("--pipelines", "big"), (), (), (), resources)
    with pytest.raises(PlanError, match=message) as error:
        instance_type(step, {})
    assert "deploy.targets.sagemaker.instance_types.big" in str(error.value)


def test_instance_type_override_reaches_the_definition(plan: DeploymentPlan) -> None:
    """An override replaces the table's choice; an unknown type or step is refused."""
    chosen = with_sagemaker(plan, instance_types={"training": "ml.c5.2xlarge"})
    steps = steps_by_name({DEFINITION_FILE: definition(chosen)})
    assert steps["training"]["Arguments"]["ProcessingResources"]["ClusterConfig"][
        "InstanceType"
    ] == ("ml.c5.2xlarge")
    with pytest.raises(PlanError, match="not a processing instance type"):
        definition(with_sagemaker(plan, instance_types={"training": "ml.c5.mega"}))
    with pytest.raises(PlanError, match="no such step"):
        definition(with_sagemaker(plan, instance_types={"trainer": "ml.c5.2xlarge"}))


def test_role_and_region_must_be_aws(plan: DeploymentPlan) -> None:
    """A missing role or a non-AWS region fails naming the key to set."""
    no_role = dataclasses.replace(with_sagemaker(plan, role_arn=None), service_account="runner")
    with pytest.raises(PlanError, match=r"targets\.sagemaker\.role_arn"):
        definition(no_role)
    google_region = dataclasses.replace(with_sagemaker(plan, region=None), region="europe-west1")
    with pytest.raises(PlanError, match=r"'europe-west1' is not an AWS region.*sagemaker\.region"):
        definition(google_region)


def test_role_and_region_fall_back_to_the_shared_settings(plan: DeploymentPlan) -> None:
    """Without target settings, a role ARN service account and an AWS shared region are used."""
    role = "arn:aws:iam::210987654321:role/shared-runner"
    shared = dataclasses.replace(
        with_sagemaker(plan, role_arn=None, region=None), service_account=role, region="us-west-2"
    )
    steps = steps_by_name({DEFINITION_FILE: definition(shared)})
    assert {step["Arguments"]["RoleArn"] for step in steps.values()} == {role}
    assert steps["training"]["Arguments"]["Environment"]["AWS_DEFAULT_REGION"] == "us-west-2"


def test_sdk_config_files_do_not_change_the_definition(
    plan: DeploymentPlan, exported: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defaults in a user's SageMaker SDK config file (KMS key, tags) stay out of the export."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "SchemaVersion: '1.0'\n"
        "SageMaker:\n"
        "  ProcessingJob:\n"
        "    ProcessingResources:\n"
        "      ClusterConfig:\n"
        "        VolumeKmsKeyId: arn:aws:kms:eu-west-1:123456789012:key/from-user-config\n"
        "    Tags: [{Key: team, Value: from-user-config}]\n"
    )
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(config))
    assert definition(plan) == exported[DEFINITION_FILE]


def test_timeout_beyond_the_processing_limit_is_refused(plan: DeploymentPlan) -> None:
    """MaxRuntimeInSeconds cannot exceed the API's maximum (9 days)."""
    with pytest.raises(PlanError, match="exceeds the processing job limit of 12960 minutes"):
        definition(with_resources(plan, "drift", timeout_minutes=12961))


def test_plan_without_secrets_runs_the_command_directly(plan: DeploymentPlan) -> None:
    """No launcher and no secret variables when the plan has no secret_env."""
    steps = steps_by_name({DEFINITION_FILE: definition(dataclasses.replace(plan, secret_env={}))})
    for step in plan.steps:
        arguments = steps[step.name]["Arguments"]
        assert arguments["AppSpecification"]["ContainerEntrypoint"] == step.command
        assert arguments["Environment"] == {**plan.env, RUN_ID_ENV: EXECUTION_ID}


def test_offline_session_refuses_aws_requests(plan: DeploymentPlan) -> None:
    """The session the definition is built with fails any request before it is sent."""
    session = offline_session(plan, REGION)
    with pytest.raises(RuntimeError, match="offline"):
        session.sagemaker_client.list_pipelines()


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 4 * * 1", "cron(0 4 ? * MON *)"),
        ("*/15 * * * *", "cron(0/15 * * * ? *)"),
        ("30 2 1,15 * *", "cron(30 2 1,15 * ? *)"),
        ("0 0 */2 JAN-MAR *", "cron(0 0 1/2 JAN-MAR ? *)"),
        ("0 0 * * 1-5", "cron(0 0 ? * MON,TUE,WED,THU,FRI *)"),
        ("0 0 * * 5-7", "cron(0 0 ? * SUN,FRI,SAT *)"),
        ("0 0 * * 0,7", "cron(0 0 ? * SUN *)"),
        ("0 0 * * */2", "cron(0 0 ? * SUN,TUE,THU,SAT *)"),
        ("0 12 * * sat,sun", "cron(0 12 ? * SUN,SAT *)"),
    ],
)
def test_eventbridge_cron(cron: str, expected: str) -> None:
    """Five-field cron to EventBridge's six fields, one of the day fields `?`, days by name."""
    assert eventbridge_cron(cron) == expected


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("0 0 1 * 1", "both the day of month and the day of week"),
        ("0 0 * * 8", "invalid day of week '8'"),
        ("0 0 * * 5-1", "reversed range"),
        ("0 0 L * *", "invalid field 'L'"),
        ("0 0 * * 1/0", "invalid step '/0'"),
    ],
)
def test_eventbridge_cron_refuses_what_it_cannot_express(cron: str, message: str) -> None:
    """Schedules EventBridge cannot express, or invalid ones, fail naming deploy.schedule."""
    with pytest.raises(PlanError, match=message):
        eventbridge_cron(cron)


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server (all services) on 127.0.0.1."""
    with s3_server(tmp_path_factory.mktemp("moto")) as emulator:
        yield emulator.endpoint


def aws_client(service: str, endpoint: str) -> Any:
    """A boto3 client of the moto server."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_deploy_round_trip_through_moto(exported: dict[str, Any], moto_endpoint: str) -> None:
    """create-pipeline, put-rule and put-targets as the docstring deploys them; ARNs line up."""
    sagemaker = aws_client("sagemaker", moto_endpoint)
    definition_text = exported["texts"][DEFINITION_FILE]
    create = exported[CREATE_REQUEST_FILE]
    arn = sagemaker.create_pipeline(**create, PipelineDefinition=definition_text)["PipelineArn"]
    described = sagemaker.describe_pipeline(PipelineName=create["PipelineName"])
    assert json.loads(described["PipelineDefinition"]) == exported[DEFINITION_FILE]
    assert described["PipelineDescription"] == create["PipelineDescription"]
    assert described["RoleArn"] == create["RoleArn"]

    events = aws_client("events", moto_endpoint)
    events.put_rule(**exported[SCHEDULE_RULE_FILE])
    assert events.put_targets(**exported[SCHEDULE_TARGETS_FILE])["FailedEntryCount"] == 0
    rule = exported[SCHEDULE_RULE_FILE]["Name"]
    targets = events.list_targets_by_rule(Rule=rule)["Targets"]
    # The rule starts the pipeline created above: the exported ARN is the one SageMaker assigns
    # (moto's default account is the committed role's).
    assert ":123456789012:" in create["RoleArn"]
    assert [target["Arn"] for target in targets] == [arn]
    assert events.describe_rule(Name=rule)["ScheduleExpression"] == "cron(0 4 ? * MON *)"


def test_secret_launcher_runs_the_command_with_secrets(moto_endpoint: str) -> None:
    """The launcher reads each secret from Secrets Manager, then execs the command."""
    aws_client("secretsmanager", moto_endpoint).create_secret(
        Name="cirrus-pii-salt", SecretString="salt-from-the-store"
    )
    show = (
        "import os,sys; "
        f"print(os.environ['CIRRUS_PII_SALT'], sys.argv[1:], {SECRET_ENV_VAR!r} in os.environ)"
    )
    env = {
        **os.environ,
        **TEST_CREDENTIALS,
        "AWS_ENDPOINT_URL": moto_endpoint,
        SECRET_ENV_VAR: json.dumps({"CIRRUS_PII_SALT": "cirrus-pii-salt"}),
    }
    env.pop("CIRRUS_PII_SALT", None)
    command = [sys.executable, "-c", show, "--pipelines", "training"]
    result = subprocess.run(
        [sys.executable, "-c", SECRET_LAUNCHER, *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "salt-from-the-store ['--pipelines', 'training'] False"


def test_launcher_fails_when_the_secret_is_missing(moto_endpoint: str) -> None:
    """A secret that does not exist stops the step before the command runs."""
    env = {
        **os.environ,
        **TEST_CREDENTIALS,
        "AWS_ENDPOINT_URL": moto_endpoint,
        SECRET_ENV_VAR: json.dumps({"CIRRUS_PII_SALT": "no-such-secret"}),
    }
    result = subprocess.run(
        [sys.executable, "-c", SECRET_LAUNCHER, sys.executable, "-c", "print('ran')"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "ResourceNotFoundException" in result.stderr
    assert "ran" not in result.stdout


def test_export_is_deterministic(
    plan: DeploymentPlan, exported: dict[str, Any], tmp_path: Path
) -> None:
    """Exporting twice gives the same files: no timestamps or generated names."""
    export("sagemaker", plan, tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_text() == exported["texts"][name]

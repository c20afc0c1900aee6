"""The runner settings of `conf/base/deploy.yml`, parsed strictly so a typo names its key."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from cirrus.parameters import ConfigError, Strict, parse_block

DEPLOY_FILE = "conf/base/deploy.yml"
DEPLOY_KEY = "deploy"
# deploy.yml declares the schedule in UTC; every target gives its cron this time zone.
SCHEDULE_TIME_ZONE = "UTC"


class DeployConfigError(ConfigError):
    """`deploy.yml` is malformed or asks for something the pipelines do not have."""


class StepResources(Strict):
    """What one step needs: machine size, capacity type, retries and time limit."""

    cpu: float = Field(default=1, gt=0)
    memory_gb: float = Field(default=4, gt=0)
    gpu: int = Field(default=0, ge=0)
    gpu_type: str | None = None
    spot: bool = False
    retries: int = Field(default=2, ge=0, le=10)
    timeout_minutes: int = Field(default=60, ge=1)


class ResourceOverride(Strict):
    """Per-step overrides of the defaults; unset keys keep the default."""

    cpu: float | None = Field(default=None, gt=0)
    memory_gb: float | None = Field(default=None, gt=0)
    gpu: int | None = Field(default=None, ge=0)
    gpu_type: str | None = None
    spot: bool | None = None
    retries: int | None = Field(default=None, ge=0, le=10)
    timeout_minutes: int | None = Field(default=None, ge=1)


class Toleration(Strict):
    """A Kubernetes toleration, e.g. of the taint that keeps other pods off spot nodes."""

    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


class KubernetesTarget(Strict):
    """Pods on Kubernetes (EKS, GKE, AKS): Argo's steps and Airflow's KubernetesPodOperator."""

    namespace: str = "default"
    spot_node_selector: dict[str, str] = Field(default_factory=dict)
    spot_tolerations: list[Toleration] = Field(default_factory=list)
    gpu_type_label: str = "nvidia.com/gpu.product"


class VertexTarget(Strict):
    """Vertex AI Pipelines (KFP v2)."""

    project: str | None = None
    pipeline_root: str | None = None


class AirflowTarget(Strict):
    """Airflow 3 (MWAA, Cloud Composer): pods (settings under `kubernetes`) or worker commands."""

    operator: Literal["kubernetes", "bash"] = "kubernetes"
    project_dir: str = "/opt/cirrus"


class SageMakerTarget(Strict):
    """SageMaker Pipelines: one processing step per step."""

    role_arn: str | None = None
    default_bucket: str | None = None
    instance_types: dict[str, str] = Field(default_factory=dict)
    region: str | None = None
    schedule_role_arn: str | None = None


class AzureMLTarget(Strict):
    """Azure ML pipeline jobs: one command job per step."""

    compute: str = "cpu-cluster"
    spot_compute: str | None = None
    gpu_compute: str | None = None
    key_vault_url: str | None = None


class Targets(Strict):
    """Target-specific settings; everything shared lives one level up."""

    kubernetes: KubernetesTarget = KubernetesTarget()
    vertex: VertexTarget = VertexTarget()
    airflow: AirflowTarget = AirflowTarget()
    sagemaker: SageMakerTarget = SageMakerTarget()
    azureml: AzureMLTarget = AzureMLTarget()


class DeployConfig(Strict):
    """One declaration for every cloud runner."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    image: str = Field(min_length=1)
    grouping: Literal["pipeline", "node", "namespace"] = "pipeline"
    pipelines: list[str] = Field(min_length=1)
    schedule: str | None = None
    region: str | None = None
    service_account: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: dict[str, str] = Field(default_factory=dict)
    defaults: StepResources = StepResources()
    steps: dict[str, ResourceOverride] = Field(default_factory=dict)
    targets: Targets = Targets()

    @field_validator("schedule")
    @classmethod
    def _five_field_cron(cls, value: str | None) -> str | None:
        """A schedule is a five-field cron expression, the one form every target accepts."""
        if value is not None and len(value.split()) != 5:
            raise ValueError(f"expected a five-field cron expression, got '{value}'")
        return value

    def resources_for(self, step: str) -> StepResources:
        """The defaults with this step's overrides applied."""
        override = self.steps.get(step)
        if override is None:
            return self.defaults
        changes = override.model_dump(exclude_none=True)
        return self.defaults.model_copy(update=changes)


def parse_deploy(raw: dict[str, Any] | None, file: str = DEPLOY_FILE) -> DeployConfig:
    """Validate the `deploy` block, naming the file and the dotted key on any problem."""
    return parse_block(DeployConfig, raw, DEPLOY_KEY, file, DeployConfigError)

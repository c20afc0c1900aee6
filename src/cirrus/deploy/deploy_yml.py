"""The runner settings of `conf/base/deploy.yml`, parsed strictly so a typo names its key."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from cirrus.parameters import ConfigError, Strict, parse_block

DEPLOY_FILE = "conf/base/deploy.yml"
DEPLOY_KEY = "deploy"
# deploy.yml declares the schedule in UTC; every target gives its cron this time zone.
SCHEDULE_TIME_ZONE = "UTC"


class DeployConfigError(ConfigError):
    """`deploy.yml` is malformed or asks for something the pipelines do not have."""

    hint = "Fix conf/base/deploy.yml (or its override in conf/<env>/) as the message says."


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


# Below 1024 a port needs CAP_NET_BIND_SERVICE, which the non-root server container drops.
LOWEST_UNPRIVILEGED_PORT = 1024
# Kubernetes object names: DNS-1123 labels; Secret keys: letters, digits, '-', '_' and '.'.
KUBERNETES_NAME = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
SECRET_KEY_NAME = r"^[-._a-zA-Z0-9]{1,253}$"


class ServingRequests(Strict):
    """What one API pod reserves on its node; the autoscaler's CPU target is relative to `cpu`."""

    cpu: float = Field(default=1, gt=0)
    memory_gb: float = Field(default=2, gt=0)


class ServingLimits(Strict):
    """Caps of one API pod; unset CPU is not capped (no throttling), unset memory is the request."""

    cpu: float | None = Field(default=None, gt=0)
    memory_gb: float | None = Field(default=None, gt=0)


class Autoscaling(Strict):
    """HorizontalPodAutoscaler bounds and its average CPU target, in percent of the request."""

    min_replicas: int = Field(default=2, ge=1)
    max_replicas: int = Field(default=4, ge=1)
    target_cpu_utilization: int = Field(default=70, ge=1, le=100)

    @field_validator("max_replicas")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        """The autoscaler cannot scale between bounds that cross."""
        low = info.data.get("min_replicas")
        if low is not None and value < low:
            raise ValueError(f"max_replicas {value} is below min_replicas {low}")
        return value


class TokenSecret(Strict):
    """The Kubernetes Secret, and its key, holding the API's bearer token."""

    name: str = Field(default="cirrus-api-token", pattern=KUBERNETES_NAME)
    key: str = Field(default="token", pattern=SECRET_KEY_NAME)


class KubernetesServing(Strict):
    """The prediction API (`kedro cirrus serve`) as a Deployment, a Service and an autoscaler."""

    replicas: int = Field(default=2, ge=1)
    # validated even when left out, so the cross-checks below see the defaults too
    autoscaling: Autoscaling = Field(default=Autoscaling(), validate_default=True)
    requests: ServingRequests = ServingRequests()
    limits: ServingLimits = Field(default=ServingLimits(), validate_default=True)
    port: int = 8080
    service_port: int = Field(default=80, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    token_secret: TokenSecret = TokenSecret()
    service_account: str | None = None
    termination_grace_seconds: int = Field(default=30, ge=10, le=3600)

    @field_validator("autoscaling")
    @classmethod
    def _replicas_within_bounds(cls, value: Autoscaling, info: ValidationInfo) -> Autoscaling:
        """The starting replica count must be one the autoscaler would keep."""
        replicas = info.data.get("replicas")
        if replicas is not None and not value.min_replicas <= replicas <= value.max_replicas:
            raise ValueError(
                f"replicas {replicas} is outside min_replicas..max_replicas "
                f"({value.min_replicas}..{value.max_replicas})"
            )
        return value

    @field_validator("limits")
    @classmethod
    def _limits_not_below_requests(
        cls, value: ServingLimits, info: ValidationInfo
    ) -> ServingLimits:
        """Kubernetes refuses a pod whose limit is below its request."""
        requests = info.data.get("requests")
        if requests is None:
            return value
        for name in ("cpu", "memory_gb"):
            limit, request = getattr(value, name), getattr(requests, name)
            if limit is not None and limit < request:
                raise ValueError(f"{name} {limit:g} is below requests.{name} {request:g}")
        return value

    @field_validator("port")
    @classmethod
    def _unprivileged_port(cls, value: int) -> int:
        """The server runs as a non-root user without capabilities, so it cannot bind below 1024."""
        if not LOWEST_UNPRIVILEGED_PORT <= value <= 65535:
            raise ValueError(
                f"port {value} is not in {LOWEST_UNPRIVILEGED_PORT}-65535: the server runs as a "
                "non-root user without capabilities; expose a low port with service_port instead"
            )
        return value


class KubernetesTarget(Strict):
    """Pods on Kubernetes (EKS, GKE, AKS): Argo's steps, Airflow's pods and the prediction API."""

    namespace: str = "default"
    spot_node_selector: dict[str, str] = Field(default_factory=dict)
    spot_tolerations: list[Toleration] = Field(default_factory=list)
    gpu_type_label: str = "nvidia.com/gpu.product"
    serving: KubernetesServing = KubernetesServing()


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

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
    """CPU cores of a step (fractions allowed); on Kubernetes requested, not capped."""
    memory_gb: float = Field(default=4, gt=0)
    """Memory of a step in GiB; on Kubernetes requested and capped."""
    gpu: int = Field(default=0, ge=0)
    """Whole GPUs of a step (0: none)."""
    gpu_type: str | None = None
    """GPU model: on Kubernetes the value of the node label `gpu_type_label`, on Vertex AI an
    accelerator type (e.g. NVIDIA_TESLA_T4)."""
    spot: bool = False
    """Run on spot / preemptible / low-priority capacity where the target offers it."""
    retries: int = Field(default=2, ge=0, le=10)
    """Times a failed step is retried (0 to 10)."""
    timeout_minutes: int = Field(default=60, ge=1)
    """Longest a step may run, in minutes."""


class ResourceOverride(Strict):
    """Per-step overrides of the defaults; unset keys keep the default."""

    cpu: float | None = Field(default=None, gt=0)
    """CPU cores; unset: `defaults.cpu`."""
    memory_gb: float | None = Field(default=None, gt=0)
    """Memory in GiB; unset: `defaults.memory_gb`."""
    gpu: int | None = Field(default=None, ge=0)
    """Whole GPUs; unset: `defaults.gpu`."""
    gpu_type: str | None = None
    """GPU model; unset: `defaults.gpu_type`."""
    spot: bool | None = None
    """Spot capacity; unset: `defaults.spot`."""
    retries: int | None = Field(default=None, ge=0, le=10)
    """Retries (0 to 10); unset: `defaults.retries`."""
    timeout_minutes: int | None = Field(default=None, ge=1)
    """Time limit in minutes; unset: `defaults.timeout_minutes`."""


class Toleration(Strict):
    """A Kubernetes toleration, e.g. of the taint that keeps other pods off spot nodes."""

    key: str | None = None
    """Taint key tolerated (unset with operator `Exists`: every key)."""
    operator: Literal["Equal", "Exists"] = "Equal"
    """`Equal` (the taint's value must equal `value`) or `Exists` (any value)."""
    value: str | None = None
    """Taint value, with operator `Equal`."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """Taint effect tolerated: NoSchedule, PreferNoSchedule or NoExecute; unset: all."""


# Below 1024 a port needs CAP_NET_BIND_SERVICE, which the non-root server container drops.
LOWEST_UNPRIVILEGED_PORT = 1024
# Kubernetes object names: DNS-1123 labels; Secret keys: letters, digits, '-', '_' and '.'.
KUBERNETES_NAME = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
SECRET_KEY_NAME = r"^[-._a-zA-Z0-9]{1,253}$"


class ServingRequests(Strict):
    """What one API pod reserves on its node; the autoscaler's CPU target is relative to `cpu`."""

    cpu: float = Field(default=1, gt=0)
    """CPU cores one API pod requests; the autoscaler's target is a percentage of it."""
    memory_gb: float = Field(default=2, gt=0)
    """Memory one API pod requests, in GiB."""


class ServingLimits(Strict):
    """Caps of one API pod; unset CPU is not capped (no throttling), unset memory is the request."""

    cpu: float | None = Field(default=None, gt=0)
    """CPU cap of one API pod, in cores; null: not capped (no throttling)."""
    memory_gb: float | None = Field(default=None, gt=0)
    """Memory cap of one API pod, in GiB; null: the request."""


class Autoscaling(Strict):
    """HorizontalPodAutoscaler bounds and its average CPU target, in percent of the request."""

    min_replicas: int = Field(default=2, ge=1)
    """Fewest API pods the autoscaler keeps."""
    max_replicas: int = Field(default=4, ge=1)
    """Most API pods the autoscaler starts (not below `min_replicas`)."""
    target_cpu_utilization: int = Field(default=70, ge=1, le=100)
    """Average CPU use the autoscaler aims for, in percent of `requests.cpu` (1 to 100)."""

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
    """Name of the Kubernetes Secret that holds the API's bearer token."""
    key: str = Field(default="token", pattern=SECRET_KEY_NAME)
    """Key inside that Secret whose value is the token."""


class KubernetesServing(Strict):
    """The prediction API (`kedro cirrus serve`) as a Deployment, a Service and an autoscaler."""

    replicas: int = Field(default=2, ge=1)
    """API pods at the first rollout (the autoscaler owns the count after); within the autoscaling
    bounds."""
    # validated even when left out, so the cross-checks below see the defaults too
    autoscaling: Autoscaling = Field(default=Autoscaling(), validate_default=True)
    """HorizontalPodAutoscaler bounds and CPU target."""
    requests: ServingRequests = ServingRequests()
    """What one API pod reserves on its node."""
    limits: ServingLimits = Field(default=ServingLimits(), validate_default=True)
    """Caps of one API pod."""
    port: int = 8080
    """Container port the server listens on, 1024 to 65535 (it runs as a non-root user)."""
    service_port: int = Field(default=80, ge=1, le=65535)
    """Port of the ClusterIP Service that clients in the cluster call."""
    workers: int = Field(default=1, ge=1)
    """uvicorn worker processes per pod."""
    token_secret: TokenSecret = TokenSecret()
    """The Secret holding the bearer token (CIRRUS_API_TOKEN)."""
    service_account: str | None = None
    """Service account of the API pods (it reads the model under the storage root); null:
    `deploy.service_account`."""
    termination_grace_seconds: int = Field(default=30, ge=10, le=3600)
    """Seconds a pod gets after SIGTERM to finish its requests and flush the prediction log (10 to
    3600)."""

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


class DaskScheduler(Strict):
    """What the Dask scheduler pod reserves; it holds the task graph, never the data."""

    cpu: float = Field(default=1, gt=0)
    """CPU cores the scheduler requests (not capped)."""
    memory_gb: float = Field(default=2, gt=0)
    """Memory of the scheduler in GiB, requested and capped."""


class KubernetesDask(Strict):
    """A Dask cluster of the dask-kubernetes operator that the steps run `--env dask` against."""

    enabled: bool = False
    """Write the DaskCluster beside the Argo workflow and run its steps with `kedro run --env dask`,
    connected to the cluster's scheduler (DASK_SCHEDULER_ADDRESS)."""
    workers: int = Field(default=2, ge=1)
    """Worker pods (one Dask worker process each)."""
    threads_per_worker: int = Field(default=1, ge=1)
    """Threads of each worker (`dask worker --nthreads`)."""
    cpu: float = Field(default=1, gt=0)
    """CPU cores one worker requests (not capped)."""
    memory_gb: float = Field(default=8, gt=0)
    """Memory of one worker in GiB: requested, capped and its `--memory-limit`."""
    disk_gb: float = Field(default=20, gt=0)
    """Scratch space of one worker in GiB, where Dask spills data that does not fit in memory."""
    scheduler: DaskScheduler = DaskScheduler()
    """What the scheduler pod reserves."""


class KubernetesTarget(Strict):
    """Pods on Kubernetes (EKS, GKE, AKS): Argo's steps, Airflow's pods and the prediction API."""

    namespace: str = "default"
    """Namespace of the workflow's pods and of the API."""
    spot_node_selector: dict[str, str] = Field(default_factory=dict)
    """Node labels a spot step's pod must land on (e.g. `karpenter.sh/capacity-type: spot`)."""
    spot_tolerations: list[Toleration] = Field(default_factory=list)
    """Taints a spot step's pod tolerates (e.g. the one keeping other pods off spot nodes)."""
    gpu_type_label: str = "nvidia.com/gpu.product"
    """Node label matched against a step's `gpu_type` (GKE: `cloud.google.com/gke-accelerator`)."""
    serving: KubernetesServing = KubernetesServing()
    """The prediction API as Kubernetes objects (`kedro cirrus export kubernetes-serving`)."""
    dask: KubernetesDask = KubernetesDask()
    """A Dask cluster for the Argo steps (`kedro run --env dask`); off unless `enabled`."""


class VertexTarget(Strict):
    """Vertex AI Pipelines (KFP v2)."""

    project: str | None = None
    """GCP project of the pipeline and of `secret_env` secrets named without a project."""
    pipeline_root: str | None = None
    """GCS folder where Vertex AI keeps the runs' artefacts (gs://bucket/path)."""


class AirflowTarget(Strict):
    """Airflow 3 (MWAA, Cloud Composer): pods (settings under `kubernetes`) or worker commands."""

    operator: Literal["kubernetes", "bash"] = "kubernetes"
    """`kubernetes`: a KubernetesPodOperator per step (settings under `targets.kubernetes`); `bash`:
    a BashOperator on workers that have the project."""
    project_dir: str = "/opt/cirrus"
    """With operator `bash`: where the workers have the project."""


class SageMakerTarget(Strict):
    """SageMaker Pipelines: one processing step per step."""

    role_arn: str | None = None
    """IAM role the processing jobs run as; unset: `service_account`, when it is a role ARN."""
    default_bucket: str | None = None
    """S3 bucket of the SageMaker session; unset: `<name>-sagemaker`."""
    instance_types: dict[str, str] = Field(default_factory=dict)
    """Step -> ml.* instance type; other steps get the smallest ml.m5 / ml.r5 / ml.g4dn type that
    fits cpu, memory_gb and gpu."""
    region: str | None = None
    """AWS region of the pipeline; unset: the shared `region`, else us-east-1."""
    schedule_role_arn: str | None = None
    """Role EventBridge assumes to start the scheduled pipeline; unset: `role_arn`."""


class AzureMLTarget(Strict):
    """Azure ML pipeline jobs: one command job per step."""

    compute: str = "cpu-cluster"
    """Compute cluster of the steps (its VM size sets a step's CPUs and memory)."""
    spot_compute: str | None = None
    """Low-priority cluster of the `spot` steps; unset: they run on `compute`."""
    gpu_compute: str | None = None
    """Cluster of GPU VMs, required once a step asks for a GPU."""
    key_vault_url: str | None = None
    """Key Vault holding the `secret_env` secrets (required when there are any)."""


class Targets(Strict):
    """Target-specific settings; everything shared lives one level up."""

    kubernetes: KubernetesTarget = KubernetesTarget()
    """Kubernetes (EKS, GKE, AKS): Argo, Airflow's pods and the prediction API."""
    vertex: VertexTarget = VertexTarget()
    """Vertex AI Pipelines (KFP v2)."""
    airflow: AirflowTarget = AirflowTarget()
    """Airflow 3 (MWAA, Cloud Composer)."""
    sagemaker: SageMakerTarget = SageMakerTarget()
    """SageMaker Pipelines."""
    azureml: AzureMLTarget = AzureMLTarget()
    """Azure ML pipeline jobs."""


class DeployConfig(Strict):
    """One declaration for every cloud runner."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    """Workflow / pipeline / DAG name: lowercase letters, digits and `-`; also names the API's
    Kubernetes objects (`<name>-api`)."""
    image: str = Field(min_length=1)
    """Container image every step runs (built from ./Dockerfile, pushed by your CI)."""
    grouping: Literal["pipeline", "node", "namespace"] = "pipeline"
    """One step per `pipeline`, per `node`, or per `namespace` (nodes without one stay with their
    pipeline)."""
    pipelines: list[str] = Field(min_length=1)
    """Registered pipelines the workflow runs, each once; steps wait for the steps whose datasets
    they read."""
    schedule: str | None = None
    """Five-field cron expression, in UTC; null: run on demand only."""
    region: str | None = None
    """Cloud region: the Vertex AI location, SageMaker's region unless it sets its own."""
    service_account: str | None = None
    """Identity the steps run as: Kubernetes service account, GCP service account email, IAM role
    ARN or Azure managed identity."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables of every step (never secrets)."""
    secret_env: dict[str, str] = Field(default_factory=dict)
    """Environment variable -> name of the secret in the platform's secret store that holds its
    value."""
    defaults: StepResources = StepResources()
    """Resources of every step, unless overridden under `steps`."""
    steps: dict[str, ResourceOverride] = Field(default_factory=dict)
    """Step name -> overrides of `defaults` for that step."""
    targets: Targets = Targets()
    """Settings of each export target."""

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

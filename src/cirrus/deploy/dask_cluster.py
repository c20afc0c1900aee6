"""A Dask cluster on Kubernetes for the Argo steps: a DaskCluster of the dask-kubernetes operator.

With `targets.kubernetes.dask.enabled`, `kedro cirrus export argo` writes dask-cluster.yaml beside
the workflow, and every step runs `kedro run --env dask` with DASK_SCHEDULER_ADDRESS set to the
cluster's scheduler Service. The operator turns the DaskCluster into a scheduler Deployment, the
Service `<cluster>-scheduler` and one worker Deployment per worker; it gives every worker the same
DASK_SCHEDULER_ADDRESS and a DASK_WORKER_NAME.

Scheduler and workers run the project image, whose entrypoint is `kedro run`: their containers
replace it with the `dask` CLI. The image does not install the project (Kedro imports it from
src/), so PYTHONPATH points there: tasks that call project code unpickle on the workers, and the
scheduler unpickles the graph. Workers run as the steps' service account, so they read the
storage root with the steps' identity; the scheduler never reads data and keeps the namespace's
default. Both run as the image's non-root user on a read-only root; /tmp is an emptyDir, on the
workers sized by `disk_gb` for the data Dask spills from memory.

Before writing, the manifest is checked against the operator's own CRD (schemas/, from
dask-kubernetes CRD_SOURCE), refusing keys it does not declare as `kubectl apply` does.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from cirrus.deploy.deploy_yml import DEPLOY_FILE, DaskScheduler, KubernetesDask
from cirrus.deploy.kubernetes import cpu_quantity, memory_quantity
from cirrus.deploy.kubernetes_serving import (
    IMAGE_USER,
    TMP_PATH,
    TMP_SIZE,
    TMP_VOLUME,
    WRITABLE_ENV,
    container_security,
)
from cirrus.deploy.plan import IMAGE_PROJECT_DIR, DeploymentPlan, PlanError, Step

CLUSTER_FILE = "dask-cluster.yaml"
DASK_KEY = "deploy.targets.kubernetes.dask"
# What a step runs instead of the image's `kedro run --env cloud`; it appends its selector.
DASK_ENTRYPOINT = ("kedro", "run", "--env", "dask")
SCHEDULER_ADDRESS_ENV = "DASK_SCHEDULER_ADDRESS"
API_VERSION = "kubernetes.dask.org/v1"
KIND = "DaskCluster"
NAME_SUFFIX = "-dask"
# The operator names the scheduler's Service `<cluster>-scheduler` (a DNS-1035 label) and labels
# the workers with `<cluster>-default` (a label value): both must stay within 63 characters.
SCHEDULER_SUFFIX = "-scheduler"
WORKER_GROUP_SUFFIX = "-default"
MAX_NAME_LENGTH = 63
# The operator's labels on the scheduler pod, which its Service must select.
CLUSTER_LABEL = "dask.org/cluster-name"
COMPONENT_LABEL = "dask.org/component"
COMM_PORT, COMM_PORT_NAME = 8786, "tcp-comm"
DASHBOARD_PORT, DASHBOARD_PORT_NAME = 8787, "http-dashboard"
WORKER_DASHBOARD_PORT = 8788
HEALTH_PATH = "/health"
SRC_PATH = f"{IMAGE_PROJECT_DIR}/src"
OPERATOR_INSTALL = (
    "helm install --repo https://helm.dask.org --create-namespace -n dask-operator "
    "--generate-name dask-kubernetes-operator"
)
CRD_FILE = "daskcluster-crd.yaml"
CRD_SOURCE = "dask-kubernetes 2026.3.0"


class DaskClusterError(PlanError):
    """The DaskCluster would be rejected by the operator's CRD or would not reach its scheduler."""


def uses_dask(plan: DeploymentPlan) -> bool:
    """Whether the steps run against the Kubernetes Dask cluster."""
    return plan.targets.kubernetes.dask.enabled


def cluster_name(plan: DeploymentPlan) -> str:
    """The DaskCluster's name: the workflow name plus '-dask'."""
    name = f"{plan.name}{NAME_SUFFIX}"
    longest = max(len(SCHEDULER_SUFFIX), len(WORKER_GROUP_SUFFIX))
    if len(name) + longest > MAX_NAME_LENGTH:
        limit = MAX_NAME_LENGTH - longest - len(NAME_SUFFIX)
        raise DaskClusterError(
            f"{DEPLOY_FILE}: deploy.name '{plan.name}' is too long for the Dask cluster's objects "
            f"('{name}{SCHEDULER_SUFFIX}' has more than {MAX_NAME_LENGTH} characters); use at "
            f"most {limit}"
        )
    return name


def scheduler_address(plan: DeploymentPlan) -> str:
    """The scheduler Service's address inside the cluster, as the operator gives it to workers."""
    namespace = plan.targets.kubernetes.namespace
    service = f"{cluster_name(plan)}{SCHEDULER_SUFFIX}"
    return f"tcp://{service}.{namespace}.svc.cluster.local:{COMM_PORT}"


def step_command(plan: DeploymentPlan, step: Step) -> list[str]:
    """A step's command: its `kedro run`, in the `dask` environment when the cluster is on."""
    return [*DASK_ENTRYPOINT, *step.selector] if uses_dask(plan) else step.command


def step_env(plan: DeploymentPlan) -> dict[str, str]:
    """DASK_SCHEDULER_ADDRESS for the steps when the cluster is on; nothing otherwise."""
    if not uses_dask(plan):
        return {}
    for key in ("env", "secret_env"):
        if SCHEDULER_ADDRESS_ENV in getattr(plan, key):
            raise DaskClusterError(
                f"{DEPLOY_FILE}: deploy.{key}.{SCHEDULER_ADDRESS_ENV} is set by the export to "
                f"the scheduler of {DASK_KEY}; remove it (or disable the cluster)"
            )
    return {SCHEDULER_ADDRESS_ENV: scheduler_address(plan)}


def labels(plan: DeploymentPlan, component: str | None = None) -> dict[str, str]:
    """Labels of the cluster and of its pods: the cluster, its part, the workflow it serves."""
    shaped = {"app.kubernetes.io/name": cluster_name(plan)}
    if component:
        shaped["app.kubernetes.io/component"] = component
    return {**shaped, "app.kubernetes.io/part-of": plan.name}


def container_env(plan: DeploymentPlan) -> list[dict[str, str]]:
    """The steps' plain variables, a writable HOME and the project's code on the import path."""
    # no secrets: they stay with the steps, whose tasks carry their arguments to the workers
    values = {**WRITABLE_ENV, "PYTHONPATH": SRC_PATH, **plan.env}
    return [{"name": name, "value": value} for name, value in values.items()]


def pod_security() -> dict[str, Any]:
    """The Pod Security Standard `restricted`, as the image's user."""
    return {
        "runAsNonRoot": True,
        "runAsUser": IMAGE_USER,
        "runAsGroup": IMAGE_USER,
        "fsGroup": IMAGE_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def scratch_volume(size: str) -> dict[str, Any]:
    """/tmp as an emptyDir: the one writable place on the read-only root, capped at `size`."""
    return {"name": TMP_VOLUME, "emptyDir": {"sizeLimit": size}}


def dask_bytes(memory_gb: float) -> str:
    """A size in Dask's notation ('8GiB', '1536MiB'), equal to the Kubernetes quantity."""
    return f"{memory_quantity(memory_gb)}B"


def worker_command(dask: KubernetesDask) -> list[str]:
    """`dask worker` in the operator's standard form, sized by the dask block."""
    return [
        *("dask", "worker", "--name", "$(DASK_WORKER_NAME)"),
        *("--dashboard", "--dashboard-address", str(WORKER_DASHBOARD_PORT)),
        *("--nthreads", str(dask.threads_per_worker)),
        # the container's memory limit, which Dask's `auto` would read from the cgroup: stated so
        # the worker pauses and spills before the kernel kills it
        *("--memory-limit", dask_bytes(dask.memory_gb)),
        *("--local-directory", TMP_PATH),
    ]


def scheduler_command() -> list[str]:
    """`dask scheduler` on every interface of its pod, on the ports its Service forwards."""
    return [
        *("dask", "scheduler", "--host", "0.0.0.0", "--port", str(COMM_PORT)),
        *("--dashboard-address", f":{DASHBOARD_PORT}"),
    ]


def worker_resources(dask: KubernetesDask) -> dict[str, dict[str, str]]:
    """A worker's requests and limits: CPU not capped, memory capped, scratch disk requested."""
    memory = memory_quantity(dask.memory_gb)
    return {
        # the disk request places the pod on a node with room for its spilled data
        "requests": {
            "cpu": cpu_quantity(dask.cpu),
            "memory": memory,
            "ephemeral-storage": memory_quantity(dask.disk_gb),
        },
        "limits": {"memory": memory},
    }


def scheduler_resources(scheduler: DaskScheduler) -> dict[str, dict[str, str]]:
    """The scheduler's requests and limits: CPU not capped, memory capped."""
    memory = memory_quantity(scheduler.memory_gb)
    return {
        "requests": {"cpu": cpu_quantity(scheduler.cpu), "memory": memory},
        "limits": {"memory": memory},
    }


def health_probe(period: int, delay: int) -> dict[str, Any]:
    """The scheduler's /health on its dashboard port (it needs no credentials)."""
    return {
        "httpGet": {"path": HEALTH_PATH, "port": DASHBOARD_PORT_NAME},
        "initialDelaySeconds": delay,
        "periodSeconds": period,
    }


def container(plan: DeploymentPlan, name: str, command: list[str]) -> dict[str, Any]:
    """A container of the project image running `command`, restricted, with /tmp writable."""
    return {
        "name": name,
        "image": plan.image,
        "command": command,
        "env": container_env(plan),
        "securityContext": container_security(),
        "volumeMounts": [{"name": TMP_VOLUME, "mountPath": TMP_PATH}],
    }


def pod_basics(account: str | None) -> dict[str, Any]:
    """Identity and security shared by scheduler and worker pods."""
    spec: dict[str, Any] = {"serviceAccountName": account} if account else {}
    # Dask never calls the Kubernetes API; cloud identities (IRSA, workload identity) mount
    # their own token and do not need this one
    return spec | {"automountServiceAccountToken": False, "securityContext": pod_security()}


def worker_spec(plan: DeploymentPlan, dask: KubernetesDask) -> dict[str, Any]:
    """The worker group: replicas of a pod running `dask worker` as the steps' service account."""
    worker = container(plan, "worker", worker_command(dask))
    worker["ports"] = [
        {"name": DASHBOARD_PORT_NAME, "containerPort": WORKER_DASHBOARD_PORT, "protocol": "TCP"}
    ]
    worker["resources"] = worker_resources(dask)
    spec = pod_basics(plan.service_account) | {
        "containers": [worker],
        "volumes": [scratch_volume(memory_quantity(dask.disk_gb))],
    }
    return {
        "replicas": dask.workers,
        "metadata": {"labels": labels(plan, "dask-worker")},
        "spec": spec,
    }


def scheduler_service(plan: DeploymentPlan) -> dict[str, Any]:
    """A ClusterIP Service for the steps and workers (8786) and the dashboard (8787)."""
    ports = ((COMM_PORT_NAME, COMM_PORT), (DASHBOARD_PORT_NAME, DASHBOARD_PORT))
    return {
        "type": "ClusterIP",
        "selector": {CLUSTER_LABEL: cluster_name(plan), COMPONENT_LABEL: "scheduler"},
        "ports": [
            {"name": name, "protocol": "TCP", "port": port, "targetPort": name}
            for name, port in ports
        ],
    }


def scheduler_spec(plan: DeploymentPlan, dask: KubernetesDask) -> dict[str, Any]:
    """The scheduler pod, with health probes, and its Service."""
    scheduler = container(plan, "scheduler", scheduler_command())
    scheduler["ports"] = [
        {"name": COMM_PORT_NAME, "containerPort": COMM_PORT, "protocol": "TCP"},
        {"name": DASHBOARD_PORT_NAME, "containerPort": DASHBOARD_PORT, "protocol": "TCP"},
    ]
    scheduler["resources"] = scheduler_resources(dask.scheduler)
    scheduler["readinessProbe"] = health_probe(period=10, delay=5)
    scheduler["livenessProbe"] = health_probe(period=20, delay=15)
    spec = pod_basics(None) | {"containers": [scheduler], "volumes": [scratch_volume(TMP_SIZE)]}
    return {
        "metadata": {"labels": labels(plan, "dask-scheduler")},
        "spec": spec,
        "service": scheduler_service(plan),
    }


def build_manifest(plan: DeploymentPlan) -> dict[str, Any]:
    """The DaskCluster of the plan's dask block."""
    dask = plan.targets.kubernetes.dask
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": cluster_name(plan),
            "namespace": plan.targets.kubernetes.namespace,
            "labels": labels(plan),
        },
        "spec": {"worker": worker_spec(plan, dask), "scheduler": scheduler_spec(plan, dask)},
    }


@cache
def crd() -> dict[str, Any]:
    """The operator's DaskCluster CustomResourceDefinition, as vendored."""
    text = (files("cirrus.deploy") / "schemas" / CRD_FILE).read_text()
    # libyaml where available: the CRD is 280 kB, five times faster to read than in Python
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def strict_schema(node: Any) -> Any:
    """The schema with every object that declares its keys closed to any other key."""
    # The API server drops a custom resource's unknown keys silently, or refuses them under
    # `kubectl apply`'s strict field validation: either way a misspelt setting never takes effect.
    if isinstance(node, list):
        return [strict_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    closed = {
        key: {name: strict_schema(sub) for name, sub in value.items()}
        if key == "properties"
        else strict_schema(value)
        for key, value in node.items()
    }
    if "properties" in node and "additionalProperties" not in node:
        closed["additionalProperties"] = False
    return closed


@cache
def manifest_schema() -> dict[str, Any]:
    """The CRD's schema of the whole object: its version and kind, metadata, a closed spec."""
    definition = crd()["spec"]
    [version] = [v for v in definition["versions"] if v["name"] == API_VERSION.split("/")[1]]
    schema = strict_schema(version["schema"]["openAPIV3Schema"])
    schema["properties"] = {
        "apiVersion": {"enum": [f"{definition['group']}/{version['name']}"]},
        "kind": {"enum": [definition["names"]["kind"]]},
        "metadata": {"type": "object", "required": ["name"]},
        **schema["properties"],
    }
    schema["required"] = ["apiVersion", "kind", "metadata", *schema.get("required", [])]
    return schema


def schema_problems(manifest: dict[str, Any]) -> list[str]:
    """Where the manifest breaks the operator's CRD schema, by dotted path."""
    # with the deploy extra (sagemaker needs it); imported only when a cluster is exported
    import jsonschema

    # a CRD's structural schema is OpenAPI v3.0, which draws on JSON Schema draft 4
    validator = jsonschema.Draft4Validator(manifest_schema())
    return [
        f"{'.'.join(map(str, error.absolute_path)) or '(manifest)'}: {error.message[:200]}"
        for error in validator.iter_errors(manifest)
    ]


def reference_problems(manifest: dict[str, Any]) -> list[str]:
    """What the schema cannot see: the Service must reach this cluster's scheduler container."""
    scheduler = manifest["spec"]["scheduler"]
    service = scheduler["service"]
    expected = {CLUSTER_LABEL: manifest["metadata"]["name"], COMPONENT_LABEL: "scheduler"}
    problems = []
    if service.get("selector") != expected:
        problems.append(f"the Service selects {service.get('selector')}, not {expected}")
    declared = {p.get("name") for c in scheduler["spec"]["containers"] for p in c.get("ports", [])}
    for entry in service.get("ports", []):
        if entry.get("targetPort") not in declared:
            problems.append(
                f"the Service targets port '{entry.get('targetPort')}', not a container's"
            )
    if COMM_PORT not in {entry.get("port") for entry in service.get("ports", [])}:
        problems.append(f"the Service does not expose {COMM_PORT}, the steps' scheduler port")
    return problems


def validate_manifest(manifest: dict[str, Any]) -> None:
    """Refuse a manifest the operator's CRD would refuse, or whose Service reaches no scheduler."""
    problems = schema_problems(manifest)
    if problems:
        raise DaskClusterError(f"The DaskCluster breaks the CRD schema: {'; '.join(problems)}")
    problems = reference_problems(manifest)
    if problems:
        raise DaskClusterError(f"The DaskCluster is inconsistent: {'; '.join(problems)}")


def workflow_note(plan: DeploymentPlan) -> list[str]:
    """What the workflow's header says about the cluster its steps need, if any."""
    if not uses_dask(plan):
        return []
    return [
        f"Steps run `kedro run --env dask` on the DaskCluster {cluster_name(plan)}: apply "
        f"{CLUSTER_FILE} first."
    ]


def header(plan: DeploymentPlan) -> str:
    """Comment lines saying how the file was made, what it needs and how to use it."""
    name, namespace = cluster_name(plan), plan.targets.kubernetes.namespace
    lines = [
        f"Generated by `kedro cirrus export argo` from {DEPLOY_FILE} ({DASK_KEY}); do not edit.",
        f"Needs the dask-kubernetes operator ({OPERATOR_INSTALL}); checked against the "
        f"DaskCluster CRD of {CRD_SOURCE}.",
        f"Apply before submitting the workflow: kubectl apply -n {namespace} -f {CLUSTER_FILE}",
        f"The steps reach the scheduler at {scheduler_address(plan)}; dashboard: "
        f"kubectl -n {namespace} port-forward svc/{name}{SCHEDULER_SUFFIX} {DASHBOARD_PORT}",
    ]
    if plan.service_account:
        lines.append(
            f"Workers run as the service account {plan.service_account}, like the steps, so "
            "they read the storage root."
        )
    lines.append(
        f"It runs, and costs, until deleted: kubectl -n {namespace} delete daskcluster {name}"
    )
    return "".join(f"# {line}\n" for line in lines)


def export(plan: DeploymentPlan, out_dir: Path) -> list[Path]:
    """Write dask-cluster.yaml when the cluster is on, after checking it against the CRD."""
    if not uses_dask(plan):
        return []
    manifest = build_manifest(plan)
    validate_manifest(manifest)
    path = out_dir / CLUSTER_FILE
    body = yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False)
    path.write_text(header(plan) + body)
    return [path]

"""How a step's pod is shaped on Kubernetes, shared by Argo and Airflow's KubernetesPodOperator."""

from __future__ import annotations

from cirrus.deploy.deploy_yml import KubernetesTarget, StepResources

# The key inside each Kubernetes Secret of `secret_env` that holds the value, so
# CIRRUS_PII_SALT: cirrus-pii-salt needs
# `kubectl -n <namespace> create secret generic cirrus-pii-salt --from-literal=value=<salt>`.
SECRET_KEY = "value"
GPU_RESOURCE = "nvidia.com/gpu"


def cpu_quantity(cpu: float) -> str:
    """Kubernetes CPU quantity: whole cores as '4', fractions in millicores as '500m'."""
    return str(int(cpu)) if float(cpu).is_integer() else f"{round(cpu * 1000)}m"


def memory_quantity(memory_gb: float) -> str:
    """Kubernetes memory quantity: whole GiB as '16Gi', fractions in MiB as '512Mi'."""
    if float(memory_gb).is_integer():
        return f"{int(memory_gb)}Gi"
    return f"{round(memory_gb * 1024)}Mi"


def container_resources(resources: StepResources) -> dict[str, dict[str, str]]:
    """Requests and limits of a step's container.

    Memory is requested and capped at the declared size; CPU is requested but not capped, so a
    step may use idle cores instead of being throttled. GPUs are whole devices.
    """
    memory = memory_quantity(resources.memory_gb)
    requests = {"cpu": cpu_quantity(resources.cpu), "memory": memory}
    limits = {"memory": memory}
    if resources.gpu:
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(resources.gpu)
    return {"requests": requests, "limits": limits}


def node_selector(resources: StepResources, target: KubernetesTarget) -> dict[str, str]:
    """Node labels a step's pod must land on: spot capacity and the GPU type, when asked for."""
    selector = dict(target.spot_node_selector) if resources.spot else {}
    if resources.gpu and resources.gpu_type:
        selector[target.gpu_type_label] = resources.gpu_type
    return selector


def tolerations(resources: StepResources, target: KubernetesTarget) -> list[dict[str, str]]:
    """The taints a spot step's pod tolerates; none for other steps."""
    if not resources.spot:
        return []
    return [toleration.model_dump(exclude_none=True) for toleration in target.spot_tolerations]

"""The prediction API on Kubernetes: a Deployment, a ClusterIP Service and an autoscaler.

The pods run the project image with `kedro cirrus serve` instead of its `kedro run` entrypoint,
read the model under the storage root like every step (same environment, same service account
unless `targets.kubernetes.serving.service_account` names another) and take the API's bearer
token from a Kubernetes Secret. Every endpoint but `/healthz` requires the token, and kubelet
HTTP probes cannot send a header read from a Secret, so readiness is an exec probe: a one-line
Python request to `/readyz` from inside the container, with the token from its environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cirrus.deploy.deploy_yml import DEPLOY_FILE, KubernetesServing
from cirrus.deploy.kubernetes import SECRET_KEY, cpu_quantity, memory_quantity
from cirrus.deploy.plan import DeploymentPlan, PlanError

MANIFEST_FILE = "serving.yaml"
TARGET = "kubernetes-serving"
SERVING_KEY = "deploy.targets.kubernetes.serving"
# What the container runs instead of the image's `kedro run --env cloud` entrypoint.
SERVE_COMMAND = ("kedro", "cirrus", "serve", "--env", "cloud")
# The server reads its bearer token from this variable.
API_TOKEN_ENV = "CIRRUS_API_TOKEN"
# The Dockerfile's `USER 10001:10001`, stated so the kubelet can check runAsNonRoot itself.
IMAGE_USER = 10001
CONTAINER = "api"
PORT_NAME = "http"
NAME_SUFFIX = "-api"
MAX_NAME_LENGTH = 63  # Service names are DNS-1035 labels
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
# The root filesystem is read-only; /tmp is the pod's one writable place. Capped so a runaway
# temporary file evicts the pod instead of filling the node's disk.
TMP_VOLUME = "tmp"
TMP_PATH = "/tmp"
TMP_SIZE = "1Gi"
# Kedro writes nothing at start-up (telemetry is off, its file log handler is unused), but the
# image's HOME is on the read-only root: libraries that cache under ~ (~/.cache, ~/.config: cloud
# SDK token caches, kedro-telemetry's id if it is ever enabled) write to /tmp instead of failing.
WRITABLE_ENV = {"HOME": TMP_PATH}
# Removing a pod from the Service's endpoints races with its SIGTERM; waiting this long before
# the signal lets load balancers stop sending it new requests, so none are refused mid-rollout.
DRAIN_SECONDS = 5
# Loading the model from object storage may take minutes; liveness starts only once /healthz
# answers, so a slow start is not mistaken for a hung process.
STARTUP_PERIOD_SECONDS = 5
STARTUP_FAILURES = 60


class ServingExportError(PlanError):
    """The serving manifests would be rejected by Kubernetes or would not fit together."""


def api_name(plan: DeploymentPlan) -> str:
    """The name of the Deployment, Service and autoscaler: the workflow name plus '-api'."""
    name = f"{plan.name}{NAME_SUFFIX}"
    if len(name) > MAX_NAME_LENGTH:
        limit = MAX_NAME_LENGTH - len(NAME_SUFFIX)
        raise ServingExportError(
            f"{DEPLOY_FILE}: deploy.name '{plan.name}' is too long for the serving objects "
            f"('{name}' has more than {MAX_NAME_LENGTH} characters); use at most {limit}"
        )
    return name


def selector_labels(plan: DeploymentPlan) -> dict[str, str]:
    """The labels that pick the API's pods, for the Deployment's selector and the Service."""
    return {"app.kubernetes.io/name": api_name(plan), "app.kubernetes.io/component": "serving"}


def labels(plan: DeploymentPlan) -> dict[str, str]:
    """Labels of every object and pod: the selector plus the workflow they belong to."""
    return {**selector_labels(plan), "app.kubernetes.io/part-of": plan.name}


def metadata(plan: DeploymentPlan) -> dict[str, Any]:
    """Name, namespace and labels shared by the three objects."""
    return {
        "name": api_name(plan),
        "namespace": plan.targets.kubernetes.namespace,
        "labels": labels(plan),
    }


def service_account(plan: DeploymentPlan) -> str | None:
    """The pods' identity: the serving block's own, else the one every step runs as."""
    return plan.targets.kubernetes.serving.service_account or plan.service_account


def serve_command(serving: KubernetesServing) -> list[str]:
    """The container's command: the API on every interface of the pod, at the container port."""
    return [
        *SERVE_COMMAND,
        *("--host", "0.0.0.0", "--port", str(serving.port), "--workers", str(serving.workers)),
    ]


def secret_ref(name: str, secret: str, key: str) -> dict[str, Any]:
    """An environment variable read from a Secret's key, never written into the manifest."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def check_token_not_redeclared(plan: DeploymentPlan) -> None:
    """The token comes from token_secret only; a second source would silently shadow it."""
    if API_TOKEN_ENV in plan.env or API_TOKEN_ENV in plan.secret_env:
        raise ServingExportError(
            f"{DEPLOY_FILE}: {API_TOKEN_ENV} is set in deploy.env or deploy.secret_env; the API "
            f"token comes from {SERVING_KEY}.token_secret only, so remove it there"
        )


def container_env(plan: DeploymentPlan, serving: KubernetesServing) -> list[dict[str, Any]]:
    """The steps' variables and secrets, a writable HOME, and the token from its Secret."""
    values = {**WRITABLE_ENV, **plan.env}
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in values.items()]
    env += [secret_ref(var, secret, SECRET_KEY) for var, secret in plan.secret_env.items()]
    token = serving.token_secret
    env.append(secret_ref(API_TOKEN_ENV, token.name, token.key))
    return env


def serving_resources(serving: KubernetesServing) -> dict[str, dict[str, str]]:
    """Requests and limits of the API container; memory is capped at the request unless raised."""
    requests, limits = serving.requests, serving.limits
    shaped = {
        "requests": {
            "cpu": cpu_quantity(requests.cpu),
            "memory": memory_quantity(requests.memory_gb),
        },
        "limits": {"memory": memory_quantity(limits.memory_gb or requests.memory_gb)},
    }
    if limits.cpu is not None:
        shaped["limits"]["cpu"] = cpu_quantity(limits.cpu)
    return shaped


def http_probe(path: str, period: int, timeout: int, failures: int) -> dict[str, Any]:
    """A kubelet HTTP GET on the container port; it sends no Authorization header."""
    return {
        "httpGet": {"path": path, "port": PORT_NAME},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def ready_probe(port: int) -> dict[str, Any]:
    """/readyz with the bearer token, asked from inside the container (exit 1 unless 200)."""
    script = (
        "import os, urllib.request as r; r.urlopen(r.Request("
        f"'http://127.0.0.1:{port}{READY_PATH}', headers={{'Authorization': 'Bearer ' + "
        f"os.environ['{API_TOKEN_ENV}']}}), timeout=3)"
    )
    return {
        "exec": {"command": ["python", "-c", script]},
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }


def probes(port: int) -> dict[str, dict[str, Any]]:
    """Startup and liveness on /healthz (process up), readiness on /readyz (model loaded)."""
    return {
        "startupProbe": http_probe(HEALTH_PATH, STARTUP_PERIOD_SECONDS, 3, STARTUP_FAILURES),
        # a generous timeout: a pod busy predicting is slow, not dead, and must not be restarted
        "livenessProbe": http_probe(HEALTH_PATH, 10, 5, 3),
        "readinessProbe": ready_probe(port),
    }


def container_security() -> dict[str, Any]:
    """The Pod Security Standard `restricted`, plus a read-only root filesystem."""
    return {
        "runAsNonRoot": True,
        "runAsUser": IMAGE_USER,
        "runAsGroup": IMAGE_USER,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container(plan: DeploymentPlan, serving: KubernetesServing) -> dict[str, Any]:
    """The API container: image, command, port, env, resources, probes and shutdown."""
    return {
        "name": CONTAINER,
        "image": plan.image,
        "command": serve_command(serving),
        "ports": [{"name": PORT_NAME, "containerPort": serving.port, "protocol": "TCP"}],
        "env": container_env(plan, serving),
        "resources": serving_resources(serving),
        **probes(serving.port),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(DRAIN_SECONDS)]}}},
        "securityContext": container_security(),
        "volumeMounts": [{"name": TMP_VOLUME, "mountPath": TMP_PATH}],
    }


def pod_spec(plan: DeploymentPlan, serving: KubernetesServing) -> dict[str, Any]:
    """The API pod: identity, shutdown time, security, spread over nodes, scratch space."""
    account = service_account(plan)
    spec: dict[str, Any] = {"serviceAccountName": account} if account else {}
    spec |= {
        # the server never calls the Kubernetes API; cloud identities (IRSA, workload identity)
        # mount their own token and do not need this one
        "automountServiceAccountToken": False,
        # includes the preStop wait; the rest is for in-flight requests and the prediction log
        "terminationGracePeriodSeconds": serving.termination_grace_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": IMAGE_USER,
            "runAsGroup": IMAGE_USER,
            "fsGroup": IMAGE_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # replicas on different nodes where possible, so one node going away keeps the API up
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector_labels(plan)},
            }
        ],
        "containers": [container(plan, serving)],
        "volumes": [{"name": TMP_VOLUME, "emptyDir": {"sizeLimit": TMP_SIZE}}],
    }
    return spec


def deployment(plan: DeploymentPlan, serving: KubernetesServing) -> dict[str, Any]:
    """The Deployment; a rollout adds a pod before removing one, so capacity never drops."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(plan),
        "spec": {
            "replicas": serving.replicas,
            "selector": {"matchLabels": selector_labels(plan)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": labels(plan)},
                "spec": pod_spec(plan, serving),
            },
        },
    }


def service(plan: DeploymentPlan, serving: KubernetesServing) -> dict[str, Any]:
    """A ClusterIP Service: the service port forwarded to the container's named port."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(plan),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(plan),
            "ports": [
                {
                    "name": PORT_NAME,
                    "port": serving.service_port,
                    "targetPort": PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }


def autoscaler(plan: DeploymentPlan, serving: KubernetesServing) -> dict[str, Any]:
    """An autoscaling/v2 HorizontalPodAutoscaler on average CPU, in percent of the request."""
    bounds = serving.autoscaling
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(plan),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": api_name(plan),
            },
            "minReplicas": bounds.min_replicas,
            "maxReplicas": bounds.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": bounds.target_cpu_utilization,
                        },
                    },
                }
            ],
        },
    }


def build_manifests(plan: DeploymentPlan) -> list[dict[str, Any]]:
    """The Deployment, the Service and the autoscaler of the plan's serving block."""
    check_token_not_redeclared(plan)
    serving = plan.targets.kubernetes.serving
    return [deployment(plan, serving), service(plan, serving), autoscaler(plan, serving)]


def _by_kind(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The manifests by kind (one of each)."""
    return {manifest.get("kind", ""): manifest for manifest in manifests}


def _selector_problems(deploy: dict[str, Any], svc: dict[str, Any]) -> list[str]:
    """The Deployment and the Service must both pick the Deployment's pods."""
    pod_labels = deploy["spec"]["template"]["metadata"].get("labels", {}).items()
    problems = []
    for kind, selector in (
        ("Deployment", deploy["spec"]["selector"].get("matchLabels", {})),
        ("Service", svc["spec"].get("selector", {})),
    ):
        if not selector or not selector.items() <= pod_labels:
            problems.append(f"the {kind}'s selector does not match the pod labels")
    return problems


def _port_problems(pod: dict[str, Any], svc: dict[str, Any]) -> list[str]:
    """The Service and the probes must call a port a container declares."""
    declared = [port for c in pod.get("containers", []) for port in c.get("ports", [])]
    ports = {p.get("name") for p in declared} | {p.get("containerPort") for p in declared}
    problems = [
        f"the Service targets port '{entry.get('targetPort')}', not a container's"
        for entry in svc["spec"].get("ports", [])
        if entry.get("targetPort") not in ports
    ]
    for c in pod.get("containers", []):
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            port = c.get(kind, {}).get("httpGet", {}).get("port")
            if "httpGet" in c.get(kind, {}) and port not in ports:
                problems.append(f"the {kind} of '{c.get('name')}' calls port '{port}'")
    return problems


def _autoscaler_problems(deploy: dict[str, Any], hpa: dict[str, Any]) -> list[str]:
    """The autoscaler must scale this Deployment, whose containers all request CPU."""
    target = hpa["spec"]["scaleTargetRef"]
    problems = []
    if (target.get("kind"), target.get("name")) != ("Deployment", deploy["metadata"]["name"]):
        problems.append(f"the autoscaler scales {target.get('kind')} '{target.get('name')}'")
    for c in deploy["spec"]["template"]["spec"].get("containers", []):
        if "cpu" not in c.get("resources", {}).get("requests", {}):
            problems.append(f"'{c.get('name')}' requests no CPU, so its utilization is undefined")
    return problems


def reference_problems(manifests: list[dict[str, Any]]) -> list[str]:
    """What the schema cannot see: selectors, ports and the autoscaler's target must match."""
    kinds = _by_kind(manifests)
    missing = [k for k in ("Deployment", "Service", "HorizontalPodAutoscaler") if k not in kinds]
    if missing:
        return [f"missing {', '.join(missing)}"]
    deploy, svc = kinds["Deployment"], kinds["Service"]
    return [
        *_selector_problems(deploy, svc),
        *_port_problems(deploy["spec"]["template"]["spec"], svc),
        *_autoscaler_problems(deploy, kinds["HorizontalPodAutoscaler"]),
    ]


def check_manifests(manifests: list[dict[str, Any]]) -> None:
    """Refuse manifests that do not fit together."""
    problems = reference_problems(manifests)
    if problems:
        raise ServingExportError(f"The serving manifests are inconsistent: {'; '.join(problems)}")


def header(plan: DeploymentPlan) -> str:
    """Comment lines saying how the file was made, what it needs and how to apply it."""
    serving = plan.targets.kubernetes.serving
    namespace = plan.targets.kubernetes.namespace
    token = serving.token_secret
    secrets = [f"{token.name} (key '{token.key}', the API token)"]
    secrets += [f"{name} (key '{SECRET_KEY}')" for name in plan.secret_env.values()]
    lines = [
        f"Generated by `kedro cirrus export {TARGET}` from {DEPLOY_FILE}; do not edit.",
        f"Apply: kubectl apply -n {namespace} -f {MANIFEST_FILE}",
        f"Needs the Kubernetes Secrets: {', '.join(secrets)}.",
    ]
    account = service_account(plan)
    if account:
        lines.append(
            f"Runs as the service account {account}, bound to a cloud identity that can read "
            "the storage root."
        )
    lines += [
        f"Clients in the cluster call http://{api_name(plan)}.{namespace}:{serving.service_port}"
        " with `Authorization: Bearer <token>`.",
        f"The readiness probe asks {READY_PATH} from inside the pod with the token (kubelet HTTP "
        "probes cannot send a Secret).",
        f"The autoscaler owns the replica count; re-applying this file resets it to "
        f"{serving.replicas} until the autoscaler scales again.",
    ]
    return "".join(f"# {line}\n" for line in lines)


def export(plan: DeploymentPlan, out_dir: Path) -> list[Path]:
    """Write serving.yaml (Deployment, Service, autoscaler) after checking they fit together."""
    manifests = build_manifests(plan)
    check_manifests(manifests)
    path = out_dir / MANIFEST_FILE
    body = yaml.safe_dump_all(manifests, sort_keys=False, default_flow_style=False)
    path.write_text(header(plan) + body)
    return [path]

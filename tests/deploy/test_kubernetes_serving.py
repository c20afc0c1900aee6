"""The serving export: Kubernetes' own schemas accept the manifests, and they match deploy.yml."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from cirrus.deploy.deploy_yml import DeployConfigError, KubernetesServing, parse_deploy
from cirrus.deploy.export import TARGETS, export
from cirrus.deploy.kubernetes_serving import (
    API_TOKEN_ENV,
    ServingExportError,
    build_manifests,
    check_manifests,
)
from cirrus.deploy.plan import DeploymentPlan
from cirrus.storage import STORAGE_ROOT_ENV
from tests.conftest import REPO, kedro, make_project
from tests.deploy.conftest import STORAGE_ROOT

TARGET = "kubernetes-serving"
# The oldest schema kubernetes-validate ships and the newest: every cluster in between accepts it.
KUBERNETES_VERSIONS = ("1.25", kubernetes_validate.latest_version())
KINDS = ["Deployment", "Service", "HorizontalPodAutoscaler"]


def committed_serving() -> dict[str, Any]:
    """The serving block as written in conf/base/deploy.yml."""
    deploy = yaml.safe_load((REPO / "conf/base/deploy.yml").read_text())["deploy"]
    return deploy["targets"]["kubernetes"]["serving"]


def with_serving(plan: DeploymentPlan, **changes: Any) -> DeploymentPlan:
    """The plan with some keys of its serving block changed, validated as deploy.yml would be."""
    kubernetes = plan.targets.kubernetes
    serving = KubernetesServing.model_validate({**kubernetes.serving.model_dump(), **changes})
    targets = plan.targets.model_copy(
        update={"kubernetes": kubernetes.model_copy(update={"serving": serving})}
    )
    return dataclasses.replace(plan, targets=targets)


def exported(plan: DeploymentPlan, build_dir: Path) -> dict[str, dict[str, Any]]:
    """The manifests the export writes, read back from its YAML file, by kind."""
    [path] = export(TARGET, plan, build_dir)
    assert path.name == "serving.yaml"
    documents = list(yaml.safe_load_all(path.read_text()))
    assert [doc["kind"] for doc in documents] == KINDS
    return {doc["kind"]: doc for doc in documents}


def pod_of(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The Deployment's pod spec."""
    return manifests["Deployment"]["spec"]["template"]["spec"]


def api_container(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The one container of the API pod."""
    [container] = pod_of(manifests)["containers"]
    return container


def container_port(container: dict[str, Any], reference: str | int) -> int:
    """The containerPort a Service or probe reaches by port name or number."""
    [port] = [p for p in container["ports"] if reference in (p["name"], p["containerPort"])]
    return port["containerPort"]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The container's environment by variable name."""
    return {entry["name"]: entry for entry in container["env"]}


@pytest.fixture
def manifests(plan: DeploymentPlan, build_dir: Path) -> dict[str, dict[str, Any]]:
    """The exported manifests of the committed project."""
    return exported(plan, build_dir)


def test_target_is_registered_for_the_cli() -> None:
    # the CLI's choices and `all` are TARGETS' keys
    assert TARGET in TARGETS


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_are_accepted_by_the_kubernetes_schemas(
    manifests: dict[str, dict[str, Any]], version: str
) -> None:
    for kind in KINDS:
        kubernetes_validate.validate(manifests[kind], version, strict=True)


def test_strict_schema_refuses_a_misspelt_key(manifests: dict[str, dict[str, Any]]) -> None:
    broken = copy.deepcopy(manifests["Deployment"])
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")

    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_container_serves_the_api_from_the_project_image(
    plan: DeploymentPlan, manifests: dict[str, dict[str, Any]]
) -> None:
    container = api_container(manifests)
    serving = committed_serving()

    assert container["image"] == plan.image
    # `command` replaces the image's `kedro run` entrypoint
    assert container["command"] == [
        *("kedro", "cirrus", "serve", "--env", "cloud", "--host", "0.0.0.0"),
        *("--port", str(serving["port"]), "--workers", str(serving["workers"])),
    ]
    assert "args" not in container
    assert container_port(container, "http") == serving["port"] == 8080


def test_probes_call_healthz_and_readyz_on_the_container_port(
    manifests: dict[str, dict[str, Any]],
) -> None:
    container = api_container(manifests)
    port = committed_serving()["port"]

    paths = {kind: container[kind]["httpGet"]["path"] for kind in ("startupProbe", "livenessProbe")}
    assert paths == {"startupProbe": "/healthz", "livenessProbe": "/healthz"}
    for kind in ("startupProbe", "livenessProbe"):
        probe = container[kind]["httpGet"]
        assert container_port(container, probe["port"]) == port
        assert "httpHeaders" not in probe  # /healthz is the one endpoint without the token
    # /readyz needs the token, which kubelet HTTP probes cannot send: asked from inside the pod
    command = container["readinessProbe"]["exec"]["command"]
    assert command[:2] == ["python", "-c"]
    assert f"http://127.0.0.1:{port}/readyz" in command[2]
    assert "os.environ['CIRRUS_API_TOKEN']" in command[2]


def test_token_comes_from_its_secret_and_is_never_written(
    plan: DeploymentPlan, build_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    literal = "tok-3f9a1c-never-in-a-manifest"
    monkeypatch.setenv(API_TOKEN_ENV, literal)  # a token in the exporting shell stays there

    manifests = exported(plan, build_dir)
    env = env_of(api_container(manifests))

    assert env[API_TOKEN_ENV] == {
        "name": API_TOKEN_ENV,
        "valueFrom": {"secretKeyRef": {"name": "cirrus-api-token", "key": "token"}},
    }
    assert committed_serving()["token_secret"] == {"name": "cirrus-api-token", "key": "token"}
    assert literal not in (build_dir / "serving.yaml").read_text()
    for name, secret in plan.secret_env.items():
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "value"}
        assert "value" not in env[name]


def test_pods_read_the_model_where_the_steps_write_it(
    plan: DeploymentPlan, manifests: dict[str, dict[str, Any]]
) -> None:
    env = env_of(api_container(manifests))

    assert env[STORAGE_ROOT_ENV]["value"] == STORAGE_ROOT
    assert {name: env[name]["value"] for name in plan.env} == dict(plan.env)
    assert pod_of(manifests)["serviceAccountName"] == plan.service_account == "cirrus-runner"
    for manifest in manifests.values():
        assert manifest["metadata"]["namespace"] == plan.targets.kubernetes.namespace


def test_serving_may_run_as_its_own_service_account(plan: DeploymentPlan, build_dir: Path) -> None:
    manifests = exported(with_serving(plan, service_account="cirrus-api"), build_dir)

    assert pod_of(manifests)["serviceAccountName"] == "cirrus-api"


def test_runs_as_the_image_user_on_a_read_only_root(
    manifests: dict[str, dict[str, Any]],
) -> None:
    dockerfile = DockerfileParser(fileobj=(REPO / "Dockerfile").open("rb"))
    [*_, user] = [i["value"] for i in dockerfile.structure if i["instruction"] == "USER"]
    pod, container = pod_of(manifests), api_container(manifests)
    security = container["securityContext"]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == int(user.split(":")[0]) == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False


def test_only_tmp_is_writable_and_home_points_there(manifests: dict[str, dict[str, Any]]) -> None:
    pod, container = pod_of(manifests), api_container(manifests)
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    [mount] = container["volumeMounts"]

    assert mount["mountPath"] == "/tmp"
    assert "emptyDir" in volumes[mount["name"]]
    assert env_of(container)["HOME"]["value"] == "/tmp"


def test_resources_follow_the_serving_block(
    plan: DeploymentPlan, build_dir: Path, manifests: dict[str, dict[str, Any]]
) -> None:
    assert committed_serving()["requests"] == {"cpu": 1, "memory_gb": 2}
    assert api_container(manifests)["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"memory": "2Gi"},  # CPU not capped, memory capped at the request
    }

    sized = with_serving(
        plan, requests={"cpu": 0.5, "memory_gb": 1.5}, limits={"cpu": 2, "memory_gb": 3}
    )
    assert api_container(exported(sized, build_dir))["resources"] == {
        "requests": {"cpu": "500m", "memory": "1536Mi"},
        "limits": {"memory": "3Gi", "cpu": "2"},
    }


def test_autoscaler_bounds_and_replicas_are_the_yaml(manifests: dict[str, dict[str, Any]]) -> None:
    serving = committed_serving()
    hpa, deploy = manifests["HorizontalPodAutoscaler"], manifests["Deployment"]

    assert hpa["spec"]["minReplicas"] == serving["autoscaling"]["min_replicas"]
    assert hpa["spec"]["maxReplicas"] == serving["autoscaling"]["max_replicas"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": serving["autoscaling"]["target_cpu_utilization"],
    }
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deploy["metadata"]["name"],
    }
    assert deploy["spec"]["replicas"] == serving["replicas"]


def test_service_forwards_its_port_to_the_api_pods(manifests: dict[str, dict[str, Any]]) -> None:
    svc, deploy = manifests["Service"], manifests["Deployment"]
    pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
    [port] = svc["spec"]["ports"]

    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert port["port"] == committed_serving()["service_port"] == 80
    assert container_port(api_container(manifests), port["targetPort"]) == 8080
    assert svc["metadata"]["name"] == deploy["metadata"]["name"] == "cirrus-credit-default-api"


def test_shutdown_drains_then_gives_the_server_its_grace_period(
    manifests: dict[str, dict[str, Any]],
) -> None:
    grace = pod_of(manifests)["terminationGracePeriodSeconds"]
    drain = api_container(manifests)["lifecycle"]["preStop"]["exec"]["command"]

    assert grace == committed_serving()["termination_grace_seconds"] == 30
    assert drain[0] == "sleep" and int(drain[1]) < grace
    strategy = manifests["Deployment"]["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0


@pytest.mark.parametrize(
    ("serving", "message"),
    [
        (
            {"autoscaling": {"min_replicas": 5, "max_replicas": 3}},
            "'deploy.targets.kubernetes.serving.autoscaling.max_replicas': "
            "max_replicas 3 is below min_replicas 5",
        ),
        (
            {"replicas": 9},
            "'deploy.targets.kubernetes.serving.autoscaling': replicas 9 is outside "
            "min_replicas..max_replicas (2..4)",
        ),
        ({"replika": 3}, "unknown key 'deploy.targets.kubernetes.serving.replika'"),
        (
            {"autoscaling": {"max": 3}},
            "unknown key 'deploy.targets.kubernetes.serving.autoscaling.max'",
        ),
        ({"port": 80}, "'deploy.targets.kubernetes.serving.port': port 80 is not in 1024-65535"),
        ({"port": 70000}, "'deploy.targets.kubernetes.serving.port': port 70000 is not in"),
        ({"service_port": 0}, "'deploy.targets.kubernetes.serving.service_port'"),
        ({"workers": 0}, "'deploy.targets.kubernetes.serving.workers'"),
        (
            {"limits": {"memory_gb": 1}},
            "'deploy.targets.kubernetes.serving.limits': memory_gb 1 is below requests.memory_gb 2",
        ),
        ({"token_secret": {"name": "API_Token"}}, "serving.token_secret.name"),
        (
            {"autoscaling": {"target_cpu_utilization": 0}},
            "serving.autoscaling.target_cpu_utilization",
        ),
    ],
)
def test_a_bad_serving_block_is_refused_naming_the_file_and_key(
    serving: dict[str, Any], message: str
) -> None:
    deploy = yaml.safe_load((REPO / "conf/base/deploy.yml").read_text())["deploy"]
    deploy["targets"]["kubernetes"]["serving"] = serving

    with pytest.raises(DeployConfigError) as refused:
        parse_deploy(deploy)

    assert "conf/base/deploy.yml" in str(refused.value)
    assert message in str(refused.value)


def test_the_token_has_one_source(plan: DeploymentPlan) -> None:
    shadowed = dataclasses.replace(plan, env={**plan.env, API_TOKEN_ENV: "plain"})

    with pytest.raises(ServingExportError, match="token_secret only"):
        build_manifests(shadowed)


def test_a_name_too_long_for_a_service_is_refused(plan: DeploymentPlan) -> None:
    with pytest.raises(ServingExportError, match=r"deploy\.name .* use at most 59"):
        build_manifests(dataclasses.replace(plan, name="a" * 61))


def test_manifests_that_do_not_fit_together_are_refused(plan: DeploymentPlan) -> None:
    manifests = build_manifests(plan)
    service, hpa = manifests[1], manifests[2]
    service["spec"]["ports"][0]["targetPort"] = "web"
    service["spec"]["selector"] = {"app.kubernetes.io/name": "other"}
    hpa["spec"]["scaleTargetRef"]["name"] = "other"

    with pytest.raises(ServingExportError) as refused:
        check_manifests(manifests)

    for problem in (
        "the Service's selector does not match",
        "the Service targets port 'web'",
        "the autoscaler scales Deployment 'other'",
    ):
        assert problem in str(refused.value)
    check_manifests(build_manifests(plan))


@pytest.mark.slow
def test_cli_writes_the_serving_manifests(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    out = tmp_path / "exports"

    result = kedro(
        project, "cirrus", "export", TARGET, "--out", str(out), env={STORAGE_ROOT_ENV: "gs://b/x"}
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    documents = list(yaml.safe_load_all((out / TARGET / "serving.yaml").read_text()))
    assert [doc["kind"] for doc in documents] == KINDS
    env = env_of(documents[0]["spec"]["template"]["spec"]["containers"][0])
    assert env[STORAGE_ROOT_ENV]["value"] == "gs://b/x"

"""The Dask cluster of the Argo steps: the operator's CRD accepts it, and it follows deploy.yml."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from kubernetes.utils.quantity import parse_quantity

from cirrus.deploy.dask_cluster import (
    CLUSTER_FILE,
    CRD_FILE,
    CRD_SOURCE,
    DaskClusterError,
    build_manifest,
    crd,
    manifest_schema,
    validate_manifest,
)
from cirrus.deploy.deploy_yml import DeployConfigError, KubernetesDask, parse_deploy
from cirrus.deploy.plan import IMAGE_PROJECT_DIR, DeploymentPlan
from cirrus.deploy.targets.argo import WORKFLOW_FILE, export
from cirrus.deploy.targets.argo import validate_manifest as validate_workflow
from cirrus.storage import STORAGE_ROOT_ENV
from tests.conftest import REPO, kedro, make_project
from tests.deploy.conftest import STORAGE_ROOT

SCHEMAS = REPO / "src/cirrus/deploy/schemas"
# The oldest schema kubernetes-validate ships and the newest: every cluster in between accepts it.
KUBERNETES_VERSIONS = ("1.25", kubernetes_validate.latest_version())
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
ADDRESS = "tcp://cirrus-credit-default-dask-scheduler.ml-pipelines.svc.cluster.local:8786"


def committed_dask() -> dict[str, Any]:
    """The dask block as written in conf/base/deploy.yml."""
    deploy = yaml.safe_load((REPO / "conf/base/deploy.yml").read_text())["deploy"]
    return deploy["targets"]["kubernetes"]["dask"]


def with_dask(plan: DeploymentPlan, **changes: Any) -> DeploymentPlan:
    """The plan with some keys of its dask block changed, validated as deploy.yml would be."""
    kubernetes = plan.targets.kubernetes
    dask = KubernetesDask.model_validate({**kubernetes.dask.model_dump(), **changes})
    targets = plan.targets.model_copy(
        update={"kubernetes": kubernetes.model_copy(update={"dask": dask})}
    )
    return dataclasses.replace(plan, targets=targets)


def exported(plan: DeploymentPlan, build_dir: Path) -> dict[str, str]:
    """The files the Argo export writes, by name."""
    build_dir.mkdir(parents=True, exist_ok=True)
    return {path.name: path.read_text() for path in export(plan, build_dir)}


def step_templates(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The workflow's container templates by name (the DAG template has none)."""
    spec = (
        workflow["spec"]["workflowSpec"] if workflow["kind"] == "CronWorkflow" else workflow["spec"]
    )
    return {t["name"]: t for t in spec["templates"] if "container" in t}


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The container's environment by variable name."""
    return {entry["name"]: entry for entry in container["env"]}


def worker_of(manifest: dict[str, Any]) -> dict[str, Any]:
    """The worker container."""
    [container] = manifest["spec"]["worker"]["spec"]["containers"]
    return container


def scheduler_of(manifest: dict[str, Any]) -> dict[str, Any]:
    """The scheduler container."""
    [container] = manifest["spec"]["scheduler"]["spec"]["containers"]
    return container


def option(command: list[str], name: str) -> str:
    """The value after an option of a command line."""
    return command[command.index(name) + 1]


def dask_cli(command: list[str]) -> Any:
    """The click context `dask <sub> ...` would run with, from the installed distributed."""
    pytest.importorskip("distributed")
    assert command[0] == "dask"
    [main] = [e.load() for e in entry_points(group="dask_cli") if e.name == command[1]]
    return main.make_context(" ".join(command[:2]), command[2:])


@pytest.fixture
def dask_plan(plan: DeploymentPlan) -> DeploymentPlan:
    """The committed plan with the Dask cluster enabled."""
    return with_dask(plan, enabled=True)


@pytest.fixture
def manifest(dask_plan: DeploymentPlan, build_dir: Path) -> dict[str, Any]:
    """The DaskCluster the Argo export writes for the committed dask block."""
    return yaml.safe_load(exported(dask_plan, build_dir)[CLUSTER_FILE])


def test_disabled_by_default_and_then_the_workflow_is_unchanged(
    plan: DeploymentPlan, build_dir: Path
) -> None:
    assert committed_dask()["enabled"] is False
    files = exported(plan, build_dir)
    resized = exported(with_dask(plan, workers=7, memory_gb=64), build_dir / "resized")

    assert list(files) == [WORKFLOW_FILE]  # no DaskCluster
    assert resized == files  # the disabled block's settings reach nothing
    workflow = yaml.safe_load(files[WORKFLOW_FILE])
    for step in plan.steps:
        container = step_templates(workflow)[step.name]["container"]
        assert container["command"] == step.command
        assert container["command"][:4] == ["kedro", "run", "--env", "cloud"]
        assert SCHEDULER_ENV not in env_of(container)
    assert "dask" not in files[WORKFLOW_FILE].split("apiVersion")[0].lower()


def test_enabled_steps_run_env_dask_against_the_cluster_scheduler(
    dask_plan: DeploymentPlan, build_dir: Path
) -> None:
    files = exported(dask_plan, build_dir)
    workflow = yaml.safe_load(files[WORKFLOW_FILE])
    cluster = yaml.safe_load(files[CLUSTER_FILE])

    assert list(files) == [WORKFLOW_FILE, CLUSTER_FILE]
    validate_workflow(workflow)
    templates = step_templates(workflow)
    assert list(templates) == dask_plan.step_names
    for step in dask_plan.steps:
        container = templates[step.name]["container"]
        assert container["command"] == ["kedro", "run", "--env", "dask", *step.selector]
        assert env_of(container)[SCHEDULER_ENV] == {"name": SCHEDULER_ENV, "value": ADDRESS}
        assert env_of(container)[STORAGE_ROOT_ENV]["value"] == STORAGE_ROOT
    # the address is the Service the operator names `<cluster>-scheduler`, on its comm port
    name, namespace = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
    assert f"tcp://{name}-scheduler.{namespace}.svc.cluster.local:8786" == ADDRESS
    assert namespace == dask_plan.targets.kubernetes.namespace
    assert f"DaskCluster {name}: apply {CLUSTER_FILE} first" in files[WORKFLOW_FILE]


def test_manifest_is_accepted_by_the_operators_crd_schema(manifest: dict[str, Any]) -> None:
    served = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]

    # as the API server reads the CRD (unknown keys pruned), and closed to undeclared keys
    jsonschema.Draft4Validator(served).validate(manifest)
    jsonschema.Draft4Validator(manifest_schema()).validate(manifest)
    validate_manifest(manifest)
    assert (manifest["apiVersion"], manifest["kind"]) == ("kubernetes.dask.org/v1", "DaskCluster")


def test_vendored_crd_is_the_daskcluster_of_the_named_release() -> None:
    definition = crd()
    readme = (SCHEMAS / "README.md").read_text()

    assert definition["kind"] == "CustomResourceDefinition"
    assert definition["metadata"]["name"] == "daskclusters.kubernetes.dask.org"
    assert [v["name"] for v in definition["spec"]["versions"] if v["served"]] == ["v1"]
    assert CRD_FILE in readme
    # unchanged from the wheel: the README's digest is the upstream file's
    assert hashlib.sha256((SCHEMAS / CRD_FILE).read_bytes()).hexdigest() in readme
    assert "`dask-kubernetes` 2026.3.0" in readme
    assert CRD_SOURCE == "dask-kubernetes 2026.3.0"


@pytest.mark.parametrize(
    ("path", "key", "value", "message"),
    [
        (("spec", "worker"), "replicas", "2", "spec.worker.replicas: '2' is not of type 'integer'"),
        (
            ("spec", "worker", "spec", "containers", 0),
            "comand",
            ["dask"],
            "'comand' was unexpected",
        ),
        (("spec",), "workers", {}, "'workers' was unexpected"),
    ],
)
def test_crd_schema_refuses_wrong_types_and_undeclared_keys(
    manifest: dict[str, Any], path: tuple[Any, ...], key: str, value: Any, message: str
) -> None:
    broken = copy.deepcopy(manifest)
    node = broken
    for part in path:
        node = node[part]
    node[key] = value

    with pytest.raises(DaskClusterError, match="breaks the CRD schema") as refused:
        validate_manifest(broken)

    assert message in str(refused.value)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_pods_and_service_are_accepted_by_the_kubernetes_schemas(
    manifest: dict[str, Any], version: str
) -> None:
    name = manifest["metadata"]["name"]
    for part in ("worker", "scheduler"):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"{name}-{part}", **manifest["spec"][part]["metadata"]},
            "spec": manifest["spec"][part]["spec"],
        }
        kubernetes_validate.validate(pod, version, strict=True)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{name}-scheduler"},
        "spec": manifest["spec"]["scheduler"]["service"],
    }
    kubernetes_validate.validate(service, version, strict=True)


def test_sizes_come_from_the_dask_block(
    dask_plan: DeploymentPlan, manifest: dict[str, Any], build_dir: Path
) -> None:
    assert committed_dask() == {
        "enabled": False,
        "workers": 2,
        "threads_per_worker": 1,
        "cpu": 1,
        "memory_gb": 8,
        "disk_gb": 20,
        "scheduler": {"cpu": 1, "memory_gb": 2},
    }
    worker, scheduler = worker_of(manifest), scheduler_of(manifest)
    assert manifest["spec"]["worker"]["replicas"] == 2
    assert option(worker["command"], "--nthreads") == "1"
    assert option(worker["command"], "--memory-limit") == "8GiB"
    assert worker["resources"] == {
        "requests": {"cpu": "1", "memory": "8Gi", "ephemeral-storage": "20Gi"},
        "limits": {"memory": "8Gi"},  # CPU not capped, memory capped, as for the steps
    }
    assert scheduler["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"memory": "2Gi"},
    }

    sized = with_dask(
        dask_plan,
        workers=5,
        threads_per_worker=4,
        cpu=3.5,
        memory_gb=12.5,
        disk_gb=50,
        scheduler={"cpu": 0.5, "memory_gb": 3},
    )
    resized = yaml.safe_load(exported(sized, build_dir / "sized")[CLUSTER_FILE])
    worker, scheduler = worker_of(resized), scheduler_of(resized)
    assert resized["spec"]["worker"]["replicas"] == 5
    assert option(worker["command"], "--nthreads") == "4"
    assert option(worker["command"], "--memory-limit") == "12800MiB"
    assert worker["resources"] == {
        "requests": {"cpu": "3500m", "memory": "12800Mi", "ephemeral-storage": "50Gi"},
        "limits": {"memory": "12800Mi"},
    }
    [scratch] = resized["spec"]["worker"]["spec"]["volumes"]
    assert scratch["emptyDir"]["sizeLimit"] == "50Gi"
    assert scheduler["resources"]["requests"] == {"cpu": "500m", "memory": "3Gi"}


def test_worker_memory_limit_is_the_container_limit(dask_plan: DeploymentPlan) -> None:
    parse_bytes = pytest.importorskip("dask.utils").parse_bytes
    for memory_gb in (8, 12.5, 0.75):
        worker = worker_of(build_manifest(with_dask(dask_plan, memory_gb=memory_gb)))

        dask_limit = parse_bytes(option(worker["command"], "--memory-limit"))
        assert dask_limit == parse_quantity(worker["resources"]["limits"]["memory"])
        assert dask_limit == memory_gb * 2**30


def test_commands_are_the_dask_cli_of_the_image(manifest: dict[str, Any]) -> None:
    worker = dask_cli(worker_of(manifest)["command"])
    scheduler = dask_cli(scheduler_of(manifest)["command"])

    # the operator's standard form: its DASK_WORKER_NAME, the dashboard on 8788
    assert worker.params["name"] == "$(DASK_WORKER_NAME)"
    assert worker.params["dashboard_address"] == "8788"
    assert worker.params["nthreads"] == 1
    assert worker.params["local_directory"] == "/tmp"
    assert worker.params["scheduler"] is None  # DASK_SCHEDULER_ADDRESS, set by the operator
    assert scheduler.params["port"] == "8786"
    assert scheduler.params["dashboard_address"] == ":8787"


def test_scheduler_service_exposes_comm_and_dashboard(manifest: dict[str, Any]) -> None:
    service = manifest["spec"]["scheduler"]["service"]
    declared = {p["name"]: p["containerPort"] for p in scheduler_of(manifest)["ports"]}

    assert service["type"] == "ClusterIP"
    assert service["selector"] == {
        "dask.org/cluster-name": manifest["metadata"]["name"],
        "dask.org/component": "scheduler",
    }
    assert {p["port"]: declared[p["targetPort"]] for p in service["ports"]} == {
        8786: 8786,
        8787: 8787,
    }
    assert {p["protocol"] for p in service["ports"]} == {"TCP"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert scheduler_of(manifest)[probe]["httpGet"] == {
            "path": "/health",
            "port": "http-dashboard",
        }


def test_workers_share_the_steps_image_identity_and_environment(
    dask_plan: DeploymentPlan, manifest: dict[str, Any], build_dir: Path
) -> None:
    worker_pod = manifest["spec"]["worker"]["spec"]
    env = env_of(worker_of(manifest))

    assert worker_pod["serviceAccountName"] == dask_plan.service_account == "cirrus-runner"
    assert "serviceAccountName" not in manifest["spec"]["scheduler"]["spec"]
    assert {worker_of(manifest)["image"], scheduler_of(manifest)["image"]} == {dask_plan.image}
    assert {name: env[name]["value"] for name in dask_plan.env} == dict(dask_plan.env)
    assert env[STORAGE_ROOT_ENV]["value"] == STORAGE_ROOT
    for name in dask_plan.secret_env:
        assert name not in env  # secrets stay with the steps
    # the image does not install the project: tasks import it from where the Dockerfile copies it
    dockerfile = DockerfileParser(fileobj=(REPO / "Dockerfile").open("rb"))
    values = {(i["instruction"], i["value"]) for i in dockerfile.structure}
    assert ("WORKDIR", IMAGE_PROJECT_DIR) in values and ("COPY", "src ./src") in values
    assert env["PYTHONPATH"]["value"] == f"{IMAGE_PROJECT_DIR}/src"

    anonymous = dataclasses.replace(dask_plan, service_account=None)
    assert "serviceAccountName" not in build_manifest(anonymous)["spec"]["worker"]["spec"]


def test_runs_as_the_image_user_on_a_read_only_root(manifest: dict[str, Any]) -> None:
    for part, container in (("worker", worker_of(manifest)), ("scheduler", scheduler_of(manifest))):
        pod = manifest["spec"][part]["spec"]
        security = container["securityContext"]
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        [mount] = container["volumeMounts"]

        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        assert pod["automountServiceAccountToken"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert mount["mountPath"] == "/tmp" and "emptyDir" in volumes[mount["name"]]
        assert env_of(container)["HOME"]["value"] == "/tmp"
    # Dask's local directory (spilled data, shuffles) is that emptyDir
    assert option(worker_of(manifest)["command"], "--local-directory") == "/tmp"


@pytest.mark.parametrize(
    ("dask", "message"),
    [
        ({"worker": 3}, "unknown key 'deploy.targets.kubernetes.dask.worker'"),
        (
            {"scheduler": {"mem_gb": 2}},
            "unknown key 'deploy.targets.kubernetes.dask.scheduler.mem_gb'",
        ),
        ({"workers": 0}, "'deploy.targets.kubernetes.dask.workers'"),
        ({"threads_per_worker": 0}, "'deploy.targets.kubernetes.dask.threads_per_worker'"),
        ({"memory_gb": -8}, "'deploy.targets.kubernetes.dask.memory_gb'"),
        ({"enabled": "sometimes"}, "'deploy.targets.kubernetes.dask.enabled'"),
    ],
)
def test_a_bad_dask_block_is_refused_naming_the_file_and_key(
    dask: dict[str, Any], message: str
) -> None:
    deploy = yaml.safe_load((REPO / "conf/base/deploy.yml").read_text())["deploy"]
    deploy["targets"]["kubernetes"]["dask"] = dask

    with pytest.raises(DeployConfigError) as refused:
        parse_deploy(deploy)

    assert "conf/base/deploy.yml" in str(refused.value)
    assert message in str(refused.value)


def test_the_scheduler_address_has_one_source(plan: DeploymentPlan, build_dir: Path) -> None:
    own = {**plan.env, SCHEDULER_ENV: "tcp://elsewhere:8786"}

    with pytest.raises(DaskClusterError, match=r"deploy\.env\.DASK_SCHEDULER_ADDRESS is set by"):
        export(dataclasses.replace(with_dask(plan, enabled=True), env=own), build_dir)
    # without the cluster, a step may point at a scheduler of its own
    files = exported(dataclasses.replace(plan, env=own), build_dir)
    assert "tcp://elsewhere:8786" in files[WORKFLOW_FILE]


def test_a_name_too_long_for_the_scheduler_service_is_refused(dask_plan: DeploymentPlan) -> None:
    build_manifest(dataclasses.replace(dask_plan, name="a" * 48))

    with pytest.raises(DaskClusterError, match=r"deploy\.name .* use at most 48"):
        build_manifest(dataclasses.replace(dask_plan, name="a" * 49))


def test_a_service_that_reaches_no_scheduler_is_refused(manifest: dict[str, Any]) -> None:
    broken = copy.deepcopy(manifest)
    service = broken["spec"]["scheduler"]["service"]
    service["selector"]["dask.org/cluster-name"] = "other"
    service["ports"][0]["targetPort"] = "comm"

    with pytest.raises(DaskClusterError) as refused:
        validate_manifest(broken)

    assert "the Service selects" in str(refused.value)
    assert "the Service targets port 'comm'" in str(refused.value)


@pytest.mark.slow
def test_cli_writes_the_cluster_beside_the_workflow(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    deploy_yml = project / "conf/base/deploy.yml"
    deploy = yaml.safe_load(deploy_yml.read_text())
    deploy["deploy"]["targets"]["kubernetes"]["dask"]["enabled"] = True
    deploy_yml.write_text(yaml.safe_dump(deploy))
    out = tmp_path / "exports"

    result = kedro(
        project, "cirrus", "export", "argo", "--out", str(out), env={STORAGE_ROOT_ENV: "gs://b/x"}
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert CLUSTER_FILE in result.stdout
    cluster = yaml.safe_load((out / "argo" / CLUSTER_FILE).read_text())
    validate_manifest(cluster)
    assert env_of(worker_of(cluster))[STORAGE_ROOT_ENV]["value"] == "gs://b/x"
    workflow = yaml.safe_load((out / "argo" / WORKFLOW_FILE).read_text())
    for template in step_templates(workflow).values():
        assert template["container"]["command"][:4] == ["kedro", "run", "--env", "dask"]

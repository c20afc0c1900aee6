"""One declaration: the variables `kedro cirrus export terraform` writes, and the cross-reference
between what the exports and DVC remotes name and what each cloud's Terraform creates."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cirrus.deploy.plan import DeploymentPlan
from cirrus.deploy.targets import terraform
from cirrus.deploy.targets.terraform import (
    TerraformExportError,
    alphanumeric,
    catalog_layout,
    image_repository,
    location_of,
    serving_account,
)
from tests.infra.conftest import (
    CI_REPOSITORY,
    CLOUDS,
    INFRA,
    REPO,
    STORAGE_ROOT,
    Block,
    block,
    locals_of,
    variables_of,
)

# What only the account knows: the clusters' OIDC issuers, GitHub's OIDC provider in AWS.
USER_SUPPLIED = {"eks_oidc_provider_arn", "github_oidc_provider_arn", "aks_oidc_issuer_url"}
# Attributes that give a created resource its name.
NAMING = ("name", "bucket", "account_id", "secret_id", "repository_id", "key_vault_name")

Reference = Callable[[DeploymentPlan, dict[str, str]], Any]


def remote(scheme: str) -> Callable[[DeploymentPlan, dict[str, str]], Any]:
    """The bucket of the DVC remote on a scheme."""
    return lambda plan, remotes: next(
        location_of(u).bucket for u in remotes.values() if u.startswith(f"{scheme}://")
    )


def secrets(plan: DeploymentPlan, remotes: dict[str, str]) -> list[str]:
    """deploy.secret_env's secret names."""
    return sorted(plan.secret_env.values())


def token(plan: DeploymentPlan, remotes: dict[str, str]) -> str:
    """The API token's secret."""
    return plan.targets.kubernetes.serving.token_secret.name


def runner(plan: DeploymentPlan, remotes: dict[str, str]) -> str:
    """deploy.service_account."""
    return str(plan.service_account)


def serving(plan: DeploymentPlan, remotes: dict[str, str]) -> str:
    """The API's service account as the kubernetes-serving export resolves it."""
    return serving_account(plan)


def namespace(plan: DeploymentPlan, remotes: dict[str, str]) -> str:
    """The namespace of the Kubernetes exports."""
    return plan.targets.kubernetes.namespace


def role(arn: str | None) -> str:
    """The name in a role ARN."""
    return str(arn).rsplit("/", 1)[-1]


# (cloud, variable, what an export or remote references,
#  type, name and attribute of the block that creates it, the attribute's expression)
CROSS_REFERENCES: list[tuple[str, str, Reference, str, str, str, str]] = [
    # AWS
    (
        "aws",
        "data_bucket",
        lambda p, r: location_of(p.storage_root).bucket,
        "module",
        "bucket",
        "name",
        "${each.value}",
    ),
    ("aws", "data_prefix", lambda p, r: location_of(p.storage_root).prefix, "", "", "", ""),
    ("aws", "dvc_bucket", remote("s3"), "module", "bucket", "name", "${each.value}"),
    (
        "aws",
        "pipeline_bucket",
        lambda p, r: p.targets.sagemaker.default_bucket,
        "module",
        "bucket",
        "name",
        "${each.value}",
    ),
    (
        "aws",
        "sagemaker_role_name",
        lambda p, r: role(p.targets.sagemaker.role_arn),
        "aws_iam_role",
        "sagemaker",
        "name",
        "${var.sagemaker_role_name}",
    ),
    (
        "aws",
        "scheduler_role_name",
        lambda p, r: role(p.targets.sagemaker.schedule_role_arn or p.targets.sagemaker.role_arn),
        "aws_iam_role",
        "scheduler",
        "name",
        "${var.scheduler_role_name}",
    ),
    (
        "aws",
        "registry_repository",
        lambda p, r: image_repository(p.image),
        "aws_ecr_repository",
        "image",
        "name",
        "${var.registry_repository}",
    ),
    (
        "aws",
        "runner_secrets",
        secrets,
        "aws_secretsmanager_secret",
        "cirrus",
        "name",
        "${each.value}",
    ),
    (
        "aws",
        "api_token_secret",
        token,
        "aws_secretsmanager_secret",
        "cirrus",
        "name",
        "${each.value}",
    ),
    (
        "aws",
        "runner_service_account",
        runner,
        "kubernetes_service_account_v1",
        "runner",
        "metadata.name",
        "${var.runner_service_account}",
    ),
    ("aws", "serving_service_account", serving, "aws_iam_policy_document", "serving_trust", "", ""),
    (
        "aws",
        "kubernetes_namespace",
        namespace,
        "kubernetes_service_account_v1",
        "runner",
        "metadata.namespace",
        "${var.kubernetes_namespace}",
    ),
    # Google Cloud
    (
        "gcp",
        "project",
        lambda p, r: p.targets.vertex.project,
        "google_service_account",
        "runner",
        "project",
        "${var.project}",
    ),
    ("gcp", "data_bucket", remote("gs"), "module", "bucket", "name", "${each.value}"),
    ("gcp", "dvc_bucket", remote("gs"), "module", "bucket", "name", "${each.value}"),
    (
        "gcp",
        "pipeline_bucket",
        lambda p, r: location_of(str(p.targets.vertex.pipeline_root)).bucket,
        "module",
        "bucket",
        "name",
        "${each.value}",
    ),
    (
        "gcp",
        "pipeline_prefix",
        lambda p, r: location_of(str(p.targets.vertex.pipeline_root)).prefix,
        "",
        "",
        "",
        "",
    ),
    (
        "gcp",
        "registry_repository",
        lambda p, r: image_repository(p.image).split("/")[0],
        "google_artifact_registry_repository",
        "image",
        "repository_id",
        "${var.registry_repository}",
    ),
    (
        "gcp",
        "runner_secrets",
        secrets,
        "google_secret_manager_secret",
        "cirrus",
        "secret_id",
        "${each.value}",
    ),
    (
        "gcp",
        "api_token_secret",
        token,
        "google_secret_manager_secret",
        "cirrus",
        "secret_id",
        "${each.value}",
    ),
    (
        "gcp",
        "runner_service_account",
        runner,
        "google_service_account",
        "runner",
        "account_id",
        "${var.runner_service_account}",
    ),
    (
        "gcp",
        "serving_service_account",
        serving,
        "google_service_account_iam_member",
        "serving_workload_identity",
        "",
        "",
    ),
    (
        "gcp",
        "kubernetes_namespace",
        namespace,
        "kubernetes_service_account_v1",
        "runner",
        "metadata.namespace",
        "${var.kubernetes_namespace}",
    ),
    # Azure
    (
        "azure",
        "data_container",
        remote("azure"),
        "azurerm_storage_container",
        "cirrus",
        "name",
        "${each.value}",
    ),
    (
        "azure",
        "dvc_container",
        remote("azure"),
        "azurerm_storage_container",
        "cirrus",
        "name",
        "${each.value}",
    ),
    (
        "azure",
        "key_vault_name",
        lambda p, r: str(p.targets.azureml.key_vault_url).split("//")[1].split(".")[0],
        "azurerm_key_vault",
        "cirrus",
        "name",
        "${var.key_vault_name}",
    ),
    (
        "azure",
        "compute_clusters",
        lambda p, r: sorted(
            c for c in (p.targets.azureml.compute, p.targets.azureml.spot_compute) if c
        ),
        "azurerm_machine_learning_compute_cluster",
        "cirrus",
        "name",
        "${each.key}",
    ),
    # named after deploy.name: the storage credentials' account_name and the image's registry host
    (
        "azure",
        "storage_account",
        lambda p, r: alphanumeric(p.name, 24),
        "azurerm_storage_account",
        "cirrus",
        "name",
        "${var.storage_account}",
    ),
    (
        "azure",
        "registry_name",
        lambda p, r: alphanumeric(p.name, 50),
        "azurerm_container_registry",
        "cirrus",
        "name",
        "${var.registry_name}",
    ),
    (
        "azure",
        "runner_secrets",
        secrets,
        "azurerm_key_vault_secret",
        "cirrus",
        "name",
        "${each.value}",
    ),
    (
        "azure",
        "api_token_secret",
        token,
        "azurerm_key_vault_secret",
        "cirrus",
        "name",
        "${each.value}",
    ),
    (
        "azure",
        "runner_service_account",
        runner,
        "azurerm_user_assigned_identity",
        "runner",
        "name",
        "${var.runner_service_account}",
    ),
    (
        "azure",
        "serving_service_account",
        serving,
        "azurerm_federated_identity_credential",
        "serving",
        "",
        "",
    ),
    (
        "azure",
        "kubernetes_namespace",
        namespace,
        "kubernetes_service_account_v1",
        "runner",
        "metadata.namespace",
        "${var.kubernetes_namespace}",
    ),
]


def attribute(body: dict[str, Any], path: str) -> Any:
    """A nested attribute (`metadata.name`), taking the first of each repeated block."""
    value: Any = body
    for part in path.split("."):
        value = value[0] if isinstance(value, list) else value
        value = value[part]
    return value


@pytest.fixture(scope="module")
def remotes() -> dict[str, str]:
    """The committed DVC remotes."""
    return terraform.dvc_remotes(REPO)


def test_the_variables_of_each_cloud_are_exactly_what_its_terraform_declares(
    tfvars: dict[str, dict[str, Any]],
) -> None:
    for cloud in CLOUDS:
        declared = variables_of(INFRA / cloud)
        required = {name for name, v in declared.items() if "default" not in v}
        assert set(tfvars[cloud]) <= set(declared), set(tfvars[cloud]) - set(declared)
        assert required - set(tfvars[cloud]) <= USER_SUPPLIED, (
            cloud,
            required - set(tfvars[cloud]),
        )
        text = "".join(
            p.read_text() for p in (INFRA / cloud).glob("*.tf") if p.name != "variables.tf"
        )
        unused = [name for name in declared if f"var.{name}" not in text]
        assert not unused, (cloud, unused)


@pytest.mark.parametrize(
    "cloud, variable, reference, type_, name, path, expression",
    CROSS_REFERENCES,
    ids=[f"{c[0]}-{c[1]}" for c in CROSS_REFERENCES],
)
def test_what_an_export_or_remote_names_is_created_by_the_terraform(
    tfvars: dict[str, dict[str, Any]],
    hcl: dict[str, list[Block]],
    plan: DeploymentPlan,
    remotes: dict[str, str],
    cloud: str,
    variable: str,
    reference: Reference,
    type_: str,
    name: str,
    path: str,
    expression: str,
) -> None:
    value = tfvars[cloud][variable]
    expected = reference(plan, remotes)
    got = sorted(value) if isinstance(value, dict) else value
    if isinstance(expected, list) and not isinstance(got, list):
        assert got in expected
    elif isinstance(got, list) and not isinstance(expected, list):
        assert expected in got
    else:
        assert got == expected
    if not type_:
        return
    created = block(hcl[cloud], type_, name)
    if path:
        assert attribute(created.body, path) == expression
    # the variable reaches the block, directly or through a local
    body = json.dumps(created.body)
    via_locals = [
        k for k, v in locals_of(INFRA / cloud).items() if f"var.{variable}" in json.dumps(v)
    ]
    assert f"var.{variable}" in body or any(f"local.{k}" in body for k in via_locals), (
        f"{type_}.{name} does not use var.{variable}"
    )


def test_every_name_the_terraform_takes_from_a_variable_comes_from_the_declaration(
    hcl: dict[str, list[Block]],
) -> None:
    # the other way round: a resource named from a variable that no export or remote names
    covered = {(c[0], c[1]) for c in CROSS_REFERENCES} | {(c, "name") for c in CLOUDS}
    stray = []
    for cloud in CLOUDS:
        for b in hcl[cloud]:
            if b.file.parent.name == "bucket":  # the local module: its name comes from the call
                continue
            for key in NAMING:
                for variable in _variables_in(str(b.body.get(key, ""))):
                    if (cloud, variable) not in covered and variable not in {
                        "ci_repository",
                        "ci_branch",
                    }:
                        stray.append(f"{cloud}: {b.type}.{b.name}.{key} uses var.{variable}")
    assert not stray, stray


def _variables_in(expression: str) -> list[str]:
    """The variables an expression names."""
    import re

    return re.findall(r"var\.(\w+)", expression)


def test_serving_reads_the_catalogs_model_spec_and_metrics_and_logs_under_the_root(
    tfvars: dict[str, dict[str, Any]], catalog: dict[str, Any]
) -> None:
    layout = catalog_layout(catalog, STORAGE_ROOT)
    aws = tfvars["aws"]
    assert aws["serving_read_objects"] == [f"cirrus/{p}" for p in layout["served"]]
    assert aws["serving_read_objects"][0] == "cirrus/06_models/model.txt"
    assert aws["prediction_log_prefix"] == "cirrus/07_model_output/prediction_log/"
    assert aws["retention_days"] == catalog["prediction_log"]["retention_days"]


def test_a_changed_catalog_changes_the_prefixes_and_the_retention(
    plan: DeploymentPlan, catalog: dict[str, Any], remotes: dict[str, str]
) -> None:
    changed = json.loads(json.dumps(catalog))
    changed["model"]["filepath"] = f"{STORAGE_ROOT}/models/current.txt"
    changed["prediction_log"]["retention_days"] = 30
    values = terraform.tfvars(plan, changed, remotes, CI_REPOSITORY)
    assert "cirrus/models/current.txt" in values["gcp"]["serving_read_objects"]
    assert values["azure"]["retention_days"] == 30


def test_a_catalog_without_retention_is_refused_naming_the_key(
    plan: DeploymentPlan, catalog: dict[str, Any], remotes: dict[str, str]
) -> None:
    changed = json.loads(json.dumps(catalog))
    del changed["prediction_log"]["retention_days"]
    with pytest.raises(TerraformExportError, match=r"prediction_log\.retention_days"):
        terraform.tfvars(plan, changed, remotes)


def test_two_remotes_on_one_cloud_are_refused_naming_the_file(
    plan: DeploymentPlan, catalog: dict[str, Any], remotes: dict[str, str]
) -> None:
    doubled = {**remotes, "backup": "s3://other-bucket/dvc"}
    with pytest.raises(TerraformExportError, match=r"\.dvc/config: expected one DVC remote on aws"):
        terraform.tfvars(plan, catalog, doubled)


def test_azure_clusters_fit_the_steps_and_spot_is_low_priority(
    tfvars: dict[str, dict[str, Any]], plan: DeploymentPlan
) -> None:
    clusters = tfvars["azure"]["compute_clusters"]
    spot = clusters[str(plan.targets.azureml.spot_compute)]
    assert (
        spot["priority"] == "LowPriority"
        and clusters[plan.targets.azureml.compute]["priority"] == "Dedicated"
    )
    training = plan.step("training").resources
    assert training.spot and training.cpu == 4
    assert spot["vm_size"] == "Standard_D4s_v5"  # 4 vCPUs, 16 GiB: the training step's size


def test_export_writes_one_variables_file_per_cloud(
    plan: DeploymentPlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("CIRRUS_STORAGE_ROOT", STORAGE_ROOT)
    monkeypatch.setenv("GITHUB_REPOSITORY", CI_REPOSITORY)
    written = terraform.export(plan, tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        f"{cloud}/cirrus.auto.tfvars.json" for cloud in CLOUDS
    ]
    aws = json.loads(written[0].read_text())
    assert aws["ci_repository"] == CI_REPOSITORY and aws["data_bucket"] == "cirrus-data"


@pytest.mark.parametrize(
    "image, repository",
    [
        ("registry.example.com/ml/cirrus:0.1.0", "ml/cirrus"),
        ("localhost:5000/team/cirrus@sha256:" + "0" * 64, "team/cirrus"),
        ("ml/cirrus:latest", "ml/cirrus"),
        ("cirrus", "cirrus"),
    ],
)
def test_the_registry_repository_is_the_image_path_without_host_or_tag(
    image: str, repository: str
) -> None:
    assert image_repository(image) == repository

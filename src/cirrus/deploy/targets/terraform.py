"""Terraform variables of infra/terraform/<cloud>/ from the one declaration of the project.

`kedro cirrus export terraform` writes build/terraform/<cloud>/cirrus.auto.tfvars.json for AWS,
Google Cloud and Azure from deploy.yml (names, identities, secrets, image, clusters), the storage
root of conf/cloud, the DVC remotes of .dvc/config and the catalog (which objects the API reads,
where the prediction log lives and how long it is kept). Every name is written once, there; the
Terraform of each cloud only refers to these variables. Copy a file next to the cloud's module (or
pass it with `-var-file`) and add what only your account knows (the cluster's OIDC issuer, the
CI repository when the git remote does not name it).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from cirrus.catalog import RAW_DATASETS
from cirrus.deploy.cloud_project import cloud_config
from cirrus.deploy.deploy_yml import DEPLOY_FILE, DeployConfigError
from cirrus.deploy.plan import DeploymentPlan, Step

CLOUDS = ("aws", "gcp", "azure")
TFVARS_FILE = "cirrus.auto.tfvars.json"
DVC_CONFIG = Path(".dvc") / "config"
# The URL scheme of each cloud's object storage, in the storage root and in DVC remotes.
SCHEMES = {"aws": ("s3",), "gcp": ("gs", "gcs"), "azure": ("abfs", "abfss", "az", "azure")}
# What the API reads through the catalog (cirrus.serving.artifacts), and the log it appends to.
SERVED_DATASETS = ("model", "feature_spec", "model_bundle")
PREDICTION_LOG = "prediction_log"
DEFAULT_AWS_REGION = "us-east-1"
VERTEX_ROOT_FOLDER = "vertex-pipeline-root"
# Azure ML VM sizes by (vCPUs, GiB), smallest first: a cluster gets the first that fits its steps.
AZURE_VM_SIZES = (
    ("Standard_D2s_v5", 2, 8),
    ("Standard_D4s_v5", 4, 16),
    ("Standard_E4s_v5", 4, 32),
    ("Standard_D8s_v5", 8, 32),
    ("Standard_E8s_v5", 8, 64),
    ("Standard_D16s_v5", 16, 64),
    ("Standard_E16s_v5", 16, 128),
)
AZURE_GPU_VM_SIZE = "Standard_NC4as_T4_v3"
ROLE_ARN = re.compile(r"arn:aws[\w-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)")
GITHUB_REMOTE = re.compile(r"github\.com[:/]([\w.-]+/[\w.-]+?)(?:\.git)?/?$")


class TerraformExportError(DeployConfigError):
    """The declaration cannot fill the Terraform variables of a cloud."""


@dataclass(frozen=True)
class Location:
    """A bucket (or container) and a key prefix inside it, ending in '/' (or empty)."""

    bucket: str
    prefix: str


def location_of(url: str) -> Location:
    """The bucket and key prefix of an object-storage URL."""
    parsed = urlparse(url)
    path = parsed.path.strip("/")
    return Location(parsed.netloc, f"{path}/" if path else "")


def dvc_remotes(project_root: Path) -> dict[str, str]:
    """Each DVC remote's URL by remote name, from .dvc/config."""
    parser = configparser.ConfigParser()
    parser.read(project_root / DVC_CONFIG)
    found = {}
    for section in parser.sections():
        # DVC writes ['remote "s3"']: the outer single quotes are part of the section name.
        match = re.fullmatch(r"""'?remote\s+"(.+)"'?""", section)
        if match and parser.has_option(section, "url"):
            found[match.group(1)] = parser.get(section, "url")
    return found


def remote_on(cloud: str, remotes: dict[str, str]) -> str | None:
    """The URL of the DVC remote on a cloud's object storage, if one is declared."""
    urls = [url for url in remotes.values() if urlparse(url).scheme in SCHEMES[cloud]]
    if len(urls) > 1:
        raise TerraformExportError(
            f"{DVC_CONFIG}: expected one DVC remote on {cloud} ({', '.join(SCHEMES[cloud])}://), "
            f"found {len(urls)}: {', '.join(urls)}",
            hint="Keep one remote per cloud: the CI identity may write to that one only.",
        )
    return urls[0] if urls else None


def locations_on(
    cloud: str, storage_root: str, dvc_url: str | None
) -> tuple[Location, Location] | None:
    """The storage root and DVC remote on a cloud; None when the declaration names neither.

    The storage root is the declared one when it is on this cloud, else the DVC remote's parent
    folder; the DVC remote is the declared one, else `dvc/` under the storage root.
    """
    on_cloud = urlparse(storage_root).scheme in SCHEMES[cloud]
    if dvc_url is None:
        if not on_cloud:
            return None
        data = location_of(storage_root)
        return data, Location(data.bucket, f"{data.prefix}dvc/")
    dvc = location_of(dvc_url)
    if on_cloud:
        return location_of(storage_root), dvc
    parent = dvc.prefix.rstrip("/").rpartition("/")[0]
    return Location(dvc.bucket, f"{parent}/" if parent else ""), dvc


def relative_paths(catalog: dict[str, Any], storage_root: str) -> dict[str, str]:
    """Each catalog entry's path relative to the storage root (entries under it only)."""
    root = storage_root.rstrip("/") + "/"
    return {
        name: str(entry["filepath"])[len(root) :]
        for name, entry in catalog.items()
        if isinstance(entry, dict) and str(entry.get("filepath", "")).startswith(root)
    }


def catalog_layout(catalog: dict[str, Any], storage_root: str) -> dict[str, Any]:
    """What the identities need from the catalog: served objects, the log, raw data, retention."""
    paths = relative_paths(catalog, storage_root)
    needed = (*SERVED_DATASETS, PREDICTION_LOG, *RAW_DATASETS)
    missing = [name for name in needed if name not in paths]
    if missing:
        raise TerraformExportError(
            f"catalog: {', '.join(missing)} not under the storage root {storage_root}",
            hint="Keep every dataset under ${globals:data_root} in conf/base/catalog.yml.",
        )
    retention = catalog[PREDICTION_LOG].get("retention_days")
    if not isinstance(retention, int) or retention < 1:
        raise TerraformExportError(
            f"catalog: {PREDICTION_LOG}.retention_days is {retention!r}; expected a whole number "
            "of days (the bucket's lifecycle rule expires the log after it)",
            hint="Set retention_days: 90 (for example) on prediction_log in the catalog.",
        )
    return {
        "served": [paths[name] for name in SERVED_DATASETS],
        "log": paths[PREDICTION_LOG].rstrip("/") + "/",
        "raw": [paths[name] for name in RAW_DATASETS],
        "retention_days": retention,
    }


def image_repository(image: str) -> str:
    """The repository path of an image reference: no registry host, no tag or digest."""
    name = image.split("@", 1)[0]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        name = rest
    return name.rsplit(":", 1)[0] if ":" in name.rpartition("/")[2] else name


def serving_account(plan: DeploymentPlan) -> str:
    """The API's Kubernetes service account, as the kubernetes-serving export resolves it."""
    return plan.targets.kubernetes.serving.service_account or runner_account(plan)


def runner_account(plan: DeploymentPlan) -> str:
    """deploy.service_account, required: every identity is named after it."""
    if not plan.service_account:
        raise TerraformExportError(
            f"{DEPLOY_FILE}: deploy.service_account is not set; the runner identity needs a name",
            hint="Set deploy.service_account: cirrus-runner (for example).",
        )
    return plan.service_account


def secret_names(plan: DeploymentPlan) -> tuple[list[str], str]:
    """The secrets of deploy.secret_env, and the API token's secret."""
    return sorted(set(plan.secret_env.values())), plan.targets.kubernetes.serving.token_secret.name


def role_name(arn: str, key: str) -> str:
    """The role name inside an IAM role ARN."""
    match = ROLE_ARN.fullmatch(arn)
    if not match:
        raise TerraformExportError(
            f"{DEPLOY_FILE}: {key} is {arn!r}; expected arn:aws:iam::<account>:role/<name>",
            hint="Use the role ARN the AWS outputs print (sagemaker_role_arn).",
        )
    return match.group(1)


def ci_repository(project_root: Path) -> str | None:
    """owner/name of the GitHub repository: $GITHUB_REPOSITORY, else the origin remote's."""
    if os.environ.get("GITHUB_REPOSITORY"):
        return os.environ["GITHUB_REPOSITORY"]
    result = subprocess.run(
        ["git", "-C", str(project_root), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=False,
    )
    match = GITHUB_REMOTE.search(result.stdout.strip())
    return match.group(1) if match else None


def common_variables(
    plan: DeploymentPlan, data: Location, dvc: Location, layout: dict[str, Any]
) -> dict[str, Any]:
    """The variables every cloud's module shares."""
    runner_secrets, token_secret = secret_names(plan)
    return {
        "name": plan.name,
        "data_prefix": data.prefix,
        "dvc_prefix": dvc.prefix,
        "prediction_log_prefix": data.prefix + layout["log"],
        "retention_days": layout["retention_days"],
        "serving_read_objects": [data.prefix + key for key in layout["served"]],
        "registry_repository": image_repository(plan.image),
        "runner_service_account": runner_account(plan),
        "serving_service_account": serving_account(plan),
        "kubernetes_namespace": plan.targets.kubernetes.namespace,
        "runner_secrets": runner_secrets,
        "api_token_secret": token_secret,
    }


def aws_variables(plan: DeploymentPlan, data: Location, dvc: Location) -> dict[str, Any]:
    """AWS-only variables: region, SageMaker bucket and roles."""
    sagemaker = plan.targets.sagemaker
    arn = sagemaker.role_arn or (
        plan.service_account if ROLE_ARN.fullmatch(plan.service_account or "") else None
    )
    role = role_name(arn, "deploy.targets.sagemaker.role_arn") if arn else f"{plan.name}-sagemaker"
    schedule_arn = sagemaker.schedule_role_arn
    scheduler = (
        role_name(schedule_arn, "deploy.targets.sagemaker.schedule_role_arn")
        if schedule_arn
        else role
    )
    return {
        "region": sagemaker.region or plan.region or DEFAULT_AWS_REGION,
        "data_bucket": data.bucket,
        "dvc_bucket": dvc.bucket,
        "pipeline_bucket": sagemaker.default_bucket or data.bucket,
        "sagemaker_role_name": role,
        "scheduler_role_name": scheduler,
    }


def gcp_variables(plan: DeploymentPlan, data: Location, dvc: Location) -> dict[str, Any]:
    """Google-only variables: project, region, the Vertex AI pipeline root."""
    vertex = plan.targets.vertex
    if not vertex.project:
        raise TerraformExportError(
            f"{DEPLOY_FILE}: deploy.targets.vertex.project is not set; the Google Cloud "
            "resources need a project",
            hint="Set deploy.targets.vertex.project: <your project id>.",
        )
    root = location_of(vertex.pipeline_root) if vertex.pipeline_root else None
    pipeline = root or Location(data.bucket, f"{data.prefix}{VERTEX_ROOT_FOLDER}/")
    return {
        # An Artifact Registry repository is one path segment; the rest of the path is the image.
        "registry_repository": image_repository(plan.image).split("/", 1)[0],
        "project": vertex.project,
        "region": plan.region,
        "data_bucket": data.bucket,
        "dvc_bucket": dvc.bucket,
        "pipeline_bucket": pipeline.bucket,
        "pipeline_prefix": pipeline.prefix,
    }


def cluster_of(plan: DeploymentPlan, step: Step) -> str:
    """The Azure ML cluster a step runs on, as the azureml export chooses it."""
    azureml = plan.targets.azureml
    if step.resources.gpu and azureml.gpu_compute:
        return azureml.gpu_compute
    if step.resources.spot and azureml.spot_compute:
        return azureml.spot_compute
    return azureml.compute


def vm_size(steps: list[Step], gpu: bool) -> str:
    """The smallest VM size that fits every step of a cluster."""
    if gpu:
        return AZURE_GPU_VM_SIZE
    cpu = max(step.resources.cpu for step in steps)
    memory = max(step.resources.memory_gb for step in steps)
    for name, cores, gib in AZURE_VM_SIZES:
        if cores >= cpu and gib >= memory:
            return name
    raise TerraformExportError(
        f"{DEPLOY_FILE}: a step asks for {cpu} CPUs and {memory} GB, more than the largest "
        f"Azure ML size offered here ({AZURE_VM_SIZES[-1][0]})",
        hint="Lower the step's cpu / memory_gb, or create the cluster yourself.",
    )


def compute_clusters(plan: DeploymentPlan) -> dict[str, dict[str, Any]]:
    """Each Azure ML cluster the steps use: priority, VM size and one node per parallel step."""
    azureml = plan.targets.azureml
    by_cluster: dict[str, list[Step]] = {}
    for step in plan.steps:
        by_cluster.setdefault(cluster_of(plan, step), []).append(step)
    by_cluster.setdefault(azureml.compute, [])
    return {
        name: {
            "priority": "LowPriority" if name == azureml.spot_compute else "Dedicated",
            "vm_size": vm_size(steps or list(plan.steps), name == azureml.gpu_compute),
            "max_nodes": max(1, len(steps)),
        }
        for name, steps in sorted(by_cluster.items())
    }


def alphanumeric(name: str, limit: int) -> str:
    """A name reduced to lowercase letters and digits (storage accounts, registries)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())[:limit]


def azure_variables(plan: DeploymentPlan, data: Location, dvc: Location) -> dict[str, Any]:
    """Azure-only variables: storage account, container, registry, Key Vault, clusters."""
    url = plan.targets.azureml.key_vault_url
    if not url:
        raise TerraformExportError(
            f"{DEPLOY_FILE}: deploy.targets.azureml.key_vault_url is not set; the secrets need a "
            "Key Vault",
            hint="Set key_vault_url: https://<name>.vault.azure.net.",
        )
    return {
        "storage_account": alphanumeric(plan.name, 24),
        "data_container": data.bucket,
        "dvc_container": dvc.bucket,
        "registry_name": alphanumeric(plan.name, 50),
        "key_vault_name": urlparse(url).netloc.split(".", 1)[0],
        "compute_clusters": compute_clusters(plan),
    }


CLOUD_VARIABLES = {"aws": aws_variables, "gcp": gcp_variables, "azure": azure_variables}


def tfvars(
    plan: DeploymentPlan,
    catalog: dict[str, Any],
    remotes: dict[str, str],
    repository: str | None = None,
) -> dict[str, dict[str, Any]]:
    """The variables of each cloud's module, by cloud: those whose storage the declaration names."""
    layout = catalog_layout(catalog, plan.storage_root)
    values = {}
    for cloud in CLOUDS:
        found = locations_on(cloud, plan.storage_root, remote_on(cloud, remotes))
        if found is None:
            continue
        data, dvc = found
        variables = {
            **common_variables(plan, data, dvc, layout),
            **CLOUD_VARIABLES[cloud](plan, data, dvc),
        }
        if repository:
            variables["ci_repository"] = repository
        values[cloud] = dict(sorted(variables.items()))
    return values


def export(plan: DeploymentPlan, out_dir: Path) -> list[Path]:
    """Write <cloud>/cirrus.auto.tfvars.json for each cloud under out_dir."""
    project_root = Path.cwd()
    catalog = dict(cloud_config(project_root)["catalog"])
    values = tfvars(plan, catalog, dvc_remotes(project_root), ci_repository(project_root))
    if not values:
        raise TerraformExportError(
            f"Neither the storage root {plan.storage_root} nor a DVC remote in {DVC_CONFIG} is on "
            f"{', '.join(CLOUDS)} object storage; no cloud's Terraform variables can be filled",
            hint="Set CIRRUS_STORAGE_ROOT to s3://, gs:// or abfs://, or add a DVC remote there.",
        )
    written = []
    for cloud, variables in values.items():
        path = out_dir / cloud / TFVARS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(variables, indent=2) + "\n")
        written.append(path)
    return written

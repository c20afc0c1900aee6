"""Export targets by name: each renders a DeploymentPlan into files under a build folder."""

from __future__ import annotations

import importlib
from pathlib import Path

from cirrus.deploy.plan import DeploymentPlan

# target name -> module under cirrus.deploy.targets with `export(plan, out_dir) -> list[Path]`
# (or the module in MODULES); the CLI offers exactly these names.
TARGETS = {
    "argo": "Argo Workflows on Kubernetes (EKS, GKE, AKS), built with hera",
    "vertex": "Vertex AI Pipelines: a KFP v2 pipeline spec compiled with kfp",
    "airflow": "Airflow 3 DAG (MWAA, Cloud Composer)",
    "sagemaker": "SageMaker Pipelines definition, built with the sagemaker SDK",
    "azureml": "Azure ML pipeline job YAML",
    "kubernetes-serving": "The prediction API on Kubernetes: Deployment, Service and autoscaler",
    "terraform": "Variables of infra/terraform/<cloud>/ (AWS, GCP, Azure) from this declaration",
}
# Targets whose module is not cirrus.deploy.targets.<name> (a name with '-' is no module name).
MODULES = {"kubernetes-serving": "cirrus.deploy.kubernetes_serving"}
BUILD_DIR = "build"


def module_of(target: str) -> str:
    """The module that renders a target."""
    return MODULES.get(target, f"cirrus.deploy.targets.{target}")


def export(target: str, plan: DeploymentPlan, out_dir: Path) -> list[Path]:
    """Write the files of one target into out_dir and return their paths."""
    if target not in TARGETS:
        raise ValueError(f"Unknown export target '{target}'; expected one of: {', '.join(TARGETS)}")
    module = importlib.import_module(module_of(target))
    out_dir.mkdir(parents=True, exist_ok=True)
    return module.export(plan, out_dir)

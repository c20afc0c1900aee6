"""Read the project the way the exports need it: pipelines, the cloud catalog and deploy.yml."""

from __future__ import annotations

from pathlib import Path

from kedro.config import MissingConfigException
from kedro.io import DataCatalog
from omegaconf.errors import InterpolationResolutionError

from cirrus.config_loader import CirrusConfigLoader
from cirrus.deploy.deploy_yml import DEPLOY_KEY, parse_deploy
from cirrus.deploy.plan import DeploymentPlan, build_plan
from cirrus.pipeline_registry import registered_pipelines
from cirrus.settings import CONFIG_LOADER_ARGS
from cirrus.storage import StorageRootError
from cirrus.versioning.project_view import without_credentials

CLOUD_ENV = "cloud"


def cloud_config(project_root: Path, env: str = CLOUD_ENV) -> CirrusConfigLoader:
    """conf/base overlaid with conf/<env>, resolved exactly as `kedro run --env <env>` does."""
    return CirrusConfigLoader(
        conf_source=str(project_root / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": env}
    )


def storage_root(config: CirrusConfigLoader) -> str:
    """The root every dataset of the environment lives under."""
    try:
        return str(config["globals"]["data_root"])
    except InterpolationResolutionError as error:
        cause = error.__cause__ or error
        raise StorageRootError(str(cause).splitlines()[0]) from None


def load_plan(project_root: Path, env: str = CLOUD_ENV) -> DeploymentPlan:
    """The deployment plan of the project for one configuration environment."""
    config = cloud_config(project_root, env)
    try:
        declared = config[DEPLOY_KEY].get(DEPLOY_KEY)
    except MissingConfigException:
        declared = None
    deploy = parse_deploy(declared)
    root = storage_root(config)
    catalog = DataCatalog.from_config(without_credentials(dict(config["catalog"])))
    return build_plan(deploy, registered_pipelines(), catalog, root)

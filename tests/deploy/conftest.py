"""Fixtures for the exports: the committed project's plan on a declared storage root."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.framework.project import configure_project

from cirrus.deploy.cloud_project import load_plan
from cirrus.deploy.plan import DeploymentPlan
from cirrus.storage import STORAGE_ROOT_ENV
from tests.conftest import REPO

STORAGE_ROOT = "s3://cirrus-test-bucket/cirrus"


@pytest.fixture(scope="session")
def plan() -> DeploymentPlan:
    """The plan of the committed conf/ (base + cloud) with an S3 storage root."""
    configure_project("cirrus")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(STORAGE_ROOT_ENV, STORAGE_ROOT)
        return load_plan(REPO)


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    """An empty build folder."""
    return tmp_path / "build"

"""The one image of every cloud step, checked without a Docker engine: its Dockerfile as parsed,
its exact build context (.dockerignore applied by docker's own matcher), and a step run from
nothing but that context."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from docker.utils.build import exclude_paths
from dockerfile_parse import DockerfileParser

from cirrus.deploy.plan import IMAGE_PROJECT_DIR, STEP_ENTRYPOINT, DeploymentPlan
from cirrus.storage import STORAGE_ROOT_ENV
from tests.conftest import REPO, kedro

IMAGE_LOCK = "requirements-image.lock"


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    """The committed Dockerfile, parsed."""
    parser = DockerfileParser(fileobj=(REPO / "Dockerfile").open("rb"))
    return parser


def final_stage(dockerfile: DockerfileParser) -> list[dict]:
    """The instructions after the last FROM: what the running image is made of."""
    structure = dockerfile.structure
    last_from = max(i for i, item in enumerate(structure) if item["instruction"] == "FROM")
    return structure[last_from:]


def build_context() -> set[str]:
    """Every file `docker build .` would send, as docker-py computes it from .dockerignore."""
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return {path for path in exclude_paths(str(REPO), patterns) if (REPO / path).is_file()}


def pins(lock: Path) -> dict[str, str]:
    """package -> version of a uv lock file."""
    found = re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", lock.read_text(), flags=re.MULTILINE)
    return dict(found)


def test_base_image_is_slim_and_pinned_to_a_patch_release(dockerfile: DockerfileParser) -> None:
    # dockerfile-parse resolves the ARG default in every FROM, as `docker build` would.
    bases = dockerfile.parent_images
    assert len(bases) == 2 and len(set(bases)) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", bases[0]), bases[0]


def test_image_runs_as_a_non_root_user(dockerfile: DockerfileParser) -> None:
    users = [i["value"] for i in final_stage(dockerfile) if i["instruction"] == "USER"]
    assert users, "the runtime stage never switches user"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")


def test_entrypoint_is_the_command_every_export_calls(
    dockerfile: DockerfileParser, plan: DeploymentPlan
) -> None:
    entrypoint = [i["value"] for i in final_stage(dockerfile) if i["instruction"] == "ENTRYPOINT"]
    assert json.loads(entrypoint[-1]) == list(STEP_ENTRYPOINT)
    for step in plan.steps:
        assert step.command[: len(STEP_ENTRYPOINT)] == list(STEP_ENTRYPOINT)
        assert len(step.command) > len(STEP_ENTRYPOINT), f"{step.name} has no selector"


def test_workdir_is_where_the_exports_find_the_project(dockerfile: DockerfileParser) -> None:
    workdirs = [i["value"] for i in final_stage(dockerfile) if i["instruction"] == "WORKDIR"]
    assert workdirs[-1] == IMAGE_PROJECT_DIR


def test_runtime_disables_kedro_telemetry(dockerfile: DockerfileParser) -> None:
    env = " ".join(i["value"] for i in final_stage(dockerfile) if i["instruction"] == "ENV")
    assert "KEDRO_DISABLE_TELEMETRY=true" in env


def test_dependencies_come_from_the_hash_pinned_image_lock(dockerfile: DockerfileParser) -> None:
    runs = " ".join(i["value"] for i in dockerfile.structure if i["instruction"] == "RUN")
    assert "pip sync --no-cache --require-hashes" in runs and IMAGE_LOCK in runs
    image, full = pins(REPO / IMAGE_LOCK), pins(REPO / "requirements.lock")
    assert {"kedro", "lightgbm", "evidently", "s3fs", "gcsfs", "adlfs", "kfp"} <= set(image)
    # The image runs exactly the versions the test suite ran, and none of the workbench.
    assert {name: full.get(name) for name in image} == image
    assert not {"jupyterlab", "kedro-viz", "dvc", "pytest", "moto"} & set(image)


def test_build_context_holds_no_data_and_no_secrets() -> None:
    context = build_context()
    assert {"Dockerfile", "pyproject.toml", IMAGE_LOCK, "conf/base/catalog.yml"} <= context
    assert "src/cirrus/settings.py" in context
    leaked = [
        path
        for path in context
        if path.startswith(("data/", "conf/local/", ".venv", ".git/", "tests/", "notebooks/"))
        or ("credentials" in path and path != "conf/base/credentials.yml")
    ]
    assert leaked == []
    # The one credentials file that ships names credential sets and holds no value.
    shipped = yaml.safe_load((REPO / "conf/base/credentials.yml").read_text())
    assert shipped and all(value == {} for value in shipped.values())


def test_every_copy_source_is_in_the_build_context(dockerfile: DockerfileParser) -> None:
    context = build_context()
    for item in dockerfile.structure:
        if item["instruction"] != "COPY" or "--from=" in item["value"]:
            continue
        sources = [s for s in item["value"].split()[:-1] if not s.startswith("--")]
        for source in sources:
            assert any(path == source or path.startswith(f"{source}/") for path in context), (
                f"COPY {source} is not in the build context"
            )


@pytest.mark.slow
def test_a_step_runs_from_the_build_context_alone(tmp_path: Path) -> None:
    image_root = tmp_path / "app"
    for path in build_context():
        if path.startswith(("src/", "conf/")) or path == "pyproject.toml":
            (image_root / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / path, image_root / path)
    store = tmp_path / "store"
    env = {STORAGE_ROOT_ENV: f"file://{store}"}

    result = kedro(
        image_root, "run", "--env", "cloud", "--pipelines", "demo_data,ingestion", env=env
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (store / "03_primary" / "reference.parquet").is_file()
    assert not (image_root / "data").exists()

"""The image, built by scripts/build-image.sh and run as the cloud runs it.

Each step of the exported Argo workflow runs in a fresh container of the image, in the workflow's
dependency order, with the command and environment the workflow gives it, against moto's S3 on
127.0.0.1 (`--env cloud`). The model it publishes must equal the one a run outside the image makes
from the same data and salt. The API then starts from the image with its exported command.
"""

from __future__ import annotations

import graphlib
import os
import re
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import httpx
import pandas as pd
import pytest
import yaml

from cirrus.contract import parse_contract
from cirrus.runs.record import RunRecord
from cirrus.serving.config import TOKEN_ENV
from cirrus.serving.schema import request_columns
from cirrus.storage import STORAGE_ROOT_ENV
from tests.conftest import (
    RAW_FILES,
    base_parameters,
    kedro,
    make_project,
    upload_raw,
    write_raw,
)
from tests.e2e.test_cloud_env import EXPECTED_OUTPUTS, written_objects
from tests.emulators.servers import create_s3_bucket, free_port, s3_server
from tests.image.container import REQUIRE_ENV, ImageRunner, build, why_no_builder
from tests.serving.live import request_rows

BUCKET = "cirrus-image-test"
SALT = "image-test-salt-0123456789abcdef"
TOKEN = "image-test-token-0123456789abcdef0123"
# The Kubernetes Secrets the manifests refer to, by name (conf/base/deploy.yml).
SECRETS = {"cirrus-pii-salt": SALT, "cirrus-api-token": TOKEN}
# An image that grows past this has picked up something it should not carry.
MAX_IMAGE_BYTES = 1_600_000_000


@pytest.fixture(scope="module")
def image() -> Iterator[ImageRunner]:
    """The image built from this checkout (skipped only where nothing can build it)."""
    reason = why_no_builder()
    if reason is not None:
        if REQUIRE_ENV in os.environ:
            pytest.fail(f"{REQUIRE_ENV} is set but the image cannot be built: {reason}")
        pytest.skip(reason)
    runner = build()
    yield runner
    runner.remove_containers()


@dataclass(frozen=True)
class Store:
    """The emulated bucket: its filesystem, the credentials a container gets, the project."""

    fs: fsspec.AbstractFileSystem
    aws_env: dict[str, str]
    project: Path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """moto's S3 with one bucket, and a project copy whose raw files are generated locally."""
    tmp_path = tmp_path_factory.mktemp("image")
    with s3_server(tmp_path) as server:
        create_s3_bucket(server.endpoint, BUCKET)
        # What a pod gets from its cloud identity, here as the SDK's own environment variables.
        aws_env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": server.endpoint,
        }
        fs = fsspec.filesystem(
            "s3", key="testing", secret="testing", client_kwargs={"endpoint_url": server.endpoint}
        )
        project = make_project(tmp_path / "project")
        write_raw(project)
        yield Store(fs, aws_env, project)


def exported_workflow(project: Path, root: str) -> dict[str, Any]:
    """The Argo workflow `kedro cirrus export argo` writes for a storage root."""
    result = kedro(project, "cirrus", "export", "argo", env={STORAGE_ROOT_ENV: root})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return yaml.safe_load((project / "build" / "argo" / "workflow.yaml").read_text())


def step_templates(workflow: dict[str, Any]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The DAG's task names in dependency order, and each task's container."""
    spec = workflow["spec"].get("workflowSpec", workflow["spec"])
    templates = {template["name"]: template for template in spec["templates"]}
    tasks = templates[spec["entrypoint"]]["dag"]["tasks"]
    graph = {task["name"]: set(task.get("dependencies", [])) for task in tasks}
    containers = {task["name"]: templates[task["template"]]["container"] for task in tasks}
    return list(graphlib.TopologicalSorter(graph).static_order()), containers


def container_env(container: Mapping[str, Any], extra: Mapping[str, str]) -> dict[str, str]:
    """The variables a container declares, each secret reference resolved from SECRETS."""
    env = {}
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        else:
            env[variable["name"]] = SECRETS[variable["valueFrom"]["secretKeyRef"]["name"]]
    return {**env, **extra}


@dataclass(frozen=True)
class StepRuns:
    """The steps run in the image, in order, with their results, on one storage root."""

    root: str
    order: list[str]
    results: dict[str, subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def step_runs(image: ImageRunner, store: Store) -> StepRuns:
    """Every exported step, run inside the image in the workflow's dependency order."""
    root = f"s3://{BUCKET}/image"
    upload_raw(store.project, store.fs, root)
    order, containers = step_templates(exported_workflow(store.project, root))
    results = {}
    for name in order:
        container = containers[name]
        env = container_env(container, store.aws_env)
        results[name] = image.run(container["command"], env)
        if results[name].returncode != 0:
            break
    return StepRuns(root, order, results)


def test_exported_steps_run_in_the_image_and_publish_every_output(step_runs: StepRuns) -> None:
    assert step_runs.order[0] == "ingestion" and len(step_runs.order) == 5
    for name in step_runs.order:
        done = step_runs.results.get(name)
        assert done is not None, f"step {name} never ran: an earlier step failed"
        assert done.returncode == 0, f"{name}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"


def test_the_image_writes_the_complete_output_set_to_the_store(
    step_runs: StepRuns, store: Store
) -> None:
    assert all(done.returncode == 0 for done in step_runs.results.values())
    written = written_objects(store.fs, step_runs.root)
    assert written >= EXPECTED_OUTPUTS, sorted(EXPECTED_OUTPUTS - written)
    staged = [p for p in store.fs.find(step_runs.root) if "/.cirrus/staging" in p]
    assert staged == []


def test_the_steps_of_the_workflow_share_one_run_record(step_runs: StepRuns, store: Store) -> None:
    assert all(done.returncode == 0 for done in step_runs.results.values())
    text = store.fs.cat_file(f"{step_runs.root}/08_reporting/run_record.json")
    record = RunRecord.model_validate_json(text)
    # Argo puts the workflow's uid in CIRRUS_RUN_ID; run outside Argo, every step reads the
    # placeholder itself: one id all the same, so the five records merge into one.
    assert record.run_id == "{{workflow.uid}}"
    assert record.pipelines == step_runs.order
    assert {node.run_id for node in record.nodes} == {record.run_id}
    assert all(node.peak_rss_bytes > 0 for node in record.nodes)


def test_the_image_model_equals_a_run_outside_it_on_the_same_data_and_salt(
    step_runs: StepRuns, store: Store
) -> None:
    root = f"s3://{BUCKET}/outside"
    for name in RAW_FILES:  # the very files the image read
        store.fs.copy(f"{step_runs.root}/01_raw/{name}", f"{root}/01_raw/{name}")
    env = {**store.aws_env, STORAGE_ROOT_ENV: root, "CIRRUS_PII_SALT": SALT}

    outside = kedro(store.project, "run", "--env", "cloud", env=env)

    assert outside.returncode == 0, outside.stdout[-3000:] + outside.stderr[-3000:]
    inside_model = store.fs.cat_file(f"{step_runs.root}/06_models/model.txt")
    outside_model = store.fs.cat_file(f"{root}/06_models/model.txt")
    assert inside_model == outside_model
    # The salt reached the image: the hashed columns of its tables are the outside run's.
    tables = []
    for run_root in (step_runs.root, root):
        with store.fs.open(f"{run_root}/03_primary/reference.parquet", "rb") as handle:
            tables.append(pd.read_parquet(handle))
    pd.testing.assert_frame_equal(tables[0], tables[1])


def serving_container(project: Path, root: str) -> dict[str, Any]:
    """The API's container from `kedro cirrus export kubernetes-serving`."""
    result = kedro(project, "cirrus", "export", "kubernetes-serving", env={STORAGE_ROOT_ENV: root})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    documents = yaml.safe_load_all(
        next((project / "build" / "kubernetes-serving").glob("*.yaml")).read_text()
    )
    [deployment] = [doc for doc in documents if doc and doc["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


def wait_until_ready(url: str, process: subprocess.Popen, log: Path, seconds: float = 180) -> None:
    """Until /readyz answers 200 with the token; fail with the server's output if it exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the API exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            answer = httpx.get(f"{url}/readyz", headers={"Authorization": f"Bearer {TOKEN}"})
            if answer.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the API did not get ready in {seconds}s:\n{log.read_text()[-3000:]}")


def test_the_api_answers_from_the_image_with_its_token(
    image: ImageRunner, step_runs: StepRuns, store: Store, tmp_path: Path
) -> None:
    container = serving_container(store.project, step_runs.root)
    command = list(container["command"])
    port = free_port()
    # The pod's port, moved to a free one: the container shares the host's network here.
    command[command.index("--port") + 1] = str(port)
    env = container_env(container, store.aws_env)
    assert env[TOKEN_ENV] == TOKEN  # from the Secret the manifest names
    with store.fs.open(f"{step_runs.root}/03_primary/test_rows.parquet", "rb") as handle:
        held_out = pd.read_parquet(handle)
    columns = request_columns(parse_contract(base_parameters("contract")["contract"]))
    [row] = request_rows(held_out.head(1), columns)
    log = tmp_path / "serve.log"

    process = image.start(command, env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, log)
        refused = httpx.post(f"{url}/v1/predict", json={"rows": [row]})
        answer = httpx.post(
            f"{url}/v1/predict",
            json={"rows": [row]},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
    finally:
        process.terminate()
        process.wait(timeout=60)

    assert refused.status_code == 401
    assert answer.status_code == 200, answer.text
    [prediction] = answer.json()["predictions"]
    scores = [value for key, value in prediction.items() if key.startswith("score")]
    assert len(scores) == 1 and 0.0 <= scores[0] <= 1.0


# What must never be baked into the image: local configuration, data, keys and cloud profiles.
FORBIDDEN = re.compile(
    r"/conf/local(/|$)|^/home/cirrus/app/data(/|$)|/\.aws(/|$)|/\.config/gcloud(/|$)"
    r"|/\.azure(/|$)|/\.ssh(/|$)|\.key$|/\.env$|/credentials[^/]*\.(ya?ml|json)$"
)
# Installed libraries carry templates and public CA bundles that match those names.
LIBRARIES = ("/opt/venv/lib/", "/usr/lib/", "/usr/share/")
# Secret values as they sit in key files, cloud profiles and connection strings.
SECRET_TEXT = re.compile(
    rb"-----BEGIN [A-Z ]*PRIVATE KEY-----|^aws_secret_access_key\s*=\s*\S"
    rb'|AccountKey=[A-Za-z0-9+/]{40}|"private_key":',
    flags=re.MULTILINE,
)
WRITABLE_PLACES = ("home", "root", "etc", "tmp", "var/tmp", "opt")


def test_the_image_runs_as_uid_10001_and_carries_no_data_or_credentials(
    image: ImageRunner, tmp_path: Path
) -> None:
    assert image.user().split(":")[0] == "10001"
    whoami = image.run(["id", "-u"])
    assert whoami.returncode == 0 and whoami.stdout.strip() == "10001", whoami.stderr

    with image.filesystem(tmp_path) as root:
        paths = ["/" + str(path.relative_to(root)) for path in root.rglob("*")]
        texts = [
            path
            for place in WRITABLE_PLACES
            for path in (root / place).rglob("*")
            if "/opt/venv/lib/" not in f"/{path.relative_to(root)}"
            and path.is_file()
            and not path.is_symlink()
            and SECRET_TEXT.search(path.read_bytes())
        ]

    assert "/home/cirrus/app/conf/base/catalog.yml" in paths  # the scan reads the image
    leaked = [path for path in paths if FORBIDDEN.search(path) and not path.startswith(LIBRARIES)]
    # The one credentials file that ships names the credential sets, with no values.
    assert leaked == ["/home/cirrus/app/conf/base/credentials.yml"], leaked
    assert texts == [], texts
    size = image.size_bytes()
    print(f"image {image.image}: {size / 1e9:.2f} GB")
    assert size < MAX_IMAGE_BYTES, f"the image is {size / 1e9:.2f} GB"

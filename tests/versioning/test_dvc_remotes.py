"""DVC push/pull of real pipeline outputs through S3, GCS and Azure emulators on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from azure.storage.blob import BlobServiceClient

from tests.emulators.servers import (
    azure_server,
    azurite_connection_string,
    gcs_server,
    s3_server,
)

TRACKED = ["data/03_primary", "data/05_model_input", "data/06_models", "data/08_reporting"]
BUCKET = "cirrus-test"
# gcsfs otherwise first waits about a minute on a gRPC attempt the emulator does not serve.
GCS_ENV = {"GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}


def dvc(project: Path, *args: str, check: bool = True, env: dict | None = None):
    """Run the real DVC CLI in the project."""
    bin_dir = str(Path(sys.executable).parent)
    full_env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        **(env or {}),
    }
    result = subprocess.run(
        [str(Path(bin_dir) / "dvc"), *args],
        cwd=project,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert result.returncode == 0, f"dvc {args}:\n{result.stdout}\n{result.stderr}"
    return result


def digests(project: Path) -> dict[str, str]:
    """SHA-256 of every tracked output file."""
    found = {}
    for folder in TRACKED:
        for path in sorted((project / folder).rglob("*")):
            if path.is_file() and path.name != ".gitignore":
                found[str(path.relative_to(project))] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    return found


@pytest.fixture
def versioned(trained_project: Path, tmp_path: Path) -> Path:
    """A git + DVC repository holding the outputs of a real pipeline run."""
    project = tmp_path / "versioned"
    for folder in TRACKED:
        shutil.copytree(trained_project / folder, project / folder)
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    dvc(project, "init", "-q")
    dvc(project, "add", *TRACKED)
    return project


def round_trip(project: Path, remote: str, env: dict | None = None) -> None:
    """Push, delete cache and outputs, pull, and assert every file came back identical."""
    before = digests(project)
    dvc(project, "push", "-r", remote, env=env)
    shutil.rmtree(project / ".dvc" / "cache")
    for folder in TRACKED:
        shutil.rmtree(project / folder)
    dvc(project, "pull", "-r", remote, env=env)
    assert before and digests(project) == before


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[str]:
    """A moto S3 server with one bucket; yields its endpoint."""
    with s3_server(tmp_path) as server:
        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=BUCKET)
        yield server.endpoint


def configure_s3(project: Path, endpoint: str) -> None:
    """The committed-style S3 remote (SSE on) plus local-only test credentials."""
    dvc(project, "remote", "add", "s3", f"s3://{BUCKET}/dvc")
    dvc(project, "remote", "modify", "s3", "sse", "AES256")
    dvc(project, "remote", "modify", "s3", "endpointurl", endpoint)
    dvc(project, "remote", "modify", "--local", "s3", "access_key_id", "test")
    dvc(project, "remote", "modify", "--local", "s3", "secret_access_key", "test")


def test_s3_round_trip_with_server_side_encryption(versioned: Path, s3: str) -> None:
    configure_s3(versioned, s3)

    round_trip(versioned, "s3")

    client = boto3.client(
        "s3",
        endpoint_url=s3,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]]
    encryption = {
        client.head_object(Bucket=BUCKET, Key=k).get("ServerSideEncryption") for k in keys
    }
    assert len(keys) >= len(digests(versioned))
    assert encryption == {"AES256"}
    assert "access_key_id" not in (versioned / ".dvc/config").read_text()  # only in config.local


def test_gcs_round_trip(versioned: Path, tmp_path: Path) -> None:
    with gcs_server(tmp_path, BUCKET) as server:
        dvc(versioned, "remote", "add", "gcs", f"gs://{BUCKET}/dvc")
        dvc(versioned, "remote", "modify", "gcs", "endpointurl", server.endpoint)
        dvc(versioned, "remote", "modify", "--local", "gcs", "allow_anonymous_login", "true")

        round_trip(versioned, "gcs", env=GCS_ENV)


def test_azure_round_trip(versioned: Path, tmp_path: Path) -> None:
    with azure_server(tmp_path) as server:
        connection = azurite_connection_string(server.endpoint)
        BlobServiceClient.from_connection_string(connection).create_container(BUCKET)
        dvc(versioned, "remote", "add", "azure", f"azure://{BUCKET}/dvc")
        dvc(versioned, "remote", "modify", "--local", "azure", "connection_string", connection)

        round_trip(versioned, "azure")

        container = BlobServiceClient.from_connection_string(connection).get_container_client(
            BUCKET
        )
        assert any(True for _ in container.list_blobs(name_starts_with="dvc/"))


def test_unreachable_remote_fails_clearly_and_keeps_cache_and_outputs(versioned: Path) -> None:
    before = digests(versioned)
    configure_s3(versioned, "http://127.0.0.1:9")  # discard port: nothing listens

    result = dvc(versioned, "push", "-r", "s3", check=False)

    assert result.returncode != 0
    assert (
        "failed to push" in (result.stdout + result.stderr).lower()
        or "error" in (result.stdout + result.stderr).lower()
    )
    assert digests(versioned) == before
    assert any((versioned / ".dvc/cache").rglob("*"))


def test_wrong_azure_key_fails_and_keeps_everything(versioned: Path, tmp_path: Path) -> None:
    before = digests(versioned)
    with azure_server(tmp_path) as server:
        good = azurite_connection_string(server.endpoint)
        BlobServiceClient.from_connection_string(good).create_container(BUCKET)
        wrong = azurite_connection_string(server.endpoint, key="d3Jvbmcta2V5LW5vdC1henVyaXRlcw==")
        dvc(versioned, "remote", "add", "azure", f"azure://{BUCKET}/dvc")
        dvc(versioned, "remote", "modify", "--local", "azure", "connection_string", wrong)

        result = dvc(versioned, "push", "-r", "azure", check=False)

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "failed to authenticate" in output.lower()
    assert digests(versioned) == before


def test_missing_azure_credentials_are_named(versioned: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_STORAGE")}
    with azure_server(tmp_path):
        dvc(versioned, "remote", "add", "azure", f"azure://{BUCKET}/dvc")

        result = dvc(versioned, "push", "-r", "azure", check=False, env=env)

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "requires either account_name or connection_string" in output

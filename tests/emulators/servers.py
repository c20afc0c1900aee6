"""Start real cloud-storage emulators on 127.0.0.1 (free ports), each in its own process group."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's published development key: public by design, accepted only by the emulator.
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass(frozen=True)
class Emulator:
    """A running emulator: where it listens and its process."""

    endpoint: str
    process: subprocess.Popen


def free_port(below: int | None = None) -> int:
    """A TCP port nobody listens on right now (optionally below a bound some servers impose)."""
    candidates = [0] if below is None else random.sample(range(20000, below), 200)
    for candidate in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError(f"no free TCP port below {below}")


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, seconds: float) -> None:
    """Block until the port accepts connections; fail with the log if the process dies."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited early:\n{log.read_text()[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"emulator not listening on {port} after {seconds}s:\n{log.read_text()}")


@contextmanager
def _serve(command: list[str], port: int, log: Path, env: dict | None = None) -> Iterator[Emulator]:
    """Run a server command until the context exits, then stop its whole process group."""
    process = subprocess.Popen(
        command,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    try:
        _wait_for_port(port, process, log, seconds=60)
        yield Emulator(endpoint=f"http://127.0.0.1:{port}", process=process)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _tool(name: str) -> str:
    """A console script installed beside this Python."""
    return str(Path(sys.executable).with_name(name))


@contextmanager
def s3_server(log_dir: Path) -> Iterator[Emulator]:
    """moto's S3 server."""
    port = free_port()
    command = [_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with _serve(command, port, log_dir / "moto.log") as emulator:
        yield emulator


@contextmanager
def gcs_server(log_dir: Path, bucket: str) -> Iterator[Emulator]:
    """gcp-storage-emulator (with GCS's moveTo, see gcs_emulator.py), in memory, one bucket."""
    port = free_port()
    command = [
        sys.executable,
        str(Path(__file__).with_name("gcs_emulator.py")),
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--in-memory",
        "--default-bucket",
        bucket,
    ]
    with _serve(command, port, log_dir / "gcs.log") as emulator:
        yield emulator


def azurite_binary() -> Path:
    """The azurite-blob script installed by `npm install` in tests/emulators."""
    binary = HERE / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        raise RuntimeError(
            f"{binary} is missing: run `npm install --prefix tests/emulators` (scripts/test.sh "
            "does this)."
        )
    return binary


@contextmanager
def azure_server(log_dir: Path) -> Iterator[Emulator]:
    """Azurite's blob service, in memory."""
    port = free_port()
    command = [
        str(azurite_binary()),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
        "--silent",
    ]
    with _serve(command, port, log_dir / "azurite.log") as emulator:
        yield emulator


def azurite_connection_string(endpoint: str, key: str = AZURITE_KEY) -> str:
    """Shared-key connection string for an Azurite endpoint."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={key};"
        f"BlobEndpoint={endpoint}/{AZURITE_ACCOUNT};"
    )


def s3_test_credentials(endpoint: str) -> dict[str, object]:
    """s3fs settings for moto, as a user would write them under `storage:` in credentials.yml."""
    return {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    }


def create_s3_bucket(endpoint: str, bucket: str) -> None:
    """Create a bucket on moto (s3fs' mkdir sends a region constraint us-east-1 rejects)."""
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)

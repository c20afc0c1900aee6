"""The built image, run as the cloud runs it: Docker when an engine answers, else buildah.

Every command starts in a fresh container of the image (as each pod of a workflow does), with the
host's network so that the emulators on 127.0.0.1 are reachable, as the image's own user.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import REPO

IMAGE = "localhost/cirrus:local"  # build-image.sh's default tag: one build serves both
BUILD_SCRIPT = REPO / "scripts" / "build-image.sh"
# Set by .ci/run: there the image tests must run, never skip.
REQUIRE_ENV = "CIRRUS_REQUIRE_IMAGE"
SIZE_UNITS = {"B": 1, "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9}


def buildah_storage() -> list[str]:
    """The storage flags build-image.sh chose on this machine, so the tests use its store."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cirrus"
    chosen = cache / "buildah-storage"
    return chosen.read_text().split() if chosen.exists() else []


def docker_answers() -> bool:
    """A Docker engine is reachable (the client alone is not enough)."""
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


def why_no_builder() -> str | None:
    """None when build-image.sh can build here, else the reason it cannot."""
    if docker_answers() or shutil.which("buildah"):
        return None
    if os.geteuid() == 0 and shutil.which("apt-get"):
        return None  # build-image.sh installs buildah itself
    return "no Docker engine answers and buildah is not installed (apt-get install buildah)"


@dataclass
class ImageRunner:
    """Runs commands in fresh containers of one image with Docker or buildah."""

    image: str
    docker: bool
    containers: list[str] = field(default_factory=list)

    def _buildah(self, *args: str) -> str:
        """A buildah command's output (raises with its error when it fails)."""
        done = subprocess.run(
            ["buildah", *buildah_storage(), *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"buildah {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip()

    def command(self, argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
        """The host command that runs argv in a new container of the image."""
        flags = [f"--env={key}={value}" for key, value in env.items()]
        if self.docker:
            entry, *rest = argv
            docker = ["docker", "run", "--rm", "--network=host", *flags, "--entrypoint", entry]
            return [*docker, self.image, *rest]
        container = self._buildah("from", "--pull-never", "--quiet", self.image)
        self.containers.append(container)
        buildah = [
            "buildah",
            *buildah_storage(),
            "run",
            "--isolation=chroot",
            "--network=host",
            *flags,
        ]
        return [*buildah, container, "--", *argv]

    def run(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 900
    ) -> subprocess.CompletedProcess:
        """Run argv to its end in a new container."""
        return subprocess.run(
            self.command(argv, env or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, argv: Sequence[str], env: Mapping[str, str], log: Path) -> subprocess.Popen:
        """Start argv in a new container, in its own process group, output to `log`."""
        with log.open("w") as handle:
            return subprocess.Popen(
                self.command(argv, env),
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def size_bytes(self) -> int:
        """The image's size as the builder reports it (buildah rounds to three digits)."""
        if self.docker:
            return int(self._docker_inspect("{{.Size}}"))
        [listed] = json.loads(self._buildah("images", "--json", self.image))
        number, unit = listed["size"].split()
        return int(float(number) * SIZE_UNITS[unit])

    def user(self) -> str:
        """The user the image's configuration runs as."""
        if self.docker:
            return self._docker_inspect("{{.Config.User}}")
        return self._buildah(
            "inspect", "--type", "image", "--format", "{{.OCIv1.Config.User}}", self.image
        )

    def _docker_inspect(self, template: str) -> str:
        """One field of `docker image inspect`."""
        done = subprocess.run(
            ["docker", "image", "inspect", "--format", template, self.image],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    @contextmanager
    def filesystem(self, scratch: Path) -> Iterator[Path]:
        """The image's root filesystem, readable as root from outside any container."""
        if self.docker:
            created = subprocess.run(
                ["docker", "create", self.image], capture_output=True, text=True, check=True
            ).stdout.strip()
            try:
                exported = subprocess.run(
                    ["docker", "export", created], capture_output=True, check=True
                ).stdout
            finally:
                subprocess.run(["docker", "rm", created], capture_output=True, check=False)
            with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
                archive.extractall(scratch, filter="tar")
            yield scratch
            return
        container = self._buildah("from", "--pull-never", "--quiet", self.image)
        self.containers.append(container)
        try:
            yield Path(self._buildah("mount", container))
        finally:
            self._buildah("umount", container)

    def remove_containers(self) -> None:
        """Remove the buildah containers this runner made (Docker's remove themselves)."""
        if self.containers:
            subprocess.run(
                ["buildah", *buildah_storage(), "rm", *self.containers],
                capture_output=True,
                check=False,
            )
            self.containers.clear()


def build(image: str = IMAGE) -> ImageRunner:
    """Build the image with scripts/build-image.sh; a runner for it."""
    done = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        env={**os.environ, "CIRRUS_IMAGE": image},
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        output = done.stdout[-3000:] + done.stderr[-3000:]
        raise AssertionError(f"scripts/build-image.sh failed:\n{output}")
    return ImageRunner(image=image, docker=docker_answers())

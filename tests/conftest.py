"""Shared fixtures: temporary copies of the project with small generated raw data."""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from cirrus.demo_data.generator import generate_demo_batches, generate_incoming_rows
from cirrus.parameters import DemoDataParams
from cirrus.storage import DATA_LAYERS

REPO = Path(__file__).resolve().parents[1]

# Markers by where a test lives (registered with --strict-markers in pyproject.toml). `slow` is
# everything the quick loop, `pytest -m "not slow"`, leaves out: real `kedro`, `dvc`, Jupyter,
# Airflow or browser processes, emulators, and tests built on a trained project.
FOLDER_MARKERS = {
    "e2e": ("e2e", "slow"),
    "image": ("image", "cloud", "slow"),
    "notebooks": ("e2e", "slow"),
    "serving": ("slow",),
    "versioning": ("slow",),
}
FILE_MARKERS = {
    "test_cloud_env.py": ("cloud",),
    "test_dvc_remotes.py": ("cloud",),
    "test_lock_lease.py": ("cloud",),
    "test_viz.py": ("browser",),
    "test_jupyter.py": ("browser",),
    "test_airflow.py": ("slow",),
    "test_checkov.py": ("slow",),  # one checkov run over infra/terraform, about 20 s
    # Real benchmark runs, and drift verdicts over many generated tables.
    "test_benchmarks.py": ("slow",),
    "test_verdicts.py": ("slow",),
}
# A test using one of these session fixtures waits for a whole `kedro run` of its own.
TRAINED_FIXTURES = {"trained_project", "serving_project", "server"}
# 5,200 reference rows hold out 1,040 for drift: above Evidently's small-reference boundary (1,000),
# so these runs take the default data's drift path; small references have tests of their own
# (their permutation test costs about 2.5 s per many-level column).
SMALL_DEMO = {
    "seed": 7,
    "reference": {"n_rows": 5200, "start": "2025-01-01", "end": "2026-01-01"},
    "current": {
        "n_rows": 800,
        "start": "2026-01-01",
        "end": "2026-03-01",
        "covariate_shift": {"annual_income": -0.4, "loan_purpose": 0.4},
        "concept_drift": 0.0,
    },
    "incoming": {
        "n_rows": 800,
        "start": "2026-03-01",
        "end": "2026-03-08",
        "covariate_shift": {"annual_income": -0.4, "loan_purpose": 0.4},
    },
}

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CIRRUS_PII_SALT", "test-salt")


def base_parameters(name: str) -> dict[str, Any]:
    """The committed `conf/base/parameters_<name>.yml`, parsed."""
    return yaml.safe_load((REPO / "conf" / "base" / f"parameters_{name}.yml").read_text())


def make_project(root: Path) -> Path:
    """A runnable copy of the project (conf, src, pyproject) with empty data layers."""
    shutil.copytree(REPO / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    for layer in DATA_LAYERS:
        (root / "data" / layer).mkdir(parents=True)
    return root


def write_raw(project: Path, demo: dict[str, Any] | None = None) -> None:
    """Generate small raw reference and current CSVs, and rows to score, where the catalog
    expects them."""
    params = DemoDataParams.parse(demo or SMALL_DEMO)
    reference, current = generate_demo_batches(params)
    reference.to_csv(project / "data/01_raw/credit_applications.csv", index=False)
    current.to_csv(project / "data/01_raw/credit_applications_current.csv", index=False)
    incoming = generate_incoming_rows(params)
    incoming.to_csv(project / "data/01_raw/credit_applications_new.csv", index=False)


RAW_FILES = (
    "credit_applications.csv",
    "credit_applications_current.csv",
    "credit_applications_new.csv",
)


def upload_raw(project: Path, fs: Any, root: str) -> None:
    """Move the raw CSVs of a project copy to <root>/01_raw/ on a (remote) fsspec filesystem."""
    for name in RAW_FILES:
        local = project / "data" / "01_raw" / name
        fs.put_file(str(local), f"{root}/01_raw/{name}")
        local.unlink()


def override(project: Path, name: str, block: dict[str, Any]) -> None:
    """Write a conf/local parameters file that replaces top-level blocks of conf/base."""
    path = project / "conf" / "local" / f"parameters_{name}.yml"
    path.write_text(yaml.safe_dump(block, sort_keys=False))


def kedro(
    project: Path, *args: str, timeout: int = 600, env: Mapping[str, str | None] | None = None
) -> subprocess.CompletedProcess:
    """Run the real Kedro CLI in a project copy; `env` adds variables (None removes one)."""
    merged = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "COLUMNS": "200", **(env or {})}
    env = {key: value for key, value in merged.items() if value is not None}
    kedro_bin = Path(sys.executable).with_name("kedro")
    return subprocess.run(
        [str(kedro_bin), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tool(
    project: Path, *args: str, env: Mapping[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run a command (git, dvc, kedro ...) in a project copy with this environment's tools on
    PATH and no telemetry; `env` adds variables."""
    merged = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "KEDRO_DISABLE_TELEMETRY": "true",
        **(env or {}),
    }
    return subprocess.run(
        args, cwd=project, env=merged, capture_output=True, text=True, timeout=timeout
    )


# Not outputs: the raw inputs, the runs' own state (lock, journals, staging) and the reports a
# failed run keeps for diagnosis.
NOT_OUTPUTS = ("01_raw", ".cirrus", "rejected")


def output_digests(project: Path) -> dict[str, str]:
    """SHA-256 of every output file under data/ (see NOT_OUTPUTS)."""
    digests = {}
    for path in sorted((project / "data").rglob("*")):
        if path.is_file() and not set(NOT_OUTPUTS) & set(path.parts):
            digests[str(path.relative_to(project))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def markers_for(relative: Path, fixtures: set[str]) -> set[str]:
    """The markers a test gets from its folder, its file and the fixtures it needs."""
    names: set[str] = set()
    for part in relative.parts[1:-1]:
        names.update(FOLDER_MARKERS.get(part, ()))
    names.update(FILE_MARKERS.get(relative.name, ()))
    if names & {"cloud", "browser"} or fixtures & TRAINED_FIXTURES:
        names.add("slow")
    return names


# Rough seconds a test costs, for ordering files: a slow one starts processes or trains.
SLOW_TEST_SECONDS, QUICK_TEST_SECONDS = 20, 1


def heaviest_files_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """The items, whole files together, the files with the most estimated work first.

    pytest-xdist hands whole files to the workers in this order (`--no-loadscope-reorder`): a
    long end-to-end file started last would leave one core idle while the other finishes it.
    """
    weight: Counter[Path] = Counter()
    first: dict[Path, int] = {}
    for index, item in enumerate(items):
        slow = item.get_closest_marker("slow") is not None
        weight[item.path] += SLOW_TEST_SECONDS if slow else QUICK_TEST_SECONDS
        first.setdefault(item.path, index)
    order = {id(item): index for index, item in enumerate(items)}
    return sorted(items, key=lambda item: (-weight[item.path], first[item.path], order[id(item)]))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test by folder, file and fixtures (see FOLDER_MARKERS); heaviest files first."""
    for item in items:
        relative = item.path.relative_to(REPO)
        for name in sorted(markers_for(relative, set(getattr(item, "fixturenames", ())))):
            item.add_marker(name)
    items[:] = heaviest_files_first(items)


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy on small data after one successful `kedro run` (read-only for tests)."""
    project = make_project(tmp_path_factory.mktemp("trained"))
    write_raw(project)
    result = kedro(project, "run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


@pytest.fixture
def project_factory(tmp_path: Path) -> Callable[..., Path]:
    """Make a fresh project copy, optionally cloned from an already-trained one."""

    def factory(from_project: Path | None = None) -> Path:
        target = tmp_path / "project"
        if from_project is None:
            make_project(target)
            write_raw(target)
        else:
            shutil.copytree(from_project, target)
        return target

    return factory


@pytest.fixture
def contract() -> dict[str, Any]:
    """A deep copy of the committed dataset contract."""
    return copy.deepcopy(base_parameters("contract")["contract"])

"""Champion/challenger promotion with GTO tags, and fetching the production model by stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cirrus.metrics import PRIMARY_METRIC
from cirrus.parameters import ConfigError, RegistryParams
from cirrus.versioning.promotion import decide
from tests.conftest import base_parameters, make_project

ARTIFACT = "credit-default-model"
MODEL = "data/06_models/model.txt"
METRICS = "data/08_reporting/evaluation_metrics.json"


def sh(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a tool of this environment (kedro, dvc, git) in the repository."""
    bin_dir = Path(sys.executable).parent
    tool = str(bin_dir / args[0]) if (bin_dir / args[0]).exists() else args[0]
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "KEDRO_DISABLE_TELEMETRY": "true"}
    result = subprocess.run([tool, *args[1:]], cwd=repo, env=env, capture_output=True, text=True)
    if check:
        assert result.returncode == 0, f"{args}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result


def commit_model(repo: Path, model_text: str, roc_auc: float, message: str) -> None:
    """Track a model with DVC, push it, and commit it with its metrics."""
    (repo / MODEL).write_text(model_text)
    (repo / METRICS).write_text(json.dumps({"task": "binary", "model": {"roc_auc": roc_auc}}))
    sh(repo, "dvc", "add", MODEL)
    sh(repo, "dvc", "push")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)


@pytest.fixture
def registry_repo(trained_project: Path, tmp_path: Path) -> Path:
    """A git + DVC project declaring the model artifact, with a local DVC remote."""
    repo = make_project(tmp_path / "repo")
    (repo / "dvc.yaml").write_text(
        yaml.safe_dump({"artifacts": {ARTIFACT: {"path": MODEL, "type": "model"}}})
    )
    (repo / ".gitignore").write_text("data/0[1-5]*/\n")
    sh(repo, "git", "init", "-q")
    sh(repo, "dvc", "init", "-q")
    sh(repo, "dvc", "remote", "add", "-d", "local", str(tmp_path / "storage"))
    return repo


def test_promotes_a_better_model_refuses_a_worse_one_and_serves_prod_by_stage(
    registry_repo: Path, trained_project: Path, tmp_path: Path
) -> None:
    real_model = (trained_project / MODEL).read_text()
    margin = base_parameters("registry")["registry"]["min_improvement"]

    commit_model(registry_repo, real_model, 0.800, "first model")
    first = sh(registry_repo, "kedro", "cirrus", "promote")
    commit_model(registry_repo, real_model + "\n# challenger 1", 0.800 + margin / 2, "small gain")
    refused = sh(registry_repo, "kedro", "cirrus", "promote", check=False)
    commit_model(registry_repo, real_model + "\n# challenger 2", 0.830, "clear gain")
    second = sh(registry_repo, "kedro", "cirrus", "promote")
    fetched = tmp_path / "prod_model.txt"
    sh(
        tmp_path,
        "dvc",
        "artifacts",
        "get",
        str(registry_repo),
        ARTIFACT,
        "--stage",
        "prod",
        "-o",
        str(fetched),
    )

    assert f"Promoted {ARTIFACT}@v0.1.0 to 'prod'" in first.stdout
    assert refused.returncode != 0
    assert "Not promoted: model.roc_auc 0.8025 vs champion 0.8000" in refused.stderr
    assert f"required at least {margin:.4f}" in refused.stderr
    assert f"Promoted {ARTIFACT}@v0.2.0 to 'prod'" in second.stdout
    tags = sh(registry_repo, "git", "tag").stdout.split()
    assert {f"{ARTIFACT}@v0.1.0", f"{ARTIFACT}@v0.2.0"} <= set(tags)
    assert fetched.read_text() == real_model + "\n# challenger 2"


@pytest.mark.parametrize(
    ("challenger", "champion", "higher", "promote"),
    [
        (0.81, 0.80, True, True),
        (0.803, 0.80, True, False),
        (0.79, 0.80, True, False),
        (0.40, 0.45, False, True),
        (0.449, 0.45, False, False),
    ],
)
def test_decision_rule(challenger, champion, higher, promote) -> None:
    params = RegistryParams(
        artifact="m", metric="model.x", higher_is_better=higher, min_improvement=0.005
    )

    decision = decide(challenger, champion, params)

    assert decision.promote is promote
    assert "required at least 0.0050" in decision.reason


def test_first_model_is_promoted_without_a_champion() -> None:
    params = RegistryParams(artifact="m", metric="model.x")

    decision = decide(0.5, None, params)

    assert decision.promote is True
    assert "no model in stage 'prod' yet" in decision.reason


@pytest.mark.parametrize(
    ("metric", "challenger", "promote"),
    [("model.roc_auc", 0.82, True), ("model.roc_auc", 0.78, False), ("model.rmse", 0.78, True)],
)
def test_unset_direction_follows_the_metric(metric: str, challenger: float, promote: bool) -> None:
    params = RegistryParams(artifact="m", metric=metric, min_improvement=0.005)

    decision = decide(challenger, 0.80, params)

    assert decision.promote is promote


def test_unset_metric_is_the_tasks_primary_metric() -> None:
    params = RegistryParams(artifact="m")

    resolved = {task: params.for_task(task).metric for task in PRIMARY_METRIC}

    assert resolved == {task: f"model.{name}" for task, name in PRIMARY_METRIC.items()}
    assert params.for_task("regression").metric_higher_is_better() is False
    with pytest.raises(ConfigError, match=r"parameters_registry\.yml"):
        params.for_task(None)

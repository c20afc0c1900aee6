"""Promotion refuses a model whose committed card leaves owner, intended use, limitations or
risk rating unstated, naming exactly which."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from cirrus.errors import CirrusError
from cirrus.parameters import RegistryParams
from cirrus.versioning.promotion import (
    IncompleteModelCardError,
    card_block_at,
    promote,
    require_complete_card,
)
from tests.conftest import kedro, make_project

CARD_FILE = "conf/base/parameters_model_card.yml"
COMPLETE = {
    "owner": "Credit Risk Analytics team",
    "intended_use": "Rank applications for review.",
    "limitations": ["Demo data only."],
    "risk_rating": "high",
}


def git(repo: Path, *args: str) -> str:
    """Run git in the repository, failing with its message."""
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def commit_card(repo: Path, block: dict | None, file: str = CARD_FILE) -> str:
    """Commit a parameters file holding the `model_card` block; the new commit's hash."""
    path = repo / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"model_card": block} if block is not None else {"other": 1}))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "card")
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository."""
    git(tmp_path, "init", "-q")
    return tmp_path


@pytest.mark.parametrize(
    ("blanked", "named"),
    [
        ({"owner": ""}, "owner"),
        ({"intended_use": None}, "intended_use"),
        ({"limitations": []}, "limitations"),
        ({"risk_rating": None, "owner": "  "}, "owner, risk_rating"),
    ],
)
def test_promotion_names_exactly_the_missing_fields(repo: Path, blanked: dict, named: str) -> None:
    commit = commit_card(repo, {**COMPLETE, **blanked})

    with pytest.raises(IncompleteModelCardError) as refused:
        promote(repo, RegistryParams(artifact="m", metric="model.roc_auc"), "HEAD")

    assert f"does not state {named} (the `model_card` block" in str(refused.value)
    assert f"Not promoted to 'prod': the model card committed at {commit[:12]}" in str(
        refused.value
    )
    assert isinstance(refused.value, CirrusError)
    assert "parameters_model_card.yml" in refused.value.hint
    assert git(repo, "tag") == ""  # nothing registered


def test_a_complete_card_passes_and_a_missing_block_names_all_four(repo: Path) -> None:
    complete = commit_card(repo, COMPLETE)
    missing = commit_card(repo, None)

    require_complete_card(repo, complete, "prod")
    with pytest.raises(
        IncompleteModelCardError, match="owner, intended_use, limitations, risk_rating"
    ):
        require_complete_card(repo, missing, "prod")


def test_the_committed_card_counts_not_the_working_copy(repo: Path) -> None:
    commit = commit_card(repo, {**COMPLETE, "owner": None})
    (repo / CARD_FILE).write_text(yaml.safe_dump({"model_card": COMPLETE}))  # not committed

    with pytest.raises(IncompleteModelCardError, match="does not state owner "):
        require_complete_card(repo, commit, "prod")


def test_the_block_is_found_in_any_committed_parameters_file(repo: Path) -> None:
    commit = commit_card(repo, COMPLETE, file="conf/base/parameters.yml")

    assert card_block_at(repo, commit) == COMPLETE


def test_kedro_cirrus_promote_prints_what_the_card_lacks(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    card = yaml.safe_load((project / CARD_FILE).read_text())
    card["model_card"]["risk_rating"] = None
    (project / CARD_FILE).write_text(yaml.safe_dump(card))
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "a model without a risk rating")

    result = kedro(project, "cirrus", "promote")

    assert result.returncode != 0
    assert "does not state risk_rating" in result.stderr + result.stdout

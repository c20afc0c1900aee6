"""Champion/challenger promotion of the model in the GTO registry (git tags).

A model is promoted only when the card committed with it states its owner, intended use,
limitations and risk rating (the `model_card` block of conf/base/parameters_model_card.yml).
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cirrus.errors import CirrusError
from cirrus.parameters import MODEL_CARD_FILE, ModelCardParams, RegistryParams

FIRST_VERSION = "v0.1.0"
CARD_BLOCK, COMMITTED_PARAMETERS = "model_card", "conf/base/parameters*.yml"


@dataclass(frozen=True)
class Decision:
    """Whether the challenger replaces the champion, and why."""

    promote: bool
    reason: str
    challenger: float
    champion: float | None


def parse_promotion(raw: dict[str, Any] | None) -> RegistryParams:
    """Parse the `registry` block, naming the file and key on error."""
    return RegistryParams.parse(raw)


def metric_value(metrics: dict[str, Any], dotted: str, where: str) -> float:
    """Read a dotted metric path from a metrics dict, naming what is missing."""
    value: Any = metrics
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"Metric '{dotted}' not found in {where} (missing '{part}').")
        value = value[part]
    return float(value)


def decide(challenger: float, champion: float | None, params: RegistryParams) -> Decision:
    """Promote when there is no champion, or the challenger beats it by the declared margin."""
    name = params.metric
    if champion is None:
        return Decision(True, f"no model in stage '{params.stage}' yet", challenger, None)
    higher = params.metric_higher_is_better()
    gain = challenger - champion if higher else champion - challenger
    direction = "higher" if higher else "lower"
    verdict = (
        f"{name} {challenger:.4f} vs champion {champion:.4f}: {direction} is better, "
        f"improvement {gain:+.4f}, required at least {params.min_improvement:.4f}"
    )
    return Decision(gain >= params.min_improvement and gain > 0, verdict, challenger, champion)


class PromotionError(CirrusError, RuntimeError):
    """Promotion cannot start: no git repository, an unknown ref, or git itself is missing."""

    hint = "Run `kedro cirrus promote` in the project's git repository, with a ref git knows."


class GitCommandError(PromotionError):
    """A git command failed; the message has git's own explanation."""


def _git(repo: Path, *args: str) -> str:
    """Run git in the repository and return its output; a failure says what went wrong."""
    try:
        result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    except FileNotFoundError:
        raise PromotionError(
            "git is not installed (or not on PATH): promotion compares metrics committed in git"
        ) from None
    if result.returncode == 0:
        return result.stdout
    if "not a git repository" in result.stderr.lower():
        raise PromotionError(
            f"not a git repository: {repo} (promotion compares the metrics committed in git: "
            "`git init`, then commit dvc.lock and the metrics of a run)"
        )
    detail = result.stderr.strip() or f"exit code {result.returncode}"
    raise GitCommandError(f"`git {' '.join(args)}` failed in {repo}: {detail}")


class IncompleteModelCardError(PromotionError):
    """The model's card leaves unstated what a model in production must have on it."""

    hint = (
        "State them in the `model_card:` block of conf/base/parameters_model_card.yml, commit "
        "it, and promote again (`kedro cirrus model-card` shows the card)."
    )


def card_block_at(repo: Path, commit: str) -> dict[str, Any] | None:
    """The `model_card` parameters block as committed at `commit` (conf/base/parameters*.yml)."""
    listed = _git(repo, "ls-tree", "--name-only", commit, "conf/base/").split()
    for path in sorted(listed):
        if fnmatch.fnmatch(posixpath.basename(path), posixpath.basename(COMMITTED_PARAMETERS)):
            block = (yaml.safe_load(_git(repo, "show", f"{commit}:{path}")) or {}).get(CARD_BLOCK)
            if block is not None:
                return block
    return None


def require_complete_card(repo: Path, commit: str, stage: str) -> None:
    """Refuse promotion when the card committed with the model leaves owner, intended_use,
    limitations or risk_rating unstated, naming each one missing."""
    missing = ModelCardParams.parse(card_block_at(repo, commit) or {}).missing_for_production()
    if missing:
        raise IncompleteModelCardError(
            f"Not promoted to '{stage}': the model card committed at {commit[:12]} does not "
            f"state {', '.join(missing)} (the `{CARD_BLOCK}` block of {MODEL_CARD_FILE})."
        )


def resolve_commit(repo: Path, ref: str) -> str:
    """The commit a ref names, or an error naming the ref (and saying when nothing is committed)."""
    _git(repo, "rev-parse", "--git-dir")  # a clear error outside a repository
    try:
        return _git(repo, "rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}").strip()
    except GitCommandError:
        pass
    try:
        _git(repo, "rev-parse", "--verify", "HEAD")
    except GitCommandError:
        raise PromotionError(
            f"unknown git ref '{ref}': nothing is committed yet in {repo}"
        ) from None
    raise PromotionError(
        f"unknown git ref '{ref}' in {repo} (give a commit, branch or tag, e.g. --ref HEAD~1)"
    )


def metrics_at(repo: Path, ref: str, metrics_file: str) -> dict[str, Any]:
    """The metrics file as committed at a git ref (metrics live in git, DVC cache: false)."""
    try:
        return json.loads(_git(repo, "show", f"{ref}:{metrics_file}"))
    except GitCommandError:
        raise FileNotFoundError(
            f"{metrics_file} is not committed at {ref}: run the pipeline (dvc repro) and "
            "commit dvc.lock and the metrics before promoting."
        ) from None


def champion_ref(repo: Path, params: RegistryParams) -> tuple[str, str] | None:
    """(version, commit) of the artifact's model currently in the stage, if any."""
    from gto.api import find_versions_in_stage
    from gto.exceptions import ArtifactNotFound

    try:
        found = find_versions_in_stage(str(repo), params.artifact, params.stage)
    except ArtifactNotFound:  # nothing registered yet
        return None
    if not found:
        return None
    version = found[0] if isinstance(found, list) else found
    return version.version, version.ref


def promote(repo: Path, params: RegistryParams, ref: str = "HEAD") -> tuple[Decision, str | None]:
    """Compare the model at `ref` with the stage's champion; register and assign if it wins."""
    from gto.api import assign, find_latest_version, register
    from gto.exceptions import ArtifactNotFound

    commit = resolve_commit(repo, ref)
    require_complete_card(repo, commit, params.stage)  # before any comparison or registration
    challenger_metrics = metrics_at(repo, commit, params.metrics_file)
    params = params.for_task(challenger_metrics.get("task"))
    challenger = metric_value(
        challenger_metrics, str(params.metric), f"{params.metrics_file}@{ref}"
    )
    current = champion_ref(repo, params)
    champion = None
    if current is not None:
        where = f"{params.metrics_file}@{current[0]}"
        champion = metric_value(
            metrics_at(repo, current[1], params.metrics_file), str(params.metric), where
        )
    decision = decide(challenger, champion, params)
    if not decision.promote:
        return decision, None
    try:
        has_versions = find_latest_version(str(repo), params.artifact) is not None
    except ArtifactNotFound:
        has_versions = False
    # Each promoted model bumps the minor version; the first one starts the series at v0.1.0.
    bump = {"bump_minor": True} if has_versions else {"version": FIRST_VERSION}
    version = register(str(repo), params.artifact, commit, **bump).version
    assign(str(repo), params.artifact, params.stage, version=version)
    return decision, version

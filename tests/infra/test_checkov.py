"""Offline checks of infra/terraform: `terraform fmt`, and checkov with 0 failed checks and every
skip written inline with its reason. checkov runs once, from its own virtual environment
(.venv-checkov, installed from infra/checkov.lock by infra/setup-checkov.sh)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from tests.infra.conftest import INFRA, REPO

SETUP_SCRIPT = REPO / "infra" / "setup-checkov.sh"
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
INLINE_SKIP = re.compile(r"#\s*checkov:skip=(CKV2?_[A-Z0-9]+_\d+):(.*)")
MIN_REASON = 30  # characters: a reason says why, not just "not needed"


@pytest.fixture(scope="module")
def checkov() -> dict[str, Any]:
    """One checkov run over the three clouds: its JSON report."""
    setup = subprocess.run(["bash", str(SETUP_SCRIPT)], capture_output=True, text=True, timeout=900)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(INFRA),
            "--framework",
            "terraform",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    # checkov exits 1 when a check fails; the report says which
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def inline_skips() -> list[tuple[str, str, str]]:
    """Every `#checkov:skip=ID:reason` in the Terraform: (file, check, reason)."""
    return [
        (path.relative_to(INFRA).as_posix(), match.group(1), match.group(2).strip())
        for path in sorted(INFRA.rglob("*.tf"))
        for match in INLINE_SKIP.finditer(path.read_text())
    ]


def test_terraform_is_formatted() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("no `terraform` binary on this machine: `terraform fmt -check` cannot run")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(INFRA)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"not formatted (run `terraform fmt -recursive infra/terraform`):\n{result.stdout}"
    )


def test_checkov_finds_no_failed_check(checkov: dict[str, Any]) -> None:
    summary = checkov["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for c in checkov["results"].get("failed_checks", [])
    ]
    assert summary["failed"] == 0 and not failed, failed
    assert summary["parsing_errors"] == 0
    # all three clouds were read: each has passed checks
    clouds = {c["file_path"].strip("/").split("/")[0] for c in checkov["results"]["passed_checks"]}
    assert clouds == {"aws", "gcp", "azure"}
    assert summary["passed"] >= 200


def test_every_skip_is_inline_with_its_reason(checkov: dict[str, Any]) -> None:
    skips = inline_skips()
    short = [s for s in skips if len(s[2]) < MIN_REASON]
    assert skips and not short, short
    skipped = {c["check_id"] for c in checkov["results"].get("skipped_checks", [])}
    # every skip checkov applied is one written in the Terraform, and none is written in vain
    assert skipped == {check for _, check, _ in skips}
    assert checkov["summary"]["skipped"] == len(skips)

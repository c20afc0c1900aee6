"""A user's data is never overwritten by the demo: after `kedro cirrus init-contract` on a
user's file, neither `kedro run --pipelines demo_data` nor `kedro cirrus dvc-yaml` + `dvc repro`
write to it."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests import shapes
from tests.conftest import REPO, kedro, make_project, tool

USER_FILE = "data/01_raw/churn.csv"


def test_demo_run_and_dvc_repro_leave_the_users_raw_file_byte_identical(tmp_path: Path) -> None:
    # Arrange: the demo's project, a user's file, init-contract pointing the raw entries at it
    project = make_project(tmp_path / "project")
    shutil.copy2(REPO / ".gitignore", project / ".gitignore")
    shapes.churn_without_time(n_rows=1200).to_csv(project / USER_FILE, index=False)
    original = (project / USER_FILE).read_bytes()
    init = kedro(project, "cirrus", "init-contract", USER_FILE, "--target", "churned", "--force")
    assert init.returncode == 0, init.stdout[-3000:] + init.stderr[-3000:]

    # Act 1: the README's "(re)generate the bundled demo data"
    demo = kedro(project, "run", "--pipelines", "demo_data")

    # Assert 1: refused, naming the entry and its file, nothing written
    shown = demo.stdout + demo.stderr
    assert demo.returncode != 0
    assert "Demo data not generated" in shown
    assert f"raw_reference reads {USER_FILE}" in shown
    assert "point these entries back at the demo's files" in shown
    assert "Traceback" not in shown
    assert (project / USER_FILE).read_bytes() == original
    assert sorted(p.name for p in (project / "data/01_raw").iterdir()) == ["churn.csv"]

    # Act 2: the generated dvc.yaml, then `dvc repro` in a git + DVC repository
    for command in (("git", "init", "-q"), ("dvc", "init", "-q")):
        assert tool(project, *command).returncode == 0
    generated = kedro(project, "cirrus", "dvc-yaml")
    assert generated.returncode == 0, generated.stderr[-3000:]
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    repro = tool(project, "dvc", "repro")

    # Assert 2: no stage writes the user's file; the lifecycle ran on it, leaving it untouched
    assert "demo_data" not in stages
    assert USER_FILE in stages["ingestion"]["deps"]
    assert not [s for s, stage in stages.items() if USER_FILE in str(stage.get("outs", []))]
    assert repro.returncode == 0, repro.stdout[-3000:] + repro.stderr[-3000:]
    assert "Running stage 'drift'" in repro.stdout
    assert (project / USER_FILE).read_bytes() == original

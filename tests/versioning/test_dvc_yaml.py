"""The generated dvc.yaml: derived from the pipelines and catalog, checked for staleness."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from kedro.framework.project import configure_project

from cirrus.versioning.dvc_yaml import (
    DvcGenerationError,
    build_dvc_config,
    describe_differences,
    render,
)
from cirrus.versioning.project_view import load_project_view
from tests.conftest import REPO, kedro, make_project


@pytest.fixture(scope="module", autouse=True)
def _configured() -> None:
    """find_pipelines needs the package configured, as the Kedro CLI does."""
    configure_project("cirrus")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project copy with the committed dvc.yaml."""
    root = make_project(tmp_path / "p")
    shutil.copy2(REPO / "dvc.yaml", root / "dvc.yaml")
    return root


def _edit_catalog(project: Path, name: str, **changes: object) -> None:
    """Change (or, with value None, drop) keys of one committed catalog entry."""
    path = project / "conf/base/catalog.yml"
    catalog = yaml.safe_load(path.read_text())
    if changes == {"remove": True}:
        catalog.pop(name)
    else:
        catalog[name].update(changes)
    path.write_text(yaml.safe_dump(catalog))


def test_committed_dvc_yaml_is_what_the_generator_produces() -> None:
    expected = render(build_dvc_config(load_project_view(REPO)))

    assert (REPO / "dvc.yaml").read_text() == expected


def test_stages_follow_the_pipelines_with_exact_params_deps_outs_and_metrics() -> None:
    config = build_dvc_config(load_project_view(REPO))
    stages = config["stages"]

    assert list(stages) == ["demo_data", "ingestion", "features", "training", "evaluation", "drift"]
    assert stages["training"]["cmd"] == "kedro run --pipelines training"
    assert stages["drift"]["params"] == [
        {"conf/base/parameters_drift.yml": ["drift"]},
        {"conf/base/parameters_evaluation.yml": ["evaluation"]},
    ]
    assert "data/06_models/model.txt" in stages["training"]["outs"]
    assert "data/06_models/model.txt" in stages["evaluation"]["deps"]
    # Narrow code deps: the shared modules a stage uses, never another pipeline's nodes.
    assert "src/cirrus/modeling.py" in stages["training"]["deps"]
    assert "src/cirrus/feature_spec.py" in stages["training"]["deps"]
    # A dataset class of the project is code the stage runs: raw CSVs load through it.
    assert "src/cirrus/datasets.py" in stages["ingestion"]["deps"]
    for stage, deps in ((name, s["deps"]) for name, s in stages.items()):
        foreign = [d for d in deps if d.startswith("src/cirrus/pipelines/")]
        assert all(d.startswith(f"src/cirrus/pipelines/{stage}/") for d in foreign), stage
    # `dvc metrics show` prints the headline only; the full metrics are outputs kept in git.
    assert [s.get("metrics") for s in stages.values() if s.get("metrics")] == [
        [{"data/08_reporting/metrics.json": {"cache": False}}]
    ]
    assert {"data/08_reporting/evaluation_metrics.json": {"cache": False}} in stages["evaluation"][
        "outs"
    ]
    plotted = {
        path: spec["template"]
        for entry in stages["evaluation"]["plots"]
        for path, spec in entry.items()
    }
    assert plotted == {
        "data/08_reporting/calibration_points.csv": "linear",
        "data/08_reporting/confusion_counts.csv": "confusion_counts",
        "data/08_reporting/pr_points.csv": "simple",
        "data/08_reporting/prediction_points.csv": "scatter",
        "data/08_reporting/roc_points.csv": "simple",
    }
    assert (REPO / ".dvc/plots/confusion_counts.json").is_file()  # the custom template
    assert config["artifacts"]["credit-default-model"] == {
        "path": "data/06_models/model.txt",
        "type": "model",
    }


def test_metrics_plot_and_uncached_files_are_not_git_ignored() -> None:
    stages = build_dvc_config(load_project_view(REPO))["stages"].values()
    small_files = [
        path
        for stage in stages
        for field in ("metrics", "plots", "outs")
        for entry in stage.get(field, [])
        if isinstance(entry, dict)  # in outs: those with `cache: false`
        for path in entry
    ]

    ignored = subprocess.run(
        ["git", "check-ignore", *small_files], cwd=REPO, capture_output=True, text=True
    )
    assert len(small_files) >= 9 and ignored.stdout == ""


def test_what_dvc_plots_show_writes_is_git_ignored() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "dvc_plots/index.html"], cwd=REPO, capture_output=True, text=True
    )

    assert ignored.stdout.strip() == "dvc_plots/index.html"


def test_no_demo_stage_once_a_raw_entry_points_at_a_users_file(project: Path) -> None:
    _edit_catalog(project, "raw_reference", filepath="${globals:data_root}/01_raw/churn.csv")

    stages = build_dvc_config(load_project_view(project))["stages"]

    assert list(stages) == ["ingestion", "features", "training", "evaluation", "drift"]
    assert "data/01_raw/churn.csv" in stages["ingestion"]["deps"]
    written = [str(stage.get("outs", [])) for stage in stages.values()]
    assert not [outs for outs in written if "01_raw" in outs]


def test_check_passes_on_the_committed_file(project: Path) -> None:
    result = kedro(project, "cirrus", "dvc-yaml", "--check")

    assert result.returncode == 0, result.stderr[-2000:]
    assert "dvc.yaml is up to date" in result.stdout


def test_check_names_the_stage_and_field_of_a_stale_file(project: Path) -> None:
    _edit_catalog(project, "model", filepath="data/06_models/booster.txt")

    result = kedro(project, "cirrus", "dvc-yaml", "--check")

    assert result.returncode != 0
    assert "stage 'training' field 'outs'" in result.stderr
    assert "stage 'evaluation' field 'deps'" in result.stderr
    assert (project / "dvc.yaml").read_text() == (REPO / "dvc.yaml").read_text()


def test_output_outside_data_is_refused_naming_the_dataset(project: Path) -> None:
    _edit_catalog(project, "feature_importance", filepath="reports/importance.csv")

    with pytest.raises(DvcGenerationError, match=r"'feature_importance'.*outside data/"):
        build_dvc_config(load_project_view(project))


def test_memory_dataset_crossing_stages_is_refused_naming_it(project: Path) -> None:
    _edit_catalog(project, "feature_spec", remove=True)

    with pytest.raises(DvcGenerationError, match="'feature_spec' crosses from stage 'features'"):
        build_dvc_config(load_project_view(project))


def test_differences_name_missing_and_extra_stages() -> None:
    expected = {"stages": {"a": {"cmd": "x"}, "b": {"cmd": "y"}}}
    committed = {"stages": {"a": {"cmd": "z"}, "c": {"cmd": "y"}}}

    problems = describe_differences(expected, committed)

    assert "stage 'b' is missing" in problems
    assert "stage 'c' no longer exists in the pipelines" in problems
    assert any(p.startswith("stage 'a' field 'cmd'") for p in problems)

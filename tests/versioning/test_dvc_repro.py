"""`dvc repro` on the generated dvc.yaml: full first run, no-op rerun, exact incremental reruns."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, SMALL_DEMO, make_project, tool

ALL_STAGES = ["demo_data", "ingestion", "features", "training", "evaluation", "drift"]


def run(project: Path, *args: str) -> subprocess.CompletedProcess:
    """Run a command in the project (see `tool`); it must succeed."""
    result = tool(project, *args)
    assert result.returncode == 0, f"{args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def ran_stages(output: str) -> list[str]:
    """Stages `dvc repro` actually executed, in order, from its own output."""
    return re.findall(r"Running stage '([^']+)'", output)


def changed_stages(project: Path) -> set[str]:
    """Stages `dvc status --json` reports as changed."""
    return set(json.loads(run(project, "dvc", "status", "--json").stdout or "{}"))


def edit_yaml(path: Path, edit) -> None:
    """Load a YAML file, apply an in-place edit, write it back."""
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture(scope="module")
def dvc_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git + DVC project copy on small demo data, after its first `dvc repro`."""
    project = make_project(tmp_path_factory.mktemp("dvc") / "project")
    shutil.copy2(REPO / "dvc.yaml", project / "dvc.yaml")
    shutil.copy2(REPO / ".gitignore", project / ".gitignore")
    (project / "conf/base/parameters_demo_data.yml").write_text(
        yaml.safe_dump({"demo_data": SMALL_DEMO}, sort_keys=False)
    )
    run(project, "git", "init", "-q")
    run(project, "dvc", "init", "-q")
    shutil.copytree(REPO / ".dvc" / "plots", project / ".dvc" / "plots")  # custom templates
    first = run(project, "dvc", "repro")
    run(project, "git", "add", "-A")
    run(project, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "run")
    return project, first.stdout


def test_first_repro_runs_every_stage_in_pipeline_order(dvc_project) -> None:
    _, first_output = dvc_project

    assert ran_stages(first_output) == ALL_STAGES


def test_second_repro_runs_nothing(dvc_project) -> None:
    project, _ = dvc_project

    output = run(project, "dvc", "repro").stdout

    assert ran_stages(output) == []
    assert changed_stages(project) == set()


def test_changing_a_drift_threshold_reruns_only_drift(dvc_project) -> None:
    project, _ = dvc_project
    edit_yaml(
        project / "conf/base/parameters_drift.yml",
        lambda p: p["drift"].update(drift_share=0.4),
    )

    changed = changed_stages(project)
    output = run(project, "dvc", "repro").stdout

    assert changed == {"drift"}
    assert ran_stages(output) == ["drift"]
    assert json.loads((project / "data/08_reporting/drift_summary.json").read_text())[
        "drift_share_threshold"
    ] == pytest.approx(0.4)


def test_changing_a_training_parameter_reruns_training_and_downstream_only(dvc_project) -> None:
    project, _ = dvc_project
    edit_yaml(
        project / "conf/base/parameters_training.yml",
        lambda p: p["training"]["lgbm_params"].update(num_leaves=15),
    )

    changed = changed_stages(project)
    output = run(project, "dvc", "repro").stdout

    assert changed == {"training"}
    assert ran_stages(output) == ["training", "evaluation", "drift"]


def test_metrics_diff_and_params_diff_see_the_change(dvc_project) -> None:
    project, _ = dvc_project

    params = json.loads(run(project, "dvc", "params", "diff", "--json").stdout)
    metrics = json.loads(run(project, "dvc", "metrics", "diff", "--json").stdout)
    training = json.loads(
        run(
            project,
            "dvc",
            "metrics",
            "diff",
            "--json",
            "--targets",
            "data/06_models/training_metrics.json",
        ).stdout
    )

    training_params = params["conf/base/parameters_training.yml"]
    change = training_params["training.lgbm_params.num_leaves"]
    assert (change["old"], change["new"]) == (31, 15)
    # The headline leads; the full files stay one `--targets` away.
    assert set(metrics) == {"data/08_reporting/metrics.json"}
    assert "roc_auc" in metrics["data/08_reporting/metrics.json"]
    assert "best_iteration" in training["data/06_models/training_metrics.json"]


def test_metrics_show_prints_the_headline_only(dvc_project) -> None:
    project, _ = dvc_project

    shown = json.loads(run(project, "dvc", "metrics", "show", "--json").stdout)

    files = {path: data for entry in shown.values() for path, data in entry["data"].items()}
    assert list(files) == ["data/08_reporting/metrics.json"]
    assert list(files["data/08_reporting/metrics.json"]["data"]) == [
        "roc_auc",
        "baseline_roc_auc",
        "test_rows",
        "dataset_drift",
        "drifted_feature_share",
        "prediction_drift",
        "target_drift",
    ]


def test_experiment_run_with_a_set_parameter(dvc_project) -> None:
    project, _ = dvc_project
    run(project, "git", "add", "-A")
    run(project, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "leaves")

    run(
        project,
        "dvc",
        "exp",
        "run",
        "-S",
        "conf/base/parameters_training.yml:training.lgbm_params.num_leaves=7",
    )
    shown = json.loads(run(project, "dvc", "exp", "show", "--json").stdout)

    experiments = [exp for commit in shown for exp in (commit.get("experiments") or [])]
    assert experiments, shown
    params = (REPO / "conf/base/parameters_training.yml").read_text()
    assert "num_leaves: 31" in params  # the repository itself is untouched


def test_plots_render_from_the_declared_tables(dvc_project) -> None:
    project, _ = dvc_project

    shown = json.loads(run(project, "dvc", "plots", "show", "--json").stdout)["data"]

    expected = {
        "data/08_reporting/roc_points.csv",
        "data/08_reporting/pr_points.csv",
        "data/08_reporting/calibration_points.csv",
        "data/08_reporting/confusion_counts.csv",
        "data/06_models/feature_importance.csv",
    }
    assert expected <= set(shown)
    roc = shown["data/08_reporting/roc_points.csv"][0]["content"]["data"]["values"]
    assert len(roc) > 10 and {"fpr", "tpr"} <= set(roc[0])
    confusion = shown["data/08_reporting/confusion_counts.csv"][0]["content"]
    assert len(confusion["data"]["values"]) == 4  # binary: one row per actual/predicted pair
    assert confusion["spec"]["layer"][0]["mark"] == "rect"  # the custom counts template


def test_plots_show_writes_only_git_ignored_files(dvc_project) -> None:
    project, _ = dvc_project

    run(project, "dvc", "plots", "show")

    assert (project / "dvc_plots" / "index.html").is_file()
    assert "dvc_plots" not in run(project, "git", "status", "--porcelain").stdout


def _edit_source(project: Path, module: str, old: str, new: str) -> None:
    """Replace text in a source file of the project copy (it must be there)."""
    path = project / "src" / "cirrus" / module
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_a_docstring_edit_in_features_nodes_reruns_only_features(dvc_project) -> None:
    project, _ = dvc_project
    run(project, "dvc", "repro")  # settle whatever earlier cases left
    _edit_source(
        project,
        "pipelines/features/nodes.py",
        '"""Feature nodes:',
        '"""Feature nodes (docstring edited):',
    )

    changed = changed_stages(project)
    output = run(project, "dvc", "repro").stdout

    assert changed == {"features"}
    # Its outputs are byte-identical, so nothing downstream reruns.
    assert ran_stages(output) == ["features"]
    assert changed_stages(project) == set()


def test_an_evaluation_plot_edit_never_reruns_drift(dvc_project) -> None:
    project, _ = dvc_project
    run(project, "dvc", "repro")
    _edit_source(
        project,
        "pipelines/evaluation/nodes.py",
        'title="ROC curve (held-out rows)"',
        'title="ROC curve of the held-out rows"',
    )

    changed = changed_stages(project)
    output = run(project, "dvc", "repro").stdout

    assert changed == {"evaluation"}
    assert ran_stages(output) == ["evaluation"]
    plot = json.loads((project / "data/08_reporting/plots/roc_curve.json").read_text())
    assert plot["layout"]["title"]["text"] == "ROC curve of the held-out rows"

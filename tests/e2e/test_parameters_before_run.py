"""Every parameters block is checked before the first node: a typo never costs a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import kedro, output_digests

# One misspelt key per block, given on the command line as a user would override it.
TYPOS = {
    "contract": ("contract.features.numerik=[age]", "parameters_contract.yml"),
    "ingestion.split": ("ingestion.split.mod=files", "parameters_ingestion.yml"),
    "holdout": ("holdout.test_sise=0.3", "parameters_features.yml"),
    "features": ("features.lgo=[age]", "parameters_features.yml"),
    "training": ("training.num_boost_rounds=10", "parameters_training.yml"),
    "evaluation": ("evaluation.treshold=0.4", "parameters_evaluation.yml"),
    "drift": ("drift.drift_shares=0.4", "parameters_drift.yml"),
    "registry": ("registry.metrc=model.roc_auc", "parameters_registry.yml"),
    "demo_data": ("demo_data.current.concept_drfit=0.2", "parameters_demo_data.yml"),
}


def _refused_before_any_node(project: Path, *args: str) -> str:
    """Run `kedro run`; assert it fails before any node ran and leaves outputs untouched."""
    before = output_digests(project)

    result = kedro(project, "run", *args)

    output = " ".join((result.stdout + result.stderr).split())  # rich wraps long lines
    assert result.returncode != 0, output[-3000:]
    assert "Stage " not in output  # no stage of the run started
    assert output_digests(project) == before
    return output


@pytest.fixture(scope="module")
def checked_project(trained_project: Path) -> Path:
    """The trained project: every case below must be refused without touching it."""
    return trained_project


@pytest.mark.parametrize("block", sorted(TYPOS))
def test_unknown_key_in_each_block_is_refused_before_any_node(
    checked_project: Path, block: str
) -> None:
    override, file = TYPOS[block]
    key = override.split("=")[0]

    output = _refused_before_any_node(checked_project, "--params", override)

    assert f"unknown key '{key}'" in output, output[-3000:]
    assert f"conf/base/{file}" in output


def test_misspelt_lightgbm_parameter_is_refused_with_the_closest_name(
    checked_project: Path,
) -> None:
    output = _refused_before_any_node(
        checked_project, "--params", "training.lgbm_params.num_leafs=4"
    )

    assert "'num_leafs'" in output
    assert "did you mean 'num_leaves'?" in output
    assert "conf/base/parameters_training.yml" in output


def test_lightgbm_parameter_of_the_wrong_type_names_the_key_and_file(
    checked_project: Path,
) -> None:
    output = _refused_before_any_node(
        checked_project, "--params", "training.lgbm_params.num_leaves=many"
    )

    assert "num_leaves" in output and "many" in output
    assert "should be of type int" in output  # LightGBM's own verdict
    assert "conf/base/parameters_training.yml" in output


def test_transform_naming_a_categorical_column_is_refused_before_any_node(
    checked_project: Path,
) -> None:
    output = _refused_before_any_node(checked_project, "--params", "features.log=[channel]")

    assert "features.log[channel]" in output
    assert "conf/base/parameters_features.yml" in output


def test_gate_metric_the_task_does_not_compute_is_refused_before_any_node(
    checked_project: Path,
) -> None:
    output = _refused_before_any_node(
        checked_project, "--params", "evaluation.quality_gate.binary.rocauc.min=0.7"
    )

    assert "'binary.rocauc' is not a binary metric" in output
    assert "conf/base/parameters_evaluation.yml" in output


def test_a_misspelt_top_level_block_is_refused_naming_its_file_and_the_block_meant(
    checked_project: Path,
) -> None:
    # Arrange
    extra = checked_project / "conf/local/parameters_extra.yml"
    extra.write_text("evaluaton:\n  threshold: 0.4\n")
    try:
        # Act
        output = _refused_before_any_node(checked_project)
    finally:
        extra.unlink()

    # Assert
    assert "Unknown parameters block(s): 'evaluaton' in conf/local/parameters_extra.yml" in output
    assert "(did you mean 'evaluation'?)" in output


def test_a_python_tag_in_yaml_is_refused_naming_the_file_and_line(checked_project: Path) -> None:
    # Arrange
    extra = checked_project / "conf/local/parameters_extra.yml"
    marker = checked_project / "tag-was-run"
    extra.write_text(
        f"evaluation:\n  threshold: !!python/object/apply:os.system ['touch {marker.as_posix()}']\n"
    )
    try:
        # Act
        output = _refused_before_any_node(checked_project)
    finally:
        extra.unlink()

    # Assert
    assert "Error: conf/local/parameters_extra.yml, line 2, column 14:" in output
    assert "python/object/apply:os.system" in output and "<file>" not in output
    assert "Traceback" not in output and not marker.exists()


def test_an_output_outside_the_data_root_is_refused_unless_declared(
    checked_project: Path, project_factory, tmp_path: Path
) -> None:
    # Arrange: a copy, since the declared case runs
    project = project_factory(checked_project)
    elsewhere = tmp_path / "elsewhere" / "ingestion_report.json"
    catalog = project / "conf/local/catalog.yml"
    entry = f"ingestion_report:\n  type: json.JSONDataset\n  filepath: {elsewhere.as_posix()}\n"
    catalog.write_text(entry)

    # Act
    output = _refused_before_any_node(project, "--pipelines", "ingestion")
    written_when_refused = elsewhere.exists()
    catalog.write_text(entry + "  metadata: {cirrus: {outside_data_root: true}}\n")
    declared = kedro(project, "run", "--pipelines", "ingestion")

    # Assert
    assert f"Dataset 'ingestion_report' would be written to {elsewhere.as_posix()}" in output
    assert "outside the data root" in output and not written_when_refused
    assert declared.returncode == 0, declared.stderr[-2000:]
    assert elsewhere.is_file()

"""docs/configuration.md is generated from the settings models: current, and complete."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

import cirrus.contract
import cirrus.deploy.deploy_yml
import cirrus.parameters
from cirrus.cli import cli
from cirrus.config_reference import (
    REFERENCE_FILE,
    render_reference,
    rows,
    sections,
    settings_models,
    type_name,
)
from cirrus.parameters import PARAMETER_FILES, Strict

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_MODULES = (cirrus.parameters, cirrus.contract, cirrus.deploy.deploy_yml)


def every_strict_model(model: type[BaseModel] = Strict) -> set[type[BaseModel]]:
    """Every model built on the strict settings base, at any depth, wherever it is defined."""
    found = set()
    for child in model.__subclasses__():
        found |= {child, *every_strict_model(child)}
    return found


def declared_models() -> set[type[BaseModel]]:
    """Every pydantic model defined in the settings modules, plus every strict model."""
    defined = {
        value
        for module in SETTINGS_MODULES
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == module.__name__
    }
    return {model for model in defined | every_strict_model() if model.model_fields}


def test_the_committed_reference_is_what_the_generator_writes() -> None:
    # Arrange
    committed = (ROOT / REFERENCE_FILE).read_text()

    # Act
    generated = render_reference()

    # Assert
    assert committed == generated, (
        f"{REFERENCE_FILE} is stale: run `kedro cirrus config-reference` and commit it"
    )


def test_every_field_of_every_settings_model_has_a_description() -> None:
    # Arrange
    models = declared_models() | set(settings_models())

    # Act
    missing = sorted(
        f"{model.__module__}.{model.__name__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if not (field.description or "").strip()
    )

    # Assert
    assert len(models) > 30
    assert not missing, "fields without a description (a docstring under the field): " + (
        ", ".join(missing)
    )


def test_every_settings_model_is_in_the_reference() -> None:
    # Arrange
    in_reference = set(settings_models())

    # Act
    left_out = sorted(model.__name__ for model in declared_models() - in_reference)

    # Assert
    assert not left_out, f"settings models no block of the reference reaches: {left_out}"


def test_every_parameters_block_has_a_section_naming_its_file() -> None:
    # Arrange
    found = sections()

    # Act
    tops = {section.key.split(".")[0]: section.file for section in found}

    # Assert
    assert tops.items() >= PARAMETER_FILES.items()
    assert found[-1].key == "deploy"
    assert found[-1].file == "conf/base/deploy.yml"


def test_nested_fields_have_dotted_keys_and_defaults_of_their_parent() -> None:
    # Arrange
    deploy = next(section for section in sections() if section.key == "deploy")
    demo = next(section for section in sections() if section.key == "demo_data")

    # Act
    deploy_rows = {row.key: row for row in rows(deploy.model, deploy.key)}
    demo_rows = {row.key: row for row in rows(demo.model, demo.key)}

    # Assert
    assert deploy_rows["deploy.targets.kubernetes.serving.autoscaling.min_replicas"].default == (
        "`2`"
    )
    assert "deploy.steps.<step>.cpu" in deploy_rows
    assert "deploy.targets.kubernetes.spot_tolerations[].effect" in deploy_rows
    assert deploy_rows["deploy.name"].default == "required"
    # A nested model declared with values: those are the defaults of its keys.
    assert demo_rows["demo_data.incoming.n_rows"].default == "`5000`"
    assert demo_rows["demo_data.reference.n_rows"].default == "required"


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (int | None, "int | null"),
        (dict[str, list[str]], "dict[str, list[str]]"),
        (cirrus.parameters.SplitMode, "files | event_time | fraction"),
        (cirrus.parameters.CrossValidation, "mapping"),
    ],
)
def test_types_are_named_as_a_yaml_reader_names_them(annotation: object, expected: str) -> None:
    # Act
    name = type_name(annotation)

    # Assert
    assert name == expected


def test_check_command_fails_on_a_stale_reference_and_passes_on_a_fresh_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange
    monkeypatch.chdir(tmp_path)
    (tmp_path / REFERENCE_FILE).parent.mkdir()
    (tmp_path / REFERENCE_FILE).write_text("# Configuration reference\n")
    runner = CliRunner()

    # Act
    stale = runner.invoke(cli, ["cirrus", "config-reference", "--check"])
    written = runner.invoke(cli, ["cirrus", "config-reference"])
    fresh = runner.invoke(cli, ["cirrus", "config-reference", "--check"])

    # Assert
    assert stale.exit_code == 1
    assert "is stale; run `kedro cirrus config-reference`" in stale.output
    assert written.exit_code == 0
    assert (tmp_path / REFERENCE_FILE).read_text() == render_reference()
    assert fresh.exit_code == 0

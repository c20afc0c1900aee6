"""A damaged or foreign model file is refused with a reason before LightGBM parses it here."""

from __future__ import annotations

import pytest

from cirrus.model_file import ModelFileError, child_parse_problem, verify_model_text
from tests.unit_fixtures import feature_tables, trained_model


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_a_whole_model_of_the_spec_passes(task: str) -> None:
    # Arrange
    text, _, _ = trained_model(task)
    spec, _, _ = feature_tables(task)

    # Act / Assert: no error
    verify_model_text(text, spec)


@pytest.mark.parametrize("kept", [0.3, 0.6, 0.95, 0.999])
def test_a_truncated_model_is_refused_as_cut_short(kept: float) -> None:
    # Arrange
    text, _, _ = trained_model("binary")
    spec, _, _ = feature_tables("binary")
    cut = text[: int(len(text) * kept)]

    # Act
    with pytest.raises(ModelFileError) as refused:
        verify_model_text(cut, spec, source="data/06_models/model.txt")

    # Assert
    message = str(refused.value)
    assert message.startswith("data/06_models/model.txt is refused before loading:")
    assert "cut short" in message or "trees take" in message


def test_lightgbm_itself_fails_on_a_truncated_model_which_the_child_contains() -> None:
    # Arrange: a cut inside the trees, which LightGBM's threaded parser cannot survive
    text, _, _ = trained_model("binary")

    # Act
    problem = child_parse_problem(text[: len(text) // 2])

    # Assert: reported from the child; this process is still here to say so
    assert problem is not None and problem.startswith("LightGBM")


def test_an_edited_class_count_is_refused_naming_it() -> None:
    # Arrange
    text, _, _ = trained_model("binary")
    spec, _, _ = feature_tables("binary")
    edited = text.replace("num_class=1\n", "num_class=3\n", 1)

    # Act
    with pytest.raises(ModelFileError) as refused:
        verify_model_text(edited, spec)

    # Assert
    assert "num_class=3, but the binary task needs 1" in str(refused.value)


def test_a_model_of_another_feature_spec_is_refused() -> None:
    # Arrange
    text, _, _ = trained_model("multiclass")
    spec, _, _ = feature_tables("binary")

    # Act
    with pytest.raises(ModelFileError) as refused:
        verify_model_text(text, spec)

    # Assert
    assert "the binary task needs 1" in str(refused.value)


@pytest.mark.parametrize("text", ["", "not a model\n", "tree\nversion=v4\n\n"])
def test_text_that_is_no_model_is_refused(text: str) -> None:
    # Arrange
    spec, _, _ = feature_tables("binary")

    # Act / Assert
    with pytest.raises(ModelFileError, match="refused before loading"):
        verify_model_text(text, spec)

"""YAML errors in conf/ name the file and the 1-based line, whatever the kind of error."""

from __future__ import annotations

from pathlib import Path

import pytest

from cirrus.config_loader import CirrusConfigLoader, ConfigFileError, first_yaml_problem


def _conf(tmp_path: Path, local_text: str) -> Path:
    """A conf folder with a good base and one local parameters file."""
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "local").mkdir()
    (conf / "base" / "parameters_training.yml").write_text("training:\n  seed: 1\n")
    (conf / "local" / "parameters_x.yml").write_text(local_text)
    return conf


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("a:\n  b: !!python/object/apply:os.system ['true']\n", "line 2, column 6", "constructor"),
        ("a:\n  b: [1, 2\n", "line 3, column 1", "expected ',' or ']'"),
        ("a: 1\n b: 2\n", "line 2, column 3", "mapping values are not allowed"),
    ],
)
def test_an_unreadable_yaml_file_is_named_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, where: str, problem: str
) -> None:
    # Arrange
    monkeypatch.chdir(tmp_path)
    loader = CirrusConfigLoader(
        str(_conf(tmp_path, text)), base_env="base", default_run_env="local"
    )

    # Act
    with pytest.raises(ConfigFileError) as refused:
        loader["parameters"]

    # Assert
    assert str(refused.value).startswith(f"conf/local/parameters_x.yml, {where}:")
    assert problem in str(refused.value)


def test_readable_files_have_no_problem(tmp_path: Path) -> None:
    # Arrange
    conf = _conf(tmp_path, "evaluation:\n  threshold: 0.4\n")

    # Act
    loaded = CirrusConfigLoader(str(conf), base_env="base", default_run_env="local")["parameters"]

    # Assert
    assert first_yaml_problem(conf) is None
    assert loaded == {"training": {"seed": 1}, "evaluation": {"threshold": 0.4}}

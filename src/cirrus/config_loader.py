"""Kedro's OmegaConfigLoader, with YAML errors that name the file and line.

Kedro names the file for a syntax error, but a tag YAML refuses to build (`!!python/object/apply`,
rightly never executed) surfaced as a traceback pointing at `"<file>"`: the loader parses an
in-memory copy of each file. The file is found again here and named, with the 1-based line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kedro.config import OmegaConfigLoader

from cirrus.parameters import ConfigError

YAML_SUFFIXES = (".yml", ".yaml")


class ConfigFileError(ConfigError):
    """A configuration file is not valid YAML (or holds a tag that would build a Python object)."""

    hint = "Fix the file at the line named; YAML tags that build Python objects are never run."


def _relative(path: Path) -> str:
    """A path as the user sees it: relative to the working folder when under it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def yaml_problem(path: Path) -> str | None:
    """Why a YAML file cannot be read (file, 1-based line and column, problem), or None."""
    try:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(part) for part in (error.context, error.problem) if part)
        return f"{_relative(path)}{where}: {problem}"
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        return f"{_relative(path)}: {error}"
    return None


def first_yaml_problem(folder: Path) -> str | None:
    """The first unreadable YAML file under a configuration folder, described; None if none."""
    for path in sorted(folder.rglob("*")):
        if path.suffix in YAML_SUFFIXES and path.is_file():
            problem = yaml_problem(path)
            if problem:
                return problem
    return None


class CirrusConfigLoader(OmegaConfigLoader):
    """OmegaConfigLoader whose YAML errors name the file and line, as a ConfigFileError."""

    def _searched_folders(self) -> list[Path]:
        """The folders a key is read from: the base environment, then the run's."""
        root = Path(str(self.conf_source))
        names = [self.base_env, self.env or self.default_run_env]
        return [root / name for name in dict.fromkeys(n for n in names if n)]

    def __getitem__(self, key: str) -> Any:
        """The configuration of `key`; an unreadable YAML file is named, with its line."""
        try:
            return super().__getitem__(key)
        except yaml.YAMLError as error:
            for folder in self._searched_folders():
                problem = first_yaml_problem(folder)
                if problem:
                    raise ConfigFileError(problem) from None
            raise ConfigFileError(f"{self.conf_source}: {error}") from None

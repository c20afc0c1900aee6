"""Imports point down only: no pipeline imports another, shared modules import no pipeline."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cirrus"
PIPELINES = sorted(p.name for p in (SRC / "pipelines").iterdir() if (p / "pipeline.py").is_file())
SHARED = (
    "catalog",
    "contract",
    "datasets",
    "feature_spec",
    "metrics",
    "modeling",
    "parameters",
    "preflight",
    "storage",
)


def package_of(path: Path) -> str:
    """The dotted package a source file under src/ belongs to."""
    return ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])


def imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of the cirrus modules a source file imports (relative ones resolved)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                names.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith("cirrus")}


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_a_pipeline_imports_no_other_pipeline(pipeline: str) -> None:
    files = (SRC / "pipelines" / pipeline).glob("*.py")
    imports = set().union(*(imported_modules(path, package_of(path)) for path in files))

    others = sorted(
        name
        for name in imports
        if name.startswith("cirrus.pipelines.") and name.split(".")[2] != pipeline
    )

    assert not others, f"pipelines/{pipeline} imports {others}"


@pytest.mark.parametrize("module", SHARED)
def test_shared_modules_import_no_pipeline(module: str) -> None:
    path = SRC / f"{module}.py"
    imports = imported_modules(path, package_of(path))

    assert not [name for name in imports if name.startswith("cirrus.pipelines")], imports


def test_relative_and_absolute_imports_are_both_seen(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "from ..evaluation.nodes import plot_roc_curve\n"
        "from .nodes import run_drift_report\n"
        "import cirrus.pipelines.training.nodes\n"
    )

    imports = imported_modules(source, "cirrus.pipelines.drift")

    assert imports == {
        "cirrus.pipelines.evaluation.nodes",
        "cirrus.pipelines.drift.nodes",
        "cirrus.pipelines.training.nodes",
    }

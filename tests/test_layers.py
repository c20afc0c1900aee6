"""Imports point down only: no pipeline imports another, shared modules import no pipeline, and
no two modules import each other, directly or round a longer loop."""

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
    "drift",
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


def shared_files(module: str) -> list[Path]:
    """The source files of a shared module: the module, or every file of a shared package."""
    package = SRC / module
    return sorted(package.rglob("*.py")) if package.is_dir() else [SRC / f"{module}.py"]


@pytest.mark.parametrize("module", SHARED)
def test_shared_modules_import_no_pipeline(module: str) -> None:
    files = shared_files(module)
    imports = set().union(*(imported_modules(path, package_of(path)) for path in files))

    assert not [name for name in imports if name.startswith("cirrus.pipelines")], imports


def test_relative_and_absolute_imports_are_both_seen(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "from ..evaluation.nodes import plot_roc_curve\n"
        "from .headline import headline_metrics\n"
        "import cirrus.pipelines.training.nodes\n"
    )

    imports = imported_modules(source, "cirrus.pipelines.drift")

    assert imports == {
        "cirrus.pipelines.evaluation.nodes",
        "cirrus.pipelines.drift.headline",
        "cirrus.pipelines.training.nodes",
    }


def module_files(src: Path) -> dict[str, Path]:
    """Every module under a package folder by its dotted name (a package by its own name)."""
    modules = {}
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def import_graph(src: Path) -> dict[str, set[str]]:
    """Which modules of the package each module imports (an imported name resolved to the
    module that defines it), function-level imports included: a cycle is one all the same."""
    modules = module_files(src)
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for imported in imported_modules(path, package):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other round a loop (strongly connected
    components of more than one module, Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
    return cycles


def test_no_modules_import_each_other() -> None:
    # Act
    cycles = import_cycles(import_graph(SRC))

    # Assert
    assert not cycles, f"modules importing each other round a loop: {cycles}"


def test_a_cycle_is_found_even_through_a_function_level_import(tmp_path: Path) -> None:
    # Arrange: catalog imports the registry inside a function; the registry imports catalog
    package = tmp_path / "cirrus"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "catalog.py").write_text(
        "def pipelines():\n    from cirrus.pipeline_registry import register\n"
    )
    (package / "pipeline_registry.py").write_text("from cirrus.catalog import LIFECYCLE\n")
    (package / "storage.py").write_text("from cirrus import catalog\n")

    # Act
    cycles = import_cycles(import_graph(package))

    # Assert
    assert cycles == [["cirrus.catalog", "cirrus.pipeline_registry"]]

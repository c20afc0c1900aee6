"""The stage notebooks: committed without outputs, and each runs headlessly end to end.

Every executed notebook runs in a temporary copy of the project (the session's `trained_project`,
after one real `kedro run`), with the kernel's working directory in its `notebooks/` folder, so
`%load_ext kedro.ipython` finds that copy and never the repository's own data.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook

from tests.conftest import REPO, make_project, output_digests

NOTEBOOKS = REPO / "notebooks"
NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
STAGES = (
    "01_explore_data",
    "02_features",
    "03_training",
    "04_evaluation",
    "05_drift",
    "06_scoring_and_monitoring",
)
CELL_TIMEOUT = 300
KERNEL = "python3"
PLOTLY = "application/vnd.plotly.v1+json"


@pytest.fixture(autouse=True)
def this_environments_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve the `python3` kernelspec from this environment first, so the kernel is ours."""
    monkeypatch.setenv("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))


def execute(notebook: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    """Run every cell in a fresh `python3` kernel started in cwd; raise on the first error."""
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(cwd)}},
    )
    return client.execute()


def project_with_notebooks(source: Path | None, target: Path) -> Path:
    """A project copy (trained when source is given, else with no data) holding notebooks/."""
    if source is None:
        make_project(target)
    else:
        shutil.copytree(source, target)
    shutil.copytree(NOTEBOOKS, target / "notebooks")
    return target


def test_every_stage_has_a_notebook() -> None:
    assert [path.stem for path in NOTEBOOK_PATHS] == list(STAGES)


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.stem)
def test_committed_without_outputs(path: Path) -> None:
    raw = json.loads(path.read_text())
    nbformat.validate(nbformat.reads(path.read_text(), as_version=4))
    assert raw["metadata"]["kernelspec"]["name"] == KERNEL
    dirty = [
        index
        for index, cell in enumerate(raw["cells"])
        if cell["cell_type"] == "code" and (cell["outputs"] or cell["execution_count"] is not None)
    ]
    assert not dirty, f"{path.name}: code cells {dirty} have outputs or counts (run nbstripout)"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.stem)
def test_starts_with_the_kedro_extension(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0] == "%load_ext kedro.ipython"
    assert re.search(r"load_inputs\(\s*catalog", "\n".join(code))


def test_kernel_is_this_interpreter(tmp_path: Path) -> None:
    notebook = new_notebook(cells=[new_code_cell("import sys, cirrus\nprint(sys.executable)")])
    executed = execute(notebook, tmp_path)
    printed = executed.cells[0].outputs[0]["text"].strip()
    assert Path(printed).resolve() == Path(sys.executable).resolve()


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.stem)
def test_runs_top_to_bottom(path: Path, trained_project: Path, tmp_path: Path) -> None:
    project = project_with_notebooks(trained_project, tmp_path / "project")
    before = output_digests(project)
    notebook = nbformat.read(project / "notebooks" / path.name, as_version=4)

    executed = execute(notebook, project / "notebooks")

    outputs = [output for cell in executed.cells for output in cell.get("outputs", [])]
    assert any(PLOTLY in output.get("data", {}) for output in outputs), "no plotly figure shown"
    assert output_digests(project) == before, "a notebook must not write pipeline outputs"


def test_missing_inputs_say_which_pipeline_to_run(tmp_path: Path) -> None:
    project = project_with_notebooks(None, tmp_path / "project")
    notebook = nbformat.read(project / "notebooks" / "02_features.ipynb", as_version=4)

    with pytest.raises(CellExecutionError) as error:
        execute(notebook, project / "notebooks")

    assert error.value.ename == "MissingInputError"
    assert "'reference_table'" in error.value.evalue
    assert "run `kedro run --pipelines ingestion` first" in error.value.evalue
    assert "kedro_datasets" not in error.value.traceback  # no deep reader stack trace

"""Typed results at the catalog boundary: each result file of a real run loads into its model,
is written back byte for byte, and a renamed or missing key is refused at load, naming the file
and the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from cirrus.errors import readable_error
from cirrus.results import ResultDataset, ResultFileError
from tests.conftest import REPO

CATALOG = yaml.safe_load((REPO / "conf/base/catalog.yml").read_text())
TYPED = sorted(
    name for name, entry in CATALOG.items() if entry["type"] == "cirrus.results.ResultDataset"
)
# The typed results a default `kedro run` writes (the monitoring ones come from `monitor`).
WRITTEN_BY_A_RUN = [name for name in TYPED if not name.startswith("monitoring")]


def dataset(name: str, project: Path) -> ResultDataset:
    """The catalog's dataset of a result, on the project's file."""
    entry = CATALOG[name]
    relative = entry["filepath"].replace("${globals:data_root}/", "data/")
    return ResultDataset(result=entry["result"], filepath=str(project / relative))


def first_key(document: dict[str, Any]) -> str:
    """A key of the document that its model requires (the first one)."""
    return next(iter(document))


def test_every_json_report_another_part_reads_is_typed():
    assert set(TYPED) >= {
        "training_metrics",
        "evaluation_metrics",
        "quality_gate_result",
        "drift_summary",
        "monitoring_drift",
        "monitoring_summary",
        "model_bundle",
        "run_record",
    }


@pytest.mark.parametrize("name", WRITTEN_BY_A_RUN)
def test_a_result_of_a_run_loads_typed_and_is_written_back_unchanged(
    name: str, trained_project: Path, tmp_path: Path
):
    # Arrange
    source = dataset(name, trained_project)
    copy = ResultDataset(result=CATALOG[name]["result"], filepath=str(tmp_path / "copy.json"))

    # Act
    loaded = source.load()
    copy.save(loaded)

    # Assert
    assert type(loaded).__name__ == CATALOG[name]["result"].rsplit(".", 1)[1]
    original = json.loads(Path(source._filepath).read_text())
    assert json.loads((tmp_path / "copy.json").read_text()) == original
    assert list(json.loads((tmp_path / "copy.json").read_text())) == list(original)


@pytest.mark.parametrize("name", WRITTEN_BY_A_RUN)
def test_a_renamed_key_is_refused_at_load_naming_the_file_and_the_key(
    name: str, trained_project: Path, tmp_path: Path
):
    # Arrange: the run's file with its first key renamed
    document = json.loads(Path(dataset(name, trained_project)._filepath).read_text())
    key = first_key(document)
    document[f"{key}_renamed"] = document.pop(key)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(document))

    # Act
    with pytest.raises(Exception) as refused:
        ResultDataset(result=CATALOG[name]["result"], filepath=str(path)).load()

    # Assert: Kedro wraps it; the CLI shows the result's own error, a known one
    known = readable_error(refused.value)
    assert isinstance(known, ResultFileError)
    message = str(known)
    assert str(path) in message
    assert f"key '{key}' is missing" in message
    assert f"key '{key}_renamed' is not expected" in message


def test_a_node_that_builds_a_wrong_result_fails_before_anything_is_written(tmp_path: Path):
    # Arrange
    path = tmp_path / "drift_summary.json"
    target = ResultDataset(result="cirrus.results.DriftSummary", filepath=str(path))

    # Act
    with pytest.raises(Exception) as refused:
        target.save({"drifted_features": []})

    # Assert
    assert isinstance(readable_error(refused.value), ResultFileError)
    assert "key 'dataset_drift' is missing" in str(readable_error(refused.value))
    assert not path.exists()


def test_a_catalog_entry_naming_no_result_class_is_refused():
    with pytest.raises(ValueError, match=r"names no cirrus\.results\.Result class"):
        ResultDataset(result="cirrus.feature_spec.FeatureSpec", filepath="x.json")

"""`cirrus.interactive.load_inputs` against a real DataCatalog."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro_datasets.pandas import CSVDataset, ParquetDataset

from cirrus.inputs import MissingInputError
from cirrus.interactive import load_inputs


@pytest.fixture
def catalog(tmp_path: Path) -> DataCatalog:
    """Raw and primary datasets at their project paths under tmp_path, none written yet."""
    return DataCatalog(
        datasets={
            "raw_reference": CSVDataset(filepath=str(tmp_path / "credit_applications.csv")),
            "reference_table": ParquetDataset(filepath=str(tmp_path / "reference.parquet")),
            "params:training": MemoryDataset({"num_leaves": 31}),
        }
    )


def test_missing_raw_file_names_demo_data_run(catalog: DataCatalog, tmp_path: Path) -> None:
    with pytest.raises(MissingInputError) as error:
        load_inputs(catalog, "raw_reference")
    message = str(error.value)
    assert "'raw_reference'" in message
    assert str(tmp_path / "credit_applications.csv") in message
    assert "run `kedro run --pipelines demo_data` first" in message


def test_missing_intermediate_names_its_producing_pipeline(catalog: DataCatalog) -> None:
    with pytest.raises(MissingInputError, match=r"kedro run --pipelines ingestion` first"):
        load_inputs(catalog, "reference_table")


def test_only_missing_datasets_are_named(catalog: DataCatalog, tmp_path: Path) -> None:
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "credit_applications.csv", index=False)
    with pytest.raises(MissingInputError) as error:
        load_inputs(catalog, "raw_reference", "reference_table")
    assert "'reference_table'" in str(error.value)
    assert "'raw_reference'" not in str(error.value)


def test_unknown_name_points_at_the_catalog(catalog: DataCatalog) -> None:
    with pytest.raises(MissingInputError, match=r"'referense_table': check its entry in conf/"):
        load_inputs(catalog, "referense_table")


def test_present_file_is_loaded(catalog: DataCatalog, tmp_path: Path) -> None:
    frame = pd.DataFrame({"application_id": ["a", "b"], "age": [30, 40]})
    frame.to_csv(tmp_path / "credit_applications.csv", index=False)
    pd.testing.assert_frame_equal(load_inputs(catalog, "raw_reference"), frame)


def test_several_names_give_a_dict_in_order(catalog: DataCatalog, tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    frame.to_parquet(tmp_path / "reference.parquet")
    loaded = load_inputs(catalog, "params:training", "reference_table")
    assert list(loaded) == ["params:training", "reference_table"]
    assert loaded["params:training"] == {"num_leaves": 31}
    pd.testing.assert_frame_equal(loaded["reference_table"], frame)


def test_no_names_is_an_error(catalog: DataCatalog) -> None:
    with pytest.raises(ValueError, match="at least one dataset name"):
        load_inputs(catalog)

"""Each pipeline through a real DataCatalog and SequentialRunner, chained on small data."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner
from kedro.validation.parameter_validator import ParameterValidator

from cirrus.catalog import DEMO_DATA, LIFECYCLE, OPERATIONS
from cirrus.demo_data.generator import generate_demo_batches
from cirrus.drift.report import run_drift_report
from cirrus.feature_spec import FeatureSpec
from cirrus.parameters import DemoDataParams
from cirrus.pipeline_registry import registered_pipelines
from cirrus.pipelines.monitoring import create_pipeline as monitoring_pipeline
from cirrus.scoring import content_version
from tests.conftest import SMALL_DEMO, base_parameters


class KeptDataset(MemoryDataset):
    """A MemoryDataset the runner cannot release, so tests can inspect intermediate outputs."""

    def _release(self) -> None:
        """Keep the data."""


def _parameters() -> dict[str, Any]:
    """Every committed parameters block, typed by Kedro's own parameter validation as in a run,
    keyed as Kedro exposes them (`params:<key>`)."""
    blocks: dict[str, Any] = {}
    names = ("contract", "ingestion", "features", "training", "evaluation", "drift", "demo_data")
    for name in names:
        blocks.update(base_parameters(name))
    typed = ParameterValidator(registered_pipelines()).validate_raw_params(blocks)
    params = {}
    for key, value in typed.items():
        params[f"params:{key}"] = value
        if isinstance(value, dict):
            params.update({f"params:{key}.{sub}": v for sub, v in value.items()})
    return params


@pytest.fixture(scope="module")
def catalog() -> DataCatalog:
    """An in-memory catalog holding small raw data, the parameters and a PII salt."""
    reference, current = generate_demo_batches(DemoDataParams.parse(SMALL_DEMO))
    datasets = {name: MemoryDataset(value) for name, value in _parameters().items()}
    datasets.update(
        raw_reference=MemoryDataset(reference),
        raw_current=MemoryDataset(current),
        pii_salt=MemoryDataset("pipeline-test-salt"),
    )
    return DataCatalog(datasets=datasets)


@pytest.fixture(scope="module")
def lifecycle_run(catalog: DataCatalog) -> DataCatalog:
    """Run the five pipelines in order, each on its own, keeping every output in memory."""
    pipelines = registered_pipelines()
    for name in LIFECYCLE:
        pipeline = pipelines[name]
        for output in pipeline.all_outputs():
            if output not in catalog:
                catalog[output] = KeptDataset()
        SequentialRunner().run(pipeline, catalog)
    return catalog


def test_every_pipeline_is_registered_as_a_namespace_and_tag_of_its_name() -> None:
    pipelines = registered_pipelines()

    assert set(pipelines) == {DEMO_DATA, *LIFECYCLE, *OPERATIONS, "__default__"}
    for name in (DEMO_DATA, *LIFECYCLE, *OPERATIONS):
        nodes = pipelines[name].nodes
        assert nodes, name
        # Nested namespaces stay inside their pipeline's (monitoring.drift: its drift report).
        assert all(name in node.tags and node.namespace.split(".")[0] == name for node in nodes), (
            name
        )
    assert pipelines[DEMO_DATA].all_outputs() == {"raw_reference", "raw_current", "raw_inference"}


def test_monitoring_builds_its_drift_report_with_the_shared_function_on_the_logged_batch() -> None:
    pipelines = registered_pipelines()
    [file_based] = pipelines["drift"].only_nodes("drift.run_evidently_drift_report").nodes
    [logged] = (
        pipelines["monitoring"].only_nodes("monitoring.drift.run_evidently_drift_report").nodes
    )

    assert logged.func is file_based.func is run_drift_report
    assert logged.outputs == ["monitoring_drift_report", "monitoring_drift"]
    assert {"monitored_features", "monitored_predictions"} <= set(logged.inputs)
    # The monitoring package builds its whole pipeline: the registry adds nothing to it.
    assert set(monitoring_pipeline().nodes) == set(pipelines["monitoring"].nodes)


def test_the_default_pipeline_is_the_lifecycle_without_the_demo_data() -> None:
    pipelines = registered_pipelines()
    lifecycle = sum((pipelines[name] for name in LIFECYCLE), Pipeline([]))

    assert set(pipelines["__default__"].nodes) == set(lifecycle.nodes)
    assert not set(pipelines["__default__"].nodes) & set(pipelines[DEMO_DATA].nodes)


def test_namespaces_keep_the_declared_dataset_names() -> None:
    combined = registered_pipelines()["__default__"]
    free_inputs = {i for i in combined.inputs() if not i.startswith("params:")}

    assert free_inputs == {"raw_reference", "raw_current", "pii_salt"}
    assert not [name for name in combined.datasets() if name.split(".")[0] in LIFECYCLE]


def test_ingestion_outputs_typed_pii_safe_tables(lifecycle_run: DataCatalog) -> None:
    reference = lifecycle_run.load("reference_table")
    current = lifecycle_run.load("current_table")

    assert "applicant_name" not in reference
    assert pd.api.types.is_datetime64_any_dtype(reference["application_time"])
    assert not set(reference["application_id"]) & set(current["application_id"])


def test_features_are_fitted_on_training_rows_only(lifecycle_run: DataCatalog) -> None:
    spec = lifecycle_run.load("feature_spec")
    train = lifecycle_run.load("train_rows")
    test = lifecycle_run.load("test_rows")

    assert isinstance(spec, FeatureSpec)
    assert spec.n_training_rows == len(train)
    assert not set(train["application_id"]) & set(test["application_id"])


def test_training_and_evaluation_produce_a_model_that_beats_the_baseline(
    lifecycle_run: DataCatalog,
) -> None:
    metrics = lifecycle_run.load("evaluation_metrics")
    model = lifecycle_run.load("model")

    assert model.startswith("tree")
    assert metrics.model["roc_auc"] > metrics.baseline["roc_auc"]
    assert lifecycle_run.load("quality_gate_result").passed is True
    # What scoring loads: this model, at the threshold and with the metrics measured above
    bundle = lifecycle_run.load("model_bundle")
    assert bundle.model_version == content_version(model)
    assert bundle.threshold() == metrics.threshold
    assert bundle.held_out.metrics == metrics.model
    plots = lifecycle_run.load("evaluation_plots")
    assert isinstance(plots["roc_curve"], go.Figure)
    assert "residuals" not in plots  # a binary task draws no regression panel


def test_evaluation_reports_the_time_holdout_and_the_current_batch(
    lifecycle_run: DataCatalog,
) -> None:
    metrics = lifecycle_run.load("evaluation_metrics")
    holdout = lifecycle_run.load("holdout_report")
    test = lifecycle_run.load("test_rows")
    train = lifecycle_run.load("train_rows")
    current = lifecycle_run.load("current_table")

    # The demo data has an event time: `auto` holds out its latest rows
    assert metrics.holdout == holdout
    assert holdout["strategy"] == "time"
    assert train["application_time"].max() < test["application_time"].min()
    assert pd.Timestamp(holdout["cut"]) == test["application_time"].min()
    assert metrics.current_batch.n_rows_with_outcome == len(current)
    assert set(metrics.current_batch.model) == set(metrics.model)
    assert lifecycle_run.load("training_metrics").validation_split == "time"


def test_drift_pipeline_reports_the_shifted_income(lifecycle_run: DataCatalog) -> None:
    summary = lifecycle_run.load("drift_summary")
    report = lifecycle_run.load("drift_report")

    assert "annual_income" in summary.drifted_features
    assert "<html" in report[:500].lower()

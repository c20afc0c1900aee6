"""The run id mapping: one entry per workflow target, names the run-record code can import."""

from __future__ import annotations

import subprocess
import sys

import pytest
from kfp import dsl

from cirrus.deploy.export import TARGETS
from cirrus.deploy.plan import PlanError, build_plan
from cirrus.deploy.run_id import (
    LABEL_VALUE,
    LABEL_VALUE_MAX,
    RUN_ID_ENV,
    RUN_ID_FALLBACK_ENVS,
    RUN_ID_SOURCES,
    label_value,
    run_id_env,
    static_labels,
)
from tests.deploy.test_plan import PIPELINES, ROOT, catalog_for, config

# Exports that are no workflow: they run no steps, so no run id reaches them.
NOT_WORKFLOWS = {"kubernetes-serving", "terraform"}


def test_every_workflow_target_says_how_its_steps_get_the_run_id() -> None:
    assert set(RUN_ID_SOURCES) == set(TARGETS) - NOT_WORKFLOWS
    for target, source in RUN_ID_SOURCES.items():
        assert source.placeholder or source.fallback_env, target


def test_placeholders_are_the_sdks_own() -> None:
    # SageMaker's is checked against its SDK in test_sagemaker.py (importing it here would
    # announce the SDK's v2 deprecation before the export silences it).
    assert RUN_ID_SOURCES["vertex"].placeholder == dsl.PIPELINE_JOB_ID_PLACEHOLDER
    assert run_id_env("argo") == {RUN_ID_ENV: "{{workflow.uid}}"}
    assert run_id_env("airflow") == {RUN_ID_ENV: "{{ run_id }}"}
    assert run_id_env("azureml") == {}


def test_fallbacks_are_the_variables_platforms_set_themselves() -> None:
    assert RUN_ID_ENV == "CIRRUS_RUN_ID"
    assert RUN_ID_FALLBACK_ENVS == ("AZUREML_ROOT_RUN_ID", "AIRFLOW_CTX_DAG_RUN_ID")


def test_the_module_imports_no_orchestrator_sdk() -> None:
    # The run-record code imports it in every `kedro run`, where no SDK need be installed.
    heavy = {"kfp", "sagemaker", "hera", "azure", "boto3", "kedro", "pydantic"}
    probe = (
        "import sys, cirrus.deploy.run_id; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("length", [1, 40, LABEL_VALUE_MAX])
def test_names_that_fit_are_labels_as_they_are(length: int) -> None:
    name = ("step-" * 20)[: length - 1] + "x"
    assert label_value(name) == name


def test_long_names_are_shortened_to_distinct_valid_labels() -> None:
    first, second = "tables-" * 12 + "make-table", "tables-" * 12 + "make-tables"

    labels = {label_value(first), label_value(second)}

    assert len(labels) == 2
    for label in labels:
        assert len(label) <= LABEL_VALUE_MAX and LABEL_VALUE.fullmatch(label), label


def test_static_labels_name_the_workflow_and_the_step() -> None:
    assert static_labels("cirrus-credit-default") == {"cirrus-pipeline": "cirrus-credit-default"}
    assert static_labels("demo", "training") == {
        "cirrus-pipeline": "demo",
        "cirrus-step": "training",
    }


@pytest.mark.parametrize("key", ["env", "secret_env"])
def test_a_fixed_run_id_in_deploy_yml_is_refused(key: str) -> None:
    # One fixed id would merge the records of every execution into one.
    with pytest.raises(PlanError, match=rf"deploy\.{key}\.CIRRUS_RUN_ID"):
        build_plan(config(**{key: {RUN_ID_ENV: "x"}}), PIPELINES, catalog_for(), ROOT)

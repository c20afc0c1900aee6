"""The card's facts come from the run's outputs (read through the catalog), never typed by hand."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cirrus.inputs import MissingInputError
from cirrus.model_card.facts import (
    CardFacts,
    cost_sentence,
    gather_facts,
    locked_files,
    slice_metrics,
    threshold_sentence,
)
from cirrus.parameters import ConfigError, EvaluationParams, ModelCardParams
from cirrus.serving.artifacts import load_project

MODEL = "data/06_models/model.txt"


def read_json(project: Path, path: str) -> dict:
    """A JSON output of the run, as written."""
    return json.loads((project / path).read_text())


@pytest.fixture(scope="module")
def facts(trained_project: Path) -> CardFacts:
    """The card's facts of the shared trained project."""
    project = load_project(trained_project, None)
    return gather_facts(project.catalog, project.params, trained_project)


def test_performance_and_rows_are_the_evaluation_outputs(
    facts: CardFacts, trained_project: Path
) -> None:
    evaluation = read_json(trained_project, "data/08_reporting/evaluation_metrics.json")
    holdout = read_json(trained_project, "data/08_reporting/holdout.json")
    gate = read_json(trained_project, "data/08_reporting/quality_gate.json")

    assert [m.name for m in facts.metrics] == list(evaluation["model"])
    assert {m.name: m.model for m in facts.metrics} == evaluation["model"]
    assert {m.name: m.baseline for m in facts.metrics} == evaluation["baseline"]
    assert {m.name: m.beats_baseline for m in facts.metrics} == evaluation["beats_baseline"]
    assert facts.primary_metric == "roc_auc"
    assert facts.data.test_rows == holdout["n_test_rows"] == evaluation["n_test_rows"]
    assert facts.data.train_rows == holdout["n_train_rows"]
    assert facts.current_rows == evaluation["current_batch"]["n_rows_with_outcome"]
    assert facts.gate_passed is gate["passed"]
    assert [c.metric for c in facts.gate] == list(gate["checks"])
    assert facts.roc[0] == (0.0, 0.0) and facts.roc[-1] == (1.0, 1.0)


def test_the_threshold_is_the_one_in_effect_with_its_held_out_precision_and_recall(
    facts: CardFacts, trained_project: Path
) -> None:
    from cirrus.modeling import decision_threshold
    from cirrus.results import TrainingMetrics

    evaluation = read_json(trained_project, "data/08_reporting/evaluation_metrics.json")
    training = TrainingMetrics.model_validate(
        read_json(trained_project, "data/06_models/training_metrics.json")
    )
    params = yaml.safe_load((trained_project / "conf/base/parameters_evaluation.yml").read_text())
    expected, _ = decision_threshold(EvaluationParams.parse(params["evaluation"]), training)

    sentence = threshold_sentence(facts)

    assert facts.threshold is not None and facts.threshold.value == expected
    assert sentence is not None
    assert "An application is flagged as likely to default when the model's score is " in sentence
    assert f"{expected:.2f} or more" in sentence
    assert f"{evaluation['model']['precision']:.0%} of flagged applications defaulted" in sentence
    assert f"{evaluation['model']['recall']:.0%} of applications that defaulted were flagged" in (
        sentence
    )


def test_data_facts_come_from_the_contract_the_primary_table_and_the_reports(
    facts: CardFacts, trained_project: Path
) -> None:
    times = pd.read_parquet(
        trained_project / "data/03_primary/reference.parquet", columns=["application_time"]
    )["application_time"]
    ingestion = read_json(trained_project, "data/08_reporting/ingestion_report.json")

    assert facts.data.time_range is not None
    assert facts.data.time_range[0].startswith(times.min().strftime("%Y-%m-%dT%H:%M"))
    assert facts.data.time_range[1].startswith(times.max().strftime("%Y-%m-%dT%H:%M"))
    assert facts.data.raw_rows == ingestion["raw_reference_rows"]
    assert facts.data.pii == {"applicant_name": "drop", "email": "hash"}
    assert facts.data.target == "defaulted" and facts.data.task == "binary"
    assert facts.data.columns_by_kind["numeric features"] == 9
    assert facts.data.locations["model"] == MODEL
    assert facts.data.files == []  # the copy has no dvc.lock


def test_fairness_slices_cover_every_held_out_row_of_each_sensitive_attribute(
    facts: CardFacts,
) -> None:
    by_attribute: dict[str, list] = {}
    for found in facts.slices:
        by_attribute.setdefault(found.attribute, []).append(found)

    assert set(by_attribute) == {"age", "postcode_area"}
    assert len(by_attribute["age"]) == 4  # quartiles of a number
    assert len(by_attribute["postcode_area"]) <= 8  # the largest areas, then "other"
    assert by_attribute["postcode_area"][-1].group.startswith("other (")
    for slices in by_attribute.values():
        assert sum(s.rows for s in slices) == facts.data.test_rows


def test_drift_is_stated_by_the_shared_verdict(facts: CardFacts, trained_project: Path) -> None:
    from cirrus.drift.verdict import verdict_in_words
    from cirrus.results import DriftSummary

    summary = read_json(trained_project, "data/08_reporting/drift_summary.json")

    assert facts.drift_verdict == verdict_in_words(DriftSummary.model_validate(summary))
    assert facts.drifted_features == summary["drifted_features"]


def test_cost_hardware_and_hashes_are_not_invented_when_missing(facts: CardFacts) -> None:
    assert facts.cost is None
    assert cost_sentence(facts) == "Cost: not measured yet: run `kedro cirrus cost`."
    assert facts.training.best_iteration is not None
    assert facts.training.params["min_data_in_leaf"] != "auto"  # resolved by the training


def test_cost_run_record_and_dvc_hashes_are_read_when_present(
    trained_project: Path, project_factory
) -> None:
    from cirrus.runs.record import Machine, RunRecord

    project = project_factory(trained_project)
    reporting = project / "data/08_reporting"
    prices = {
        "aws": {"on_demand_usd": 0.0123, "spot_usd": 0.004},
        "gcp": {"on_demand_usd": 0.02, "spot_usd": None},
    }
    cost = {"price_table_read_on": "2026-11-30", "per_run": prices, "per_1000_predictions": prices}
    (reporting / "cost.json").write_text(json.dumps(cost))
    machine = Machine(cores=8, memory_bytes=16 * 2**30, platform="Linux-x86_64", python="3.11.9")
    record = RunRecord(
        run_id="r1",
        started_at="2026-12-01T10:00:00+00:00",
        finished_at="2026-12-01T10:01:10+00:00",
        wall_seconds=70.0,
        pipelines=["__default__"],
        machine=machine,
        reference_rows=5200,
        nodes=[],
        recording_seconds=0.1,
    )
    (reporting / "run_record.json").write_text(record.model_dump_json())
    model_md5 = hashlib.md5((project / MODEL).read_bytes()).hexdigest()
    lock = {
        "schema": "2.0",
        "stages": {
            "training": {"outs": [{"path": MODEL, "hash": "md5", "md5": model_md5}]},
            "evaluation": {
                "outs": [
                    {"path": "data/08_reporting/metrics.json", "md5": "0" * 32},
                    {"path": "data/08_reporting/plots", "md5": "1" * 32 + ".dir"},
                ]
            },
        },
    }
    (project / "dvc.lock").write_text(yaml.safe_dump(lock))
    loaded = load_project(project, None)

    found = gather_facts(loaded.catalog, loaded.params, project)

    assert found.cost is not None and [p.cloud for p in found.cost.per_run] == ["aws", "gcp"]
    assert cost_sentence(found).startswith(
        "One run of the pipelines costs about $0.0123 on AWS ($0.004 spot)"
    )
    assert found.training.hardware is not None
    assert (found.training.hardware.cores, found.training.hardware.memory_gib) == (8, 16.0)
    assert {f.path: f.matches for f in found.data.files} == {
        MODEL: True,
        "data/08_reporting/metrics.json": False,
        "data/08_reporting/plots": None,
    }


def test_dvc_lock_outputs_are_listed_once_by_path(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    out = {"path": "a.txt", "md5": hashlib.md5(b"a").hexdigest()}
    lock = {"stages": {"one": {"outs": [out]}, "two": {"outs": [out]}, "three": {}}}

    found = locked_files(lock, tmp_path)

    assert [(f.path, f.matches) for f in found] == [("a.txt", True)]


def test_slices_band_numbers_pool_small_groups_and_skip_auc_on_one_class() -> None:
    table = pd.DataFrame(
        {
            "label": [0, 1] * 10 + [0, 0],
            "score": [0.2, 0.8] * 10 + [0.1, 0.3],
            "prediction": [0, 1] * 10 + [0, 0],
            "age": list(range(20, 42)),
            "area": [f"A{i}" for i in range(20)] + ["B", "B"],
        }
    )

    ages = slice_metrics(table, "age")
    areas = slice_metrics(table, "area")

    assert [s.group for s in ages] == ["20 to 25", "26 to 30", "31 to 35", "36 to 41"]
    assert len(areas) == 8 and areas[-1].group == "other (14 groups)"
    assert next(s for s in areas if s.group == "B").roc_auc is None  # one class only
    assert sum(s.rows for s in areas) == len(table)


def test_unstated_fields_are_named_and_a_bad_rating_names_the_file() -> None:
    card = ModelCardParams.parse({"owner": " ", "limitations": None, "risk_rating": None})

    assert card.missing_for_production() == ["owner", "intended_use", "limitations", "risk_rating"]
    with pytest.raises(ConfigError, match=r"parameters_model_card\.yml.*model_card\.risk_rating"):
        ModelCardParams.parse({"risk_rating": "severe"})


def test_a_sensitive_attribute_the_rows_lack_is_refused(trained_project: Path) -> None:
    project = load_project(trained_project, None)
    params = {**project.params, "model_card": {"sensitive_attributes": ["religion"]}}

    with pytest.raises(ConfigError, match="religion"):
        gather_facts(project.catalog, params, trained_project)


def test_a_card_without_the_model_bundle_names_it_and_what_makes_it(
    trained_project: Path, project_factory
) -> None:
    # Arrange
    project = project_factory(trained_project)
    (project / "data/06_models/model_bundle.json").unlink()
    loaded = load_project(project, None)

    # Act
    with pytest.raises(MissingInputError) as refused:
        gather_facts(loaded.catalog, loaded.params, project)

    # Assert
    message = str(refused.value)
    assert message.startswith("No model card to write: 'model_bundle'")
    assert "kedro run --pipelines evaluation" in message

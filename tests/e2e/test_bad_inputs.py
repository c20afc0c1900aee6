"""Bad inputs: each gets a clear error naming the file, column or key, and loses no output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import base_parameters, kedro, output_digests, override

RAW = "data/01_raw/credit_applications.csv"
RAW_CURRENT = "data/01_raw/credit_applications_current.csv"


def _edit_raw(project: Path, edit: Callable[[pd.DataFrame], pd.DataFrame], path: str = RAW):
    """Rewrite a raw CSV through an edit function."""
    frame = pd.read_csv(project / path)
    edit(frame).to_csv(project / path, index=False)


def _run_and_expect_failure(project: Path, *fragments: str) -> str:
    """Run `kedro run`; assert it fails, names every fragment, and leaves outputs untouched."""
    before = output_digests(project)

    result = kedro(project, "run")

    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    flat = " ".join(output.split())  # rich wraps long lines
    for fragment in fragments:
        assert fragment in flat, f"{fragment!r} not in output:\n{output[-4000:]}"
    assert output_digests(project) == before
    return flat


def _with_column_types(frame: pd.DataFrame, **columns: object) -> pd.DataFrame:
    """A copy of frame with columns cast to object dtype and replaced values set."""
    edited = frame.copy()
    for column, value in columns.items():
        edited[column] = edited[column].astype(object)
        edited.loc[edited.index[:3], column] = value
    return edited


def test_missing_column(trained_project: Path, project_factory) -> None:
    project = project_factory(trained_project)
    _edit_raw(project, lambda f: f.drop(columns=["credit_score"]))

    _run_and_expect_failure(project, "raw_reference", "missing column(s) ['credit_score']")


def test_wrong_type(trained_project: Path, project_factory) -> None:
    project = project_factory(trained_project)
    _edit_raw(project, lambda f: _with_column_types(f, age="forty"))

    _run_and_expect_failure(project, "raw_reference", "column 'age'", "forty")


def test_nulls_in_the_target(trained_project: Path, project_factory) -> None:
    project = project_factory(trained_project)
    _edit_raw(project, lambda f: f.assign(defaulted=f["defaulted"].where(f.index > 5)))

    _run_and_expect_failure(project, "raw_reference", "column 'defaulted'", "not_nullable")


def test_empty_file(trained_project: Path, project_factory) -> None:
    project = project_factory(trained_project)
    (project / RAW).write_text("")

    flat = _run_and_expect_failure(
        project, "raw_reference:", f"{project / RAW}' is an empty file (0 bytes)"
    )
    assert "No columns to parse" not in flat


def test_current_file_cut_mid_line(trained_project: Path, project_factory) -> None:
    project = project_factory(trained_project)
    text = (project / RAW_CURRENT).read_text()
    cut = text[: len(text) - 40]  # the last row loses its last fields, as in a broken copy
    (project / RAW_CURRENT).write_text(cut)
    last_line = cut.count("\n") + 1
    fields = cut.splitlines()[-1].count(",") + 1

    _run_and_expect_failure(
        project,
        "raw_current:",
        f"Damaged CSV file '{project / RAW_CURRENT}', line {last_line}:",
        f"the row has {fields} field(s), the header has 21",
    )


def test_quote_never_closed_on_the_last_line(trained_project: Path, project_factory) -> None:
    project = project_factory(trained_project)
    text = (project / RAW_CURRENT).read_text()
    last = text.splitlines()[-1].split(",")
    last[2] = '"' + last[2]  # the applicant's name opens a quote the cut file never closes
    (project / RAW_CURRENT).write_text(text + ",".join(last[:3]))
    last_line = text.count("\n") + 1

    _run_and_expect_failure(
        project,
        "raw_current:",
        f"'{project / RAW_CURRENT}', line {last_line}: a quoted field starting on this line "
        "is never closed",
    )


def test_inf_in_a_numeric_column(trained_project: Path, project_factory) -> None:
    project = project_factory(trained_project)
    _edit_raw(
        project,
        lambda f: f.assign(annual_income=f["annual_income"].where(f.index != 4, float("inf"))),
        RAW_CURRENT,
    )

    _run_and_expect_failure(
        project,
        "raw_current",
        "column 'annual_income': failed finite",
        "in 1 row(s) (e.g. ['inf'])",
        "allow_inf: true",
    )


def test_event_times_in_another_date_format(trained_project: Path, project_factory) -> None:
    project = project_factory(trained_project)
    _edit_raw(
        project,
        lambda f: f.assign(
            application_time=pd.to_datetime(f["application_time"]).dt.strftime("%d/%m/%Y %H:%M")
        ),
    )
    rows = len(pd.read_csv(project / RAW))

    flat = _run_and_expect_failure(
        project,
        "raw_reference",
        f"column 'application_time': {rows} value(s) not in the expected format ISO 8601",
        "they look like '%d/%m/%Y %H:%M'",
    )
    assert "['object']" not in flat


def test_header_only_file(trained_project: Path, project_factory) -> None:
    project = project_factory(trained_project)
    _edit_raw(project, lambda f: f.iloc[:0])

    _run_and_expect_failure(project, "raw_reference", "has no rows")


def test_corrupt_parquet(trained_project: Path, project_factory) -> None:
    project = project_factory(trained_project)
    catalog = {
        "raw_reference": {
            "type": "pandas.ParquetDataset",
            "filepath": "data/01_raw/credit_applications.parquet",
        }
    }
    (project / "conf/local/catalog.yml").write_text(yaml.safe_dump(catalog))
    (project / "data/01_raw/credit_applications.parquet").write_bytes(b"PAR1 not really")

    _run_and_expect_failure(project, "credit_applications.parquet", "Failed while loading")


def test_target_with_a_single_class(trained_project: Path, project_factory) -> None:
    project = project_factory(trained_project)
    _edit_raw(project, lambda f: f.assign(defaulted=0))

    _run_and_expect_failure(project, "Target 'defaulted'", "1 class(es)", "needs exactly 2")


def test_unknown_contract_key(trained_project: Path, project_factory) -> None:
    project = project_factory(trained_project)
    contract = base_parameters("contract")
    contract["contract"]["features"]["numerik"] = contract["contract"]["features"].pop("numeric")
    override(project, "contract", contract)

    flat = _run_and_expect_failure(
        project, "unknown key 'contract.features.numerik'", "parameters_contract.yml"
    )
    assert "Stage " not in flat  # refused before any node ran


def test_quality_gate_failure_keeps_the_previous_model(trained_project, project_factory):
    project = project_factory(trained_project)
    # Other trees make the failing run save a different model before the gate refuses it, so
    # unchanged outputs prove the previous ones were put back (not merely rewritten alike).
    training = base_parameters("training")
    training["training"]["lgbm_params"]["num_leaves"] = 7
    override(project, "training", training)
    evaluation = base_parameters("evaluation")
    evaluation["evaluation"]["quality_gate"]["binary"] = {"roc_auc": {"min": 0.999}}
    override(project, "evaluation", evaluation)

    flat = _run_and_expect_failure(
        project, "Quality gate failed", "roc_auc", "below the minimum 0.999"
    )
    assert "Stage evaluation" in flat  # the rejected model was written, then replaced


def test_unseen_categories_in_current_batch_are_mapped_and_reported(
    trained_project: Path, project_factory
) -> None:
    project = project_factory(trained_project)
    _edit_raw(project, lambda f: f.assign(channel="drone", postcode_area="ZZ999"), RAW_CURRENT)
    contract = base_parameters("contract")
    contract["contract"]["columns"]["channel"].pop("allowed")
    override(project, "contract", contract)

    result = kedro(project, "run")

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    features = pd.read_parquet(project / "data/05_model_input/current.parquet")
    unseen = json.loads((project / "data/04_feature/unseen_categories.json").read_text())
    summary = json.loads((project / "data/08_reporting/drift_summary.json").read_text())
    assert set(features["channel"].astype(str)) == {"__unknown__"}
    assert unseen["columns"]["postcode_area"]["unseen_levels"] == ["ZZ999"]
    assert summary["unseen_categories"]["channel"] == len(features)


def test_missing_pii_salt_names_where_to_set_it(
    trained_project: Path, project_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_factory(trained_project)
    monkeypatch.delenv("CIRRUS_PII_SALT", raising=False)

    _run_and_expect_failure(project, "declared 'hash'", "CIRRUS_PII_SALT", "credentials.yml")


def test_batch_scoring_refuses_a_truncated_model_with_the_reason(
    trained_project: Path, project_factory
) -> None:
    # Arrange
    project = project_factory(trained_project)
    model = project / "data/06_models/model.txt"
    model.write_text(model.read_text()[:130_000])
    before = output_digests(project)

    # Act
    result = kedro(project, "run", "--pipelines", "inference")

    # Assert: a message and exit 1, not LightGBM's abort (exit 134) with none
    flat = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1, flat[-3000:]
    assert "Error: the model is refused before loading: it holds no complete tree section" in flat
    assert "Hint: Train again (`kedro run`) or restore the model with `dvc checkout`." in flat
    assert output_digests(project) == before

"""Tests for the seeded demo-data generator."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from cirrus.demo_data.generator import generate_applications, generate_demo_batches
from cirrus.parameters import ConfigError, DemoDataParams

START, END = "2025-01-01", "2026-01-01"
DEMO_DATA_FILE = "conf/base/parameters_demo_data.yml"

EXPECTED_DTYPES = {
    "application_id": "object",
    "application_time": "datetime64[ns]",
    "applicant_name": "object",
    "email": "object",
    "age": "int64",
    "annual_income": "float64",
    "loan_amount": "float64",
    "loan_term_months": "int64",
    "credit_score": "float64",
    "existing_debt": "float64",
    "num_open_accounts": "int64",
    "num_delinquencies": "int64",
    "employment_years": "float64",
    "home_ownership": "object",
    "loan_purpose": "object",
    "employment_type": "object",
    "channel": "object",
    "postcode_area": "object",
    "interest_rate": "float64",
    "risk_grade": "object",
    "defaulted": "int64",
}

PARAMS = {
    "seed": 42,
    "reference": {"n_rows": 2000, "start": "2025-01-01", "end": "2026-01-01"},
    "current": {
        "n_rows": 1000,
        "start": "2026-01-01",
        "end": "2026-03-01",
        "covariate_shift": {"annual_income": -0.25, "loan_purpose": 0.3},
        "concept_drift": 0.0,
    },
}


@pytest.fixture(scope="module")
def large() -> pd.DataFrame:
    """A 20k-row unshifted batch shared by the statistical tests."""
    return generate_applications(20_000, seed=7, start=START, end=END)


def test_same_seed_gives_identical_frames():
    # Arrange / Act
    first = generate_applications(2000, seed=1, start=START, end=END)
    second = generate_applications(2000, seed=1, start=START, end=END)

    # Assert
    pd.testing.assert_frame_equal(first, second)


def test_other_seed_gives_different_frames():
    # Arrange / Act
    first = generate_applications(2000, seed=1, start=START, end=END)
    second = generate_applications(2000, seed=2, start=START, end=END)

    # Assert
    assert not first["annual_income"].equals(second["annual_income"])
    assert not first["defaulted"].equals(second["defaulted"])


def test_columns_and_dtypes_are_exact():
    # Act
    frame = generate_applications(2000, seed=3, start=START, end=END)

    # Assert
    assert list(frame.columns) == list(EXPECTED_DTYPES)
    assert {col: str(dtype) for col, dtype in frame.dtypes.items()} == EXPECTED_DTYPES
    text_columns = [col for col, dtype in EXPECTED_DTYPES.items() if dtype == "object"]
    assert all(frame[col].map(type).eq(str).all() for col in text_columns)


def test_value_domains(large: pd.DataFrame):
    # Assert
    assert large["age"].between(18, 90).all()
    assert large["credit_score"].dropna().between(300, 850).all()
    assert (large["credit_score"].dropna() % 1 == 0).all()
    assert (large["existing_debt"].dropna() >= 0).all()
    assert (large["employment_years"].dropna() >= 0).all()
    assert set(large["loan_term_months"]) == {12, 24, 36, 48, 60}
    assert set(large["home_ownership"]) == {"RENT", "OWN", "MORTGAGE", "OTHER"}
    assert large["home_ownership"].eq("OTHER").mean() < 0.06
    assert large["loan_purpose"].nunique() == 8
    assert set(large["employment_type"]) == {
        "salaried",
        "self_employed",
        "unemployed",
        "retired",
        "student",
    }
    assert set(large["channel"]) == {"web", "branch", "partner", "phone"}
    assert set(large["risk_grade"]) == {"A", "B", "C", "D", "E"}
    assert large["interest_rate"].between(4, 30).all()
    assert set(large["defaulted"]) == {0, 1}
    assert large["email"].str.fullmatch(r"[a-z]+\.[a-z]+\d+@[a-z.]+").all()


def test_postcode_area_is_high_cardinality_and_skewed(large: pd.DataFrame):
    # Act
    shares = large["postcode_area"].value_counts(normalize=True)

    # Assert
    assert 100 <= shares.size <= 120
    assert large["postcode_area"].str.fullmatch(r"PA\d{3}").all()
    assert shares.iloc[0] > 10 * shares.median()


def test_income_is_right_skewed(large: pd.DataFrame):
    # Act
    income = large["annual_income"].dropna()

    # Assert
    assert income.mean() > income.median()
    assert income.skew() > 1


def test_times_sorted_and_within_window():
    # Act
    frame = generate_applications(2000, seed=4, start=START, end=END)

    # Assert
    times = frame["application_time"]
    assert times.is_monotonic_increasing
    assert times.min() >= pd.Timestamp(START)
    assert times.max() < pd.Timestamp(END)


def test_ids_unique_and_start_at_offset():
    # Act
    frame = generate_applications(2000, seed=5, start=START, end=END, id_offset=123)

    # Assert
    assert frame["application_id"].is_unique
    assert frame["application_id"].iloc[0] == "APP-00000123"
    assert frame["application_id"].str.fullmatch(r"APP-\d{8}").all()


def test_demo_batches_ids_do_not_collide():
    # Act
    reference, current = generate_demo_batches(DemoDataParams.parse(PARAMS))

    # Assert
    assert len(reference) == 2000
    assert len(current) == 1000
    assert not set(reference["application_id"]) & set(current["application_id"])
    assert current["application_id"].iloc[0] == "APP-00002000"
    assert current["application_time"].min() >= pd.Timestamp("2026-01-01")


@pytest.mark.parametrize(
    ("column", "share"),
    [
        ("annual_income", 0.08),
        ("credit_score", 0.05),
        ("existing_debt", 0.03),
        ("employment_years", 0.10),
    ],
)
def test_missing_shares_within_tolerance(large: pd.DataFrame, column: str, share: float):
    # Act
    observed = large[column].isna().mean()

    # Assert
    assert observed == pytest.approx(share, abs=0.01)


def test_other_columns_have_no_missing_values(large: pd.DataFrame):
    # Arrange
    nullable = {"annual_income", "credit_score", "existing_debt", "employment_years"}

    # Act
    missing = large.drop(columns=list(nullable)).isna().sum()

    # Assert
    assert missing.sum() == 0


def test_default_rate_in_range(large: pd.DataFrame):
    # Act
    rate = large["defaulted"].mean()

    # Assert
    assert 0.12 <= rate <= 0.20


def test_credit_score_signal_is_real_but_imperfect(large: pd.DataFrame):
    # Arrange
    observed = large.dropna(subset=["credit_score"])

    # Act
    auc = roc_auc_score(observed["defaulted"], -observed["credit_score"])

    # Assert
    assert 0.6 < auc < 0.95


def test_logistic_regression_signal_is_real_but_imperfect(large: pd.DataFrame):
    # Arrange
    features = large[["credit_score", "num_delinquencies", "age"]].copy()
    features["dti"] = large["existing_debt"] / large["annual_income"]
    features["lti"] = large["loan_amount"] / large["annual_income"]
    features = features.fillna(features.median()).clip(upper=features.quantile(0.99), axis=1)
    x_train, x_test, y_train, y_test = train_test_split(
        (features - features.mean()) / features.std(), large["defaulted"], random_state=0
    )

    # Act
    model = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])

    # Assert
    assert 0.6 < auc < 0.95


def test_risk_grade_orders_default_rate(large: pd.DataFrame):
    # Act
    rates = large.groupby("risk_grade")["defaulted"].mean().sort_index()

    # Assert
    assert rates.is_monotonic_increasing
    assert rates["E"] > 3 * rates["A"]


def test_concept_drift_removes_the_signal():
    # Act
    drifted = generate_applications(20_000, seed=7, start=START, end=END, concept_drift=1.0)
    observed = drifted.dropna(subset=["credit_score"])
    auc = roc_auc_score(observed["defaulted"], -observed["credit_score"])

    # Assert
    assert abs(auc - 0.5) < 0.03


def test_numeric_shift_scales_income_by_declared_share():
    # Arrange
    base = generate_applications(5000, seed=8, start=START, end=END)

    # Act
    shifted = generate_applications(
        5000, seed=8, start=START, end=END, covariate_shift={"annual_income": -0.3}
    )

    # Assert
    ratio = shifted["annual_income"].mean() / base["annual_income"].mean()
    assert ratio == pytest.approx(0.7, abs=0.005)
    pd.testing.assert_series_equal(base["age"], shifted["age"])
    assert shifted["defaulted"].mean() > base["defaulted"].mean()


def test_categorical_shift_changes_loan_purpose_distribution():
    # Arrange
    base = generate_applications(5000, seed=9, start=START, end=END)

    # Act
    shifted = generate_applications(
        5000, seed=9, start=START, end=END, covariate_shift={"loan_purpose": 0.3}
    )

    # Assert
    before = base["loan_purpose"].value_counts(normalize=True)
    after = shifted["loan_purpose"].value_counts(normalize=True)
    total_variation = (after - before).abs().sum() / 2
    assert total_variation == pytest.approx(0.3 * (1 - before["education"]), abs=0.03)
    assert after["education"] > before["education"] + 0.2
    assert set(after.index) == set(before.index)


def test_demo_batches_current_is_shifted():
    # Act
    reference, current = generate_demo_batches(DemoDataParams.parse(PARAMS))

    # Assert
    ratio = current["annual_income"].mean() / reference["annual_income"].mean()
    assert 0.65 < ratio < 0.85
    before = reference["loan_purpose"].value_counts(normalize=True)
    after = current["loan_purpose"].value_counts(normalize=True)
    assert (after - before).abs().max() > 0.15


def test_unknown_shift_column_raises():
    # Act / Assert
    with pytest.raises(ValueError, match="not_a_column") as excinfo:
        generate_applications(
            100, seed=1, start=START, end=END, covariate_shift={"not_a_column": 0.1}
        )
    assert "annual_income" in str(excinfo.value)


@pytest.mark.parametrize("concept_drift", [-0.1, 1.5])
def test_concept_drift_out_of_range_raises(concept_drift: float):
    # Act / Assert
    with pytest.raises(ValueError, match="concept_drift"):
        generate_applications(100, seed=1, start=START, end=END, concept_drift=concept_drift)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("seed",), "demo_data.seed"),
        (("reference",), "demo_data.reference"),
        (("current", "start"), "demo_data.current.start"),
        (("reference", "n_rows"), "demo_data.reference.n_rows"),
    ],
)
def test_missing_params_key_is_refused_naming_file_and_key(path: tuple[str, ...], expected: str):
    # Arrange
    params = copy.deepcopy(PARAMS)
    parent = params
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        DemoDataParams.parse(params)
    assert f"missing required key '{expected}'" in str(excinfo.value)
    assert DEMO_DATA_FILE in str(excinfo.value)


def test_current_batch_uses_a_different_seed():
    # Arrange
    params = copy.deepcopy(PARAMS)
    params["current"] = {"n_rows": 2000, "start": "2025-01-01", "end": "2026-01-01"}

    # Act
    reference, current = generate_demo_batches(DemoDataParams.parse(params))

    # Assert
    assert not np.array_equal(
        reference["credit_score"].to_numpy(), current["credit_score"].to_numpy(), equal_nan=True
    )

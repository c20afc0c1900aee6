"""Tests of the feature nodes: hold-out split, spec fitted on training rows, its application."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cirrus.contract import DatasetContract
from cirrus.feature_spec import (
    OTHER_LEVEL,
    UNKNOWN_LEVEL,
    FeatureSpec,
    build_features,
    report_unseen_categories,
)
from cirrus.modeling import prediction_frame
from cirrus.parameters import ConfigError, FeatureParams, HoldoutParams
from cirrus.pipelines.features.nodes import fit_feature_spec, split_holdout
from cirrus.pipelines.training.nodes import train_model
from tests import unit_fixtures as fx

contract_params = fx.contract_params
holdout_params = fx.holdout_params
feature_params = fx.feature_params

FEATURES_FILE = "conf/base/parameters_features.yml"


@pytest.fixture
def contract() -> DatasetContract:
    """The committed binary contract, parsed."""
    return fx.contract()


@pytest.fixture
def reference() -> pd.DataFrame:
    """Validated, realistic reference rows (binary target)."""
    return fx.validated_reference()


@pytest.fixture
def rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and held-out test rows of the binary contract."""
    return fx.holdout_rows()


def _ids(frame: pd.DataFrame) -> set[str]:
    return set(frame["application_id"])


# --- split_holdout ----------------------------------------------------------------------------


def test_stratified_holdout_keeps_class_shares(reference, contract, holdout_params):
    # Arrange
    holdout_params["strategy"] = "stratified"
    overall = (reference["defaulted"] == "1").mean()

    # Act
    train, test = split_holdout(reference, contract, HoldoutParams.parse(holdout_params))

    # Assert
    assert len(test) == round(len(reference) * holdout_params["test_size"])
    assert (train["defaulted"] == "1").mean() == pytest.approx(overall, abs=0.002)
    assert (test["defaulted"] == "1").mean() == pytest.approx(overall, abs=0.002)


@pytest.mark.parametrize("strategy", ["stratified", "random", "time"])
def test_holdout_puts_every_row_on_exactly_one_side(reference, contract, holdout_params, strategy):
    # Arrange
    holdout_params["strategy"] = strategy

    # Act
    train, test = split_holdout(reference, contract, HoldoutParams.parse(holdout_params))

    # Assert
    assert not _ids(train) & _ids(test)
    assert _ids(train) | _ids(test) == _ids(reference)
    assert len(train) + len(test) == len(reference)


def test_time_holdout_puts_latest_rows_in_test(reference, contract, holdout_params):
    # Arrange
    holdout_params["strategy"] = "time"
    shuffled = reference.sample(frac=1.0, random_state=0)

    # Act
    train, test = split_holdout(shuffled, contract, HoldoutParams.parse(holdout_params))

    # Assert
    assert train["application_time"].max() <= test["application_time"].min()
    latest = reference.nlargest(len(test), "application_time")
    assert _ids(test) == _ids(latest)


def test_random_holdout_depends_on_the_seed(reference, contract, holdout_params):
    # Arrange
    holdout_params["strategy"] = "random"
    other_seed = {**holdout_params, "seed": holdout_params["seed"] + 1}

    # Act
    _, first = split_holdout(reference, contract, HoldoutParams.parse(holdout_params))
    _, again = split_holdout(reference, contract, HoldoutParams.parse(holdout_params))
    _, other = split_holdout(reference, contract, HoldoutParams.parse(other_seed))

    # Assert
    assert _ids(first) == _ids(again)
    assert _ids(first) != _ids(other)


def test_stratified_holdout_of_a_regression_target_does_not_stratify():
    # Arrange: a continuous target cannot be stratified on
    reference = fx.validated_reference("regression")
    holdout = fx.holdout()

    # Act
    train, test = split_holdout(reference, fx.contract("regression"), holdout)

    # Assert
    assert holdout.strategy == "stratified"
    assert len(test) == round(len(reference) * holdout.test_size)
    assert not _ids(train) & _ids(test)


def test_unknown_holdout_key_names_file_and_key(holdout_params):
    # Arrange
    holdout_params["test_sise"] = 0.3

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        HoldoutParams.parse(holdout_params)
    assert "unknown key 'holdout.test_sise'" in str(excinfo.value)
    assert FEATURES_FILE in str(excinfo.value)


# --- fit_feature_spec -------------------------------------------------------------------------


def test_level_seen_only_in_test_rows_is_not_learned(rows, contract, feature_params):
    # Arrange
    train, test = rows
    train = train[train["loan_purpose"] != "vacation"]
    n_vacation = int((test["loan_purpose"] == "vacation").sum())
    assert n_vacation > 0

    # Act
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))
    features = build_features(test, spec)
    report = report_unseen_categories(test, spec)

    # Assert
    assert "vacation" not in spec.categories["loan_purpose"]
    assert "vacation" not in spec.rare_levels["loan_purpose"]
    assert (features["loan_purpose"] == UNKNOWN_LEVEL).sum() == n_vacation
    unseen = report["columns"]["loan_purpose"]
    assert unseen["unseen_rows"] == n_vacation
    assert unseen["unseen_levels"] == ["vacation"]
    assert unseen["unseen_share"] == pytest.approx(n_vacation / len(test))
    assert report["mapped_to"] == UNKNOWN_LEVEL


def test_spec_records_training_rows_and_classes(rows, contract, feature_params):
    # Arrange
    train, _ = rows

    # Act
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))

    # Assert
    assert spec.n_training_rows == len(train)
    assert spec.classes == ["0", "1"]
    assert spec.task == "binary"
    assert spec.drift_columns == [
        *contract.features.numeric,
        *contract.features.categorical,
    ]


def test_rare_levels_become_other(rows, contract, feature_params):
    # Arrange
    train, _ = rows
    min_frequency = feature_params["categorical"]["min_frequency"]
    counts = train["postcode_area"].value_counts()

    # Act
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))
    features = build_features(train, spec)

    # Assert
    kept, rare = spec.categories["postcode_area"], spec.rare_levels["postcode_area"]
    assert rare, "the generated postcode areas should include rare levels"
    assert all(counts[level] < min_frequency for level in rare)
    assert all(counts[level] >= min_frequency for level in kept)
    is_rare = train["postcode_area"].isin(rare).to_numpy()
    assert (features["postcode_area"].to_numpy()[is_rare] == OTHER_LEVEL).all()
    assert (features["postcode_area"][~is_rare] != OTHER_LEVEL).all()
    assert not (features["postcode_area"] == UNKNOWN_LEVEL).any()


def test_rare_levels_are_not_reported_as_unseen(rows, contract, feature_params):
    # Arrange
    train, test = rows
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))
    rare = spec.rare_levels["postcode_area"]
    known = {*spec.categories["postcode_area"], *rare}
    truly_unseen = int((~test["postcode_area"].isin(known)).sum())

    # Act
    report = report_unseen_categories(test, spec)

    # Assert
    assert test["postcode_area"].isin(rare).any()
    assert report["columns"]["postcode_area"]["unseen_rows"] == truly_unseen
    assert not set(report["columns"]["postcode_area"]["unseen_levels"]) & known


def test_max_levels_keeps_the_most_frequent_levels(rows, contract, feature_params):
    # Arrange
    train, _ = rows
    feature_params["categorical"].update(min_frequency=1, max_levels=3)
    counts = train["loan_purpose"].value_counts()

    # Act
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))

    # Assert
    kept = spec.categories["loan_purpose"]
    assert len(kept) == 3
    assert min(counts[level] for level in kept) >= max(
        counts[level] for level in spec.rare_levels["loan_purpose"]
    )
    assert set(kept) | set(spec.rare_levels["loan_purpose"]) == set(counts.index)


def test_unseen_levels_map_to_unknown_and_are_counted(rows, contract, feature_params):
    # Arrange
    train, test = rows
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))
    current = test.head(40).copy()
    current.loc[current.index[:7], "channel"] = "carrier_pigeon"
    current.loc[current.index[7:9], "channel"] = pd.NA

    # Act
    features = build_features(current, spec)
    report = report_unseen_categories(current, spec)

    # Assert
    assert (features["channel"].iloc[:7] == UNKNOWN_LEVEL).all()
    assert features["channel"].iloc[7:9].isna().all()
    assert features["channel"].iloc[9:].isin(spec.categories["channel"]).all()
    assert report["columns"]["channel"]["unseen_rows"] == 7
    assert report["columns"]["channel"]["unseen_levels"] == ["carrier_pigeon"]
    assert report["columns"]["home_ownership"]["unseen_rows"] == 0


def test_categorical_features_carry_every_learned_level(rows, contract, feature_params):
    # Arrange
    train, test = rows
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))

    # Act
    features = build_features(test.head(5), spec)

    # Assert
    for column, levels in spec.categories.items():
        assert list(features[column].cat.categories) == [*levels, OTHER_LEVEL, UNKNOWN_LEVEL]


def test_build_features_does_not_mutate_its_input(rows, contract, feature_params):
    # Arrange
    train, test = rows
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))
    test.loc[test.index[:3], "loan_purpose"] = "spaceship"
    before = test.copy(deep=True)

    # Act
    build_features(test, spec)

    # Assert
    pd.testing.assert_frame_equal(test, before)


def test_fit_feature_spec_does_not_mutate_its_input(rows, contract, feature_params):
    # Arrange
    train, _ = rows
    before = train.copy(deep=True)

    # Act
    fit_feature_spec(train, contract, FeatureParams.parse(feature_params))

    # Assert
    pd.testing.assert_frame_equal(train, before)


def test_auto_missing_indicators_follow_training_nulls(rows, contract, feature_params):
    # Arrange: loan_amount has no nulls in training, but some in the test rows
    train, test = rows
    test.loc[test.index[:4], "loan_amount"] = np.nan

    # Act
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))
    features = build_features(test, spec)

    # Assert
    assert train["annual_income"].isna().any()
    assert "annual_income" in spec.missing_indicators
    assert "age" not in spec.missing_indicators
    assert "loan_amount" not in spec.missing_indicators
    assert "loan_amount_missing" not in features
    expected = test["annual_income"].isna().astype("int8").to_numpy()
    np.testing.assert_array_equal(features["annual_income_missing"].to_numpy(), expected)


@pytest.mark.parametrize(
    ("declared", "expected"), [("none", []), (["age", "credit_score"], ["age", "credit_score"])]
)
def test_declared_missing_indicators(rows, contract, feature_params, declared, expected):
    # Arrange
    train, _ = rows
    feature_params["missing_indicators"] = declared

    # Act
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))
    features = build_features(train, spec)

    # Assert
    assert spec.missing_indicators == expected
    assert sorted(c for c in features if c.endswith("_missing")) == [
        f"{c}_missing" for c in expected
    ]


def test_ratio_with_zero_denominator_is_nan_not_inf(rows, contract, feature_params):
    # Arrange
    train, test = rows
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))
    tiny = test.head(4).copy()
    tiny["annual_income"] = [0.0, 50_000.0, 0.0, np.nan]
    tiny["existing_debt"] = [100.0, 5_000.0, 0.0, 10.0]

    # Act
    features = build_features(tiny, spec)

    # Assert
    ratio = features["debt_to_income"].to_numpy()
    assert np.isnan(ratio[[0, 2, 3]]).all()
    assert ratio[1] == pytest.approx(0.1)
    numeric = features.select_dtypes("number").to_numpy(dtype="float64")
    assert not np.isinf(numeric).any()


def test_log_transform_is_log1p_of_the_clipped_value(rows, contract, feature_params):
    # Arrange
    train, test = rows
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))
    tiny = test.head(3).copy()
    tiny["loan_amount"] = [0.0, 99.0, -50.0]

    # Act
    features = build_features(tiny, spec)

    # Assert
    np.testing.assert_allclose(features["log_loan_amount"], [0.0, np.log(100.0), 0.0])


def test_date_parts_are_extracted(rows, contract, feature_params):
    # Arrange
    train, test = rows
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))
    tiny = test.head(1).copy()
    tiny["application_time"] = pd.Timestamp("2025-03-14 15:30")  # a Friday

    # Act
    features = build_features(tiny, spec)

    # Assert
    assert features["application_time_month"].iloc[0] == 3
    assert features["application_time_dayofweek"].iloc[0] == 4
    assert features["application_time_hour"].iloc[0] == 15


def test_output_columns_match_the_spec(rows, contract, feature_params):
    # Arrange
    train, _ = rows
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))

    # Act
    features = build_features(train, spec)

    # Assert
    assert list(features.columns) == [
        "application_id",
        "application_time",
        *spec.feature_columns,
        "defaulted",
    ]
    assert len(features) == len(train)


def test_spec_is_json_serialisable(rows, contract, feature_params):
    # Arrange
    train, _ = rows

    # Act
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))
    saved = json.dumps(spec.model_dump(mode="json"))

    # Assert
    assert FeatureSpec.model_validate(json.loads(saved)) == spec


def test_positive_class_is_encoded_as_one(rows, contract_params, feature_params):
    # Arrange
    train, _ = rows
    contract = DatasetContract.parse({**contract_params, "positive_class": 0})

    # Act
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))
    features = build_features(train, spec)

    # Assert
    assert spec.classes == ["1", "0"]
    encoded = features["defaulted"].to_numpy()
    np.testing.assert_array_equal(encoded, (train["defaulted"] == "0").astype(float).to_numpy())


def test_multiclass_target_is_encoded_as_class_index():
    # Arrange
    train, _ = fx.holdout_rows("multiclass")

    # Act
    spec = fit_feature_spec(train, fx.contract("multiclass"), fx.features())
    features = build_features(train, spec)

    # Assert
    assert spec.classes == ["A", "B", "C", "D", "E"]
    letters = train["risk_grade"].to_numpy()
    decoded = np.array(spec.classes)[features["risk_grade"].astype(int).to_numpy()]
    np.testing.assert_array_equal(decoded, letters)


def test_regression_target_is_kept_as_float():
    # Arrange
    train, _ = fx.holdout_rows("regression")

    # Act
    spec = fit_feature_spec(train, fx.contract("regression"), fx.features())
    features = build_features(train, spec)

    # Assert
    assert spec.classes is None
    np.testing.assert_allclose(features["interest_rate"], train["interest_rate"])


def test_unlabelled_rows_get_a_missing_target(rows, contract, feature_params):
    # Arrange
    train, test = rows
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))
    current = test.assign(defaulted=pd.Series(pd.NA, index=test.index, dtype="string"))

    # Act
    features = build_features(current, spec)

    # Assert
    assert features["defaulted"].isna().all()
    assert len(features) == len(current)


def test_a_table_without_id_or_time_gets_features_and_predictions_without_them(
    contract_params, feature_params
):
    # Arrange: the committed contract with its id and event-time column taken away
    contract_params.update(id_column=None, event_time_column=None)
    contract_params["features"]["datetime"] = []
    for column in ("application_id", "application_time"):
        contract_params["columns"].pop(column, None)
    contract = DatasetContract.parse(contract_params)
    rows = fx.validated_reference().drop(columns=["application_id", "application_time"])
    train, test = split_holdout(rows, contract, fx.holdout())

    # Act
    spec = fit_feature_spec(train, contract, FeatureParams.parse(feature_params))
    features = build_features(test, spec)
    model, _, _ = train_model(
        build_features(train, spec), spec, fx.fast_training(), {"enabled": False}
    )
    predictions = prediction_frame(model, features, spec)

    # Assert
    assert spec.id_column is None and spec.event_time_column is None
    assert spec.key_columns == []
    assert spec.date_parts == {}
    assert list(features.columns) == [*spec.feature_columns, "defaulted"]
    assert list(predictions.columns) == ["label", "score", "prediction"]
    assert len(predictions) == len(test)

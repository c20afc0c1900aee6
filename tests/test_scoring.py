"""Tests of the shared scoring path: the same predictions as evaluation, for every task."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cirrus.feature_spec import UNKNOWN_LEVEL, FeatureSpecError
from cirrus.modeling import PREDICTION, predict_rows
from cirrus.scoring import Scorer, content_version, score_columns, spec_hash
from tests import unit_fixtures as fx


def scorer_for(task: str) -> Scorer:
    """A scorer of the unit-test model of a task."""
    spec, _, _ = fx.feature_tables(task)
    model, _, _ = fx.trained_model(task)
    return Scorer.load(model, spec, fx.contract(task), fx.model_bundle(task))


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_scores_equal_the_evaluation_predictions_of_the_same_rows(task: str) -> None:
    spec, _, test_features = fx.feature_tables(task)
    model, metrics, _ = fx.trained_model(task)
    _, test_rows = fx.holdout_rows(task)
    expected = predict_rows(model, test_features, spec, fx.evaluation(), metrics)

    _, predictions, _ = scorer_for(task).score(test_rows.drop(columns=[spec.target]))

    for column in [*score_columns(spec), *([PREDICTION] if task == "regression" else [])]:
        np.testing.assert_array_equal(predictions[column].to_numpy(), expected[column].to_numpy())
    if task != "regression":
        classes = np.asarray(spec.class_names())[expected[PREDICTION].astype(int)]
        assert predictions[PREDICTION].tolist() == classes.tolist()


def test_unseen_levels_are_reported_per_row_and_scored_as_unknown() -> None:
    scorer = scorer_for("binary")
    _, rows = fx.holdout_rows()
    rows = rows.head(3).reset_index(drop=True)
    rows.loc[1, "loan_purpose"] = "space_travel"

    features, _, unknown = scorer.score(rows)

    assert unknown == [[], ["loan_purpose"], []]
    assert features.loc[1, "loan_purpose"] == UNKNOWN_LEVEL


def test_versions_are_content_hashes() -> None:
    spec, _, _ = fx.feature_tables()
    scorer = scorer_for("binary")
    model, _, _ = fx.trained_model()

    assert scorer.model_version == content_version(model) != content_version(model + " ")
    assert scorer.feature_spec_hash == spec_hash(spec)
    assert spec_hash(spec) != spec_hash(spec.model_copy(update={"n_training_rows": 1}))


def test_one_row_and_many_rows_score_alike() -> None:
    scorer = scorer_for("binary")
    _, rows = fx.holdout_rows()
    rows = rows.drop(columns=["defaulted"]).head(20).reset_index(drop=True)

    _, together, _ = scorer.score(rows)
    alone = pd.concat([scorer.score(rows.iloc[[i]])[1] for i in range(len(rows))])

    np.testing.assert_array_equal(alone["score"].to_numpy(), together["score"].to_numpy())


def test_a_model_fitted_for_another_contract_is_refused_naming_the_columns() -> None:
    # Arrange: the contract no longer declares one feature the spec was fitted on
    spec, _, _ = fx.feature_tables("binary")
    model, _, _ = fx.trained_model("binary")
    contract = fx.contract("binary")
    dropped = contract.features.numeric[0]
    features = contract.features.model_copy(update={"numeric": contract.features.numeric[1:]})
    other = contract.model_copy(update={"features": features})

    # Act / Assert
    with pytest.raises(FeatureSpecError) as raised:
        Scorer.load(model, spec, other, fx.model_bundle("binary"))
    assert dropped in str(raised.value)
    assert "kedro run" in raised.value.hint

"""Scored rows of a table without an id column carry a stable key from their input values."""

from __future__ import annotations

import pandas as pd

from cirrus.contract import DatasetContract
from cirrus.pipelines.inference.nodes import score_new_rows, validate_inference_rows
from cirrus.scoring import ROW_KEY, row_keys
from tests import unit_fixtures as fx
from tests.pipelines.inference.test_nodes import new_rows


def _without_id() -> DatasetContract:
    """The committed contract with no id column."""
    params = fx.contract_for("binary")
    params["id_column"] = None
    params["columns"].pop("application_id", None)
    return DatasetContract.parse(params)


def _validated(n: int = 40) -> pd.DataFrame:
    """New rows, validated and PII-treated as the inference pipeline does."""
    return validate_inference_rows(new_rows(n), fx.contract(), fx.SALT)


def test_the_same_rows_get_the_same_keys_in_any_order():
    # Arrange
    rows = _validated()
    shuffled = rows.sample(frac=1.0, random_state=1)

    # Act
    keys = row_keys(rows, _without_id())
    again = row_keys(rows.copy(), _without_id())
    reordered = row_keys(shuffled, _without_id())

    # Assert
    assert keys.tolist() == again.tolist()
    assert reordered.sort_index().tolist() == keys.tolist()
    assert keys.is_unique
    assert keys.str.fullmatch(r"[0-9a-f]{16}").all()


def test_a_changed_value_changes_only_that_rows_key():
    # Arrange
    rows = _validated()
    changed = rows.copy()
    changed.loc[changed.index[3], "loan_amount"] += 1

    # Act
    before, after = row_keys(rows, _without_id()), row_keys(changed, _without_id())

    # Assert
    assert (before != after).tolist() == [i == 3 for i in range(len(rows))]


def test_identical_rows_are_told_apart_by_their_order():
    # Arrange
    rows = _validated(5)
    doubled = pd.concat([rows, rows.iloc[[0, 0]]], ignore_index=True)

    # Act
    keys = row_keys(doubled, _without_id())

    # Assert
    assert keys.iloc[5] == keys.iloc[0] + "-2"
    assert keys.iloc[6] == keys.iloc[0] + "-3"
    assert keys.is_unique


def test_scored_rows_without_an_id_carry_the_key_of_their_input_row():
    # Arrange
    spec, _, _ = fx.feature_tables()
    model, _, _ = fx.trained_model()
    bundle = fx.model_bundle()
    rows = _validated()
    contract = _without_id()

    # Act
    scored, _, _ = score_new_rows(rows, model, spec, contract, bundle)
    again, _, _ = score_new_rows(rows, model, spec, contract, bundle)

    # Assert
    assert scored.columns[0] == ROW_KEY
    assert scored[ROW_KEY].tolist() == row_keys(rows, contract).tolist() == again[ROW_KEY].tolist()
    joined = scored.merge(rows.assign(**{ROW_KEY: row_keys(rows, contract).to_numpy()}))
    assert len(joined) == len(rows)


def test_scored_rows_with_an_id_keep_the_id_as_their_key():
    # Arrange
    spec, _, _ = fx.feature_tables()
    model, _, _ = fx.trained_model()

    # Act
    scored, _, _ = score_new_rows(_validated(), model, spec, fx.contract(), fx.model_bundle())

    # Assert
    assert ROW_KEY not in scored.columns
    assert scored.columns[0] == "application_id"

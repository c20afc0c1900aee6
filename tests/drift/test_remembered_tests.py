"""Tests of the remembered stat tests: a report of all rows does not repeat the verdicts' TVD."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from evidently.legacy.calculation_engine.python_engine import PythonEngine
from evidently.legacy.calculations.stattests import get_stattest
from evidently.legacy.calculations.stattests.registry import _impls
from evidently.legacy.core import ColumnType

from cirrus.drift.remembered_tests import fingerprint, remembered
from cirrus.drift.report import run_drift_report
from tests import unit_fixtures as fx
from tests.drift.test_report import _scenario

LEVELS = ["car", "home", "study", "travel", "health"]


def _sides(seed: int = 3) -> tuple[pd.Series, pd.Series]:
    """A reference and a current sample of one five-level column, the current one moved."""
    rng = np.random.default_rng(seed)
    reference = pd.Series(rng.choice(LEVELS, 300), name="purpose")
    current = pd.Series(rng.choice(LEVELS, 200, p=[0.4, 0.15, 0.15, 0.15, 0.15]), name="purpose")
    return reference, current


def _tvd_impl():
    """Evidently's registered Python implementation of TVD."""
    reference, current = _sides()
    test = get_stattest(reference, current, ColumnType.Categorical, "TVD")
    return test, _impls[test][PythonEngine]


@contextmanager
def _counted_tvd() -> Iterator[list[int]]:
    """Count the calls that reach Evidently's own TVD function."""
    _, impl = _tvd_impl()
    original, calls = impl.func, []

    def counted(*args):
        calls.append(1)
        return original(*args)

    impl.func = counted
    try:
        yield calls
    finally:
        impl.func = original


def test_a_repeated_call_is_recalled_with_the_result_evidently_gives():
    # Arrange
    reference, current = _sides()
    test, impl = _tvd_impl()
    original = impl.func
    plain = test(reference, current, ColumnType.Categorical, 0.05)

    # Act
    with _counted_tvd() as calls, remembered() as memory:
        as_categories = test(
            reference.astype("category"), current.astype("category"), ColumnType.Categorical, 0.05
        )
        as_texts = test(reference, current, ColumnType.Categorical, 0.05)
        other_threshold = test(reference, current, ColumnType.Categorical, 0.01)

    # Assert: one computation per distinct call; same values whatever their dtype
    assert as_categories == as_texts == plain
    assert other_threshold.drift_score == plain.drift_score
    assert other_threshold.actual_threshold == 0.01
    assert len(calls) == len(memory) == 2
    assert impl.func is original


def test_other_values_are_computed_afresh():
    # Arrange
    reference, current = _sides()
    _, other_current = _sides(seed=4)
    test, _ = _tvd_impl()

    # Act
    with _counted_tvd() as calls, remembered():
        test(reference, current, ColumnType.Categorical, 0.05)
        second = test(reference, other_current, ColumnType.Categorical, 0.05)

    # Assert
    assert len(calls) == 2
    assert second == test(reference, other_current, ColumnType.Categorical, 0.05)
    assert fingerprint(current) != fingerprint(other_current)


def test_a_report_of_all_rows_runs_each_tvd_column_once():
    # Arrange: the unit scenario's reference is small, so its many-level categoricals get TVD
    scenario = _scenario(shift=1.0, labelled=True)

    # Act
    with _counted_tvd() as calls:
        _, summary = run_drift_report(settings=fx.drift(), **scenario)

    # Assert
    tvd_columns = [c for c, v in summary.columns.items() if v["method"] == "TVD"]
    assert summary.report_sample["reference_rows"] == summary.n_reference_rows
    assert tvd_columns
    assert len(calls) == len(tvd_columns)

"""Drift alarms at a declared error rate: missing values compared on their own, the per-column
p-values corrected over the columns tested, and current values outside the reference range."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from cirrus.drift.alarms import adjusted_p_values, missing_value_test, out_of_range_counts
from cirrus.drift.report import column_verdicts, drift_table, run_drift_report, summarise_drift
from cirrus.feature_spec import OTHER_LEVEL, UNKNOWN_LEVEL, FeatureSpec
from cirrus.parameters import DriftParams
from cirrus.results import DriftSummary
from tests import unit_fixtures as fx

TARGET = "churned"
NUMERIC = [f"x{i:02d}" for i in range(18)]
LEVELS = {
    "region": ["north", "south", "east", "west", "centre"],
    "plan": ["basic", "plus", "pro"],
    "paperless": ["yes", "no"],
}
NO_UNSEEN: dict[str, Any] = {"mapped_to": UNKNOWN_LEVEL, "columns": {}}

drift_params = fx.drift_params


def _spec() -> FeatureSpec:
    """A binary task's spec over 18 numeric and 3 categorical features (21 drift columns)."""
    spec = fx.minimal_spec("binary", ["0", "1"], TARGET, NUMERIC)
    return spec.model_copy(
        update={
            "categories": LEVELS,
            "rare_levels": {column: [] for column in LEVELS},
            "drift_columns": [*NUMERIC, *LEVELS],
        }
    )


def _wide_table(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Feature rows of mixed shapes (normal, skewed, counts, uniform; categories) with a target
    and the scores of a fixed model; no drift between any of its rows."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i, column in enumerate(NUMERIC):
        columns[column] = [
            lambda: rng.normal(0.0, 1.0, n),
            lambda: rng.lognormal(0.0, 0.7, n),
            lambda: rng.poisson(2.0, n).astype("float64"),
            lambda: rng.uniform(0.0, 10.0, n),
        ][i % 4]()
    for column, levels in LEVELS.items():
        columns[column] = pd.Categorical(
            rng.choice(levels, n), categories=[*levels, OTHER_LEVEL, UNKNOWN_LEVEL]
        )
    features = pd.DataFrame(columns)
    predictions = _scored(features)
    features[TARGET] = (rng.random(n) < predictions["score"].to_numpy()).astype("float64")
    return features, predictions


def _scored(features: pd.DataFrame) -> pd.DataFrame:
    """The predictions of a fixed model that reads x00 (most), x01, x02 and plan."""
    logit = features.x00 + 0.5 * np.log(features.x01) + 0.3 * (features.x02 - 2.0) - 1.0
    logit += features.plan == "pro"
    score = 1.0 / (1.0 + np.exp(-logit.to_numpy()))
    return pd.DataFrame({"score": score, "prediction": (score >= 0.5).astype("float64")})


def _summary(
    reference: tuple[pd.DataFrame, pd.DataFrame],
    current: tuple[pd.DataFrame, pd.DataFrame],
    settings: DriftParams,
) -> dict[str, Any]:
    """The drift summary of two labelled batches' verdicts on all rows (no HTML report)."""
    spec = _spec()
    tables = [drift_table(*side, spec, with_target=True) for side in (reference, current)]
    return summarise_drift(column_verdicts(*tables, spec, settings), spec, settings, NO_UNSEEN)


def _random_split(n: int, seed: int, reference_share: float = 0.4):
    """A table's first rows as the reference and the others as the current batch."""
    features, predictions = _wide_table(n, seed)
    cut = int(n * reference_share)
    return (features.iloc[:cut], predictions.iloc[:cut]), (
        features.iloc[cut:],
        predictions.iloc[cut:],
    )


# --- the correction ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("correction", "statsmodels_name"),
    [("holm", "holm"), ("benjamini_hochberg", "fdr_bh"), ("bonferroni", "bonferroni")],
)
def test_adjusted_p_values_equal_statsmodels(correction: str, statsmodels_name: str):
    # Arrange
    p_values = np.random.default_rng(3).uniform(0, 0.2, 23) ** 2
    p_values[[4, 9]] = p_values[2]  # ties keep their order

    # Act
    ours = adjusted_p_values({f"c{i}": p for i, p in enumerate(p_values)}, correction)

    # Assert
    expected = multipletests(p_values, method=statsmodels_name)[1]
    np.testing.assert_allclose(list(ours.values()), expected, rtol=1e-12)


def test_a_test_that_could_not_decide_is_no_evidence():
    assert adjusted_p_values({"a": float("nan"), "b": 0.01}, "holm") == {"a": 1.0, "b": 0.02}


def _ks_verdicts(p_values: dict[str, float]) -> dict[str, dict[str, Any]]:
    """KS verdicts with these p-values at the default threshold 0.05."""
    return {
        column: {
            "method": "ks",
            "score": p,
            "threshold": 0.05,
            "drifted": p < 0.05,
            "p_value": p,
            "p_value_test": "ks",
        }
        for column, p in p_values.items()
    }


def test_raw_flags_that_fail_the_family_correction_raise_no_alarm():
    # Arrange: the case: one feature at p = 0.016 and the prediction at 0.047 among 19
    spec = fx.minimal_spec("binary", ["0", "1"], TARGET, [f"f{i}" for i in range(18)])
    p_values = {f"f{i}": 0.3 + 0.03 * i for i in range(18)} | {"f3": 0.016, "prediction": 0.047}

    # Act
    corrected = summarise_drift(_ks_verdicts(p_values), spec, fx.drift(), NO_UNSEEN)
    uncorrected = summarise_drift(
        _ks_verdicts(p_values), spec, fx.drift(alarm={"correction": "none"}), NO_UNSEEN
    )

    # Assert: the raw verdicts stay in the summary; the alarms and the recommendation are corrected
    assert corrected["raw_drifted_features"] == ["f3"]
    assert corrected["columns"]["f3"]["drifted"] is True
    assert corrected["columns"]["f3"]["adjusted_p_value"] == pytest.approx(0.016 * 19)
    assert corrected["columns"]["f3"]["alarm"] is False
    assert corrected["drifted_features"] == []
    assert corrected["prediction_drift"] is False
    assert corrected["retrain_recommended"] is False
    assert corrected["alarm"] == {
        "correction": "holm",
        "family_error_rate": 0.05,
        "family_size": 19,
    }
    assert uncorrected["prediction_drift"] is True
    assert uncorrected["retrain_reasons"] == ["prediction drift"]


def test_prediction_drift_that_passes_the_correction_still_recommends_retraining():
    # Arrange
    spec = fx.minimal_spec("binary", ["0", "1"], TARGET, [f"f{i}" for i in range(18)])
    p_values = {f"f{i}": 0.5 for i in range(18)} | {"prediction": 1e-6}

    # Act
    summary = summarise_drift(_ks_verdicts(p_values), spec, fx.drift(), NO_UNSEEN)

    # Assert
    assert summary["retrain_reasons"] == ["prediction drift"]


def test_a_distance_verdict_needs_a_significant_difference_too():
    # Arrange: a wasserstein distance at its threshold on a difference no test finds significant
    spec = fx.minimal_spec("binary", ["0", "1"], TARGET, ["a", "b"])
    columns = {
        "a": {"method": "wasserstein", "score": 0.12, "threshold": 0.1, "drifted": True},
        "b": {"method": "wasserstein", "score": 0.4, "threshold": 0.1, "drifted": True},
    }
    columns["a"].update(p_value=0.2, p_value_test="ks_2samp")
    columns["b"].update(p_value=1e-9, p_value_test="ks_2samp")

    # Act
    summary = summarise_drift(columns, spec, fx.drift(), NO_UNSEEN)

    # Assert
    assert summary["raw_drifted_features"] == ["a", "b"]
    assert summary["drifted_features"] == ["b"]


def test_an_unknown_correction_is_refused_when_parsed(drift_params):
    drift_params["alarm"] = {"correction": "sidak"}
    with pytest.raises(Exception, match="correction"):
        DriftParams.parse(drift_params)


# --- random splits and injected shifts --------------------------------------------------------


def test_a_random_split_of_a_wide_table_recommends_no_retraining():
    # Arrange: 400 reference and 600 current rows of 21 features; on this seed the prediction's
    # and the target's own tests flag them (uncorrected, retraining was recommended)
    reference, current = _random_split(1000, seed=10)

    # Act
    summary = _summary(reference, current, fx.drift())

    # Assert
    assert summary["retrain_recommended"] is False, summary["retrain_reasons"]
    assert summary["drifted_features"] == []
    assert summary["prediction_drift"] is False


def _shifted(kind: str, n: int = 2400, seed: int = 7):
    """A random split of 1,200 and 1,200 rows with one shift injected into the current rows."""
    reference, (features, predictions) = _random_split(n, seed, reference_share=0.5)
    features, predictions = features.copy(), predictions.copy()
    rng = np.random.default_rng(seed)
    if kind == "mean":  # half a standard deviation on the model's strongest column, scored
        features["x00"] += 0.5 * reference[0]["x00"].std()
        predictions = _scored(features)
    elif kind == "new_category":  # a level the reference never held takes 20% of the rows
        values = features["region"].astype(object).to_numpy()
        values[rng.random(len(values)) < 0.2] = "islands"
        features["region"] = pd.Categorical(values)
    elif kind == "prior":  # the positive class's share doubles (rows resampled by class)
        positive = features[TARGET].to_numpy() == 1
        share = min(2 * positive.mean(), 0.95)
        rows = np.concatenate(
            [
                rng.choice(np.flatnonzero(positive), int(share * len(features))),
                rng.choice(np.flatnonzero(~positive), len(features) - int(share * len(features))),
            ]
        )
        features, predictions = features.iloc[rows], predictions.iloc[rows]
    return reference, (features, predictions)


@pytest.mark.parametrize(
    ("kind", "alarms", "retrain"),
    [
        # The model's strongest column moves its predictions too: retraining is recommended.
        ("mean", {"x00", "prediction"}, True),
        # A column the model does not read: an alarm on it, 1 of 21 features is no reason to
        # retrain (drift.retrain.max_drifted_share 0.3).
        ("new_category", {"region"}, False),
        # More positives: the target, and the features and scores that go with them, move.
        ("prior", {"target", "prediction", "x00"}, True),
    ],
)
def test_each_injected_shift_raises_an_alarm(kind: str, alarms: set[str], retrain: bool):
    # Arrange
    reference, current = _shifted(kind)

    # Act
    summary = _summary(reference, current, fx.drift())

    # Assert
    raised = {column for column, verdict in summary["columns"].items() if verdict["alarm"]}
    assert alarms <= raised
    assert summary["retrain_recommended"] is retrain
    if kind != "prior":  # a prior shift moves every feature tied to the target
        assert raised == alarms


# --- missing values ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def missing_in_current() -> tuple[str, DriftSummary]:
    """A random split whose current rows lost 15% of one categorical and one numeric column, and
    all of another of each."""
    reference, (features, predictions) = _random_split(1000, seed=2)
    features = features.copy()
    holes = np.random.default_rng(5).random(len(features)) < 0.15
    features.loc[holes, "plan"] = np.nan
    features.loc[holes, "x04"] = np.nan
    features["paperless"] = pd.Categorical([np.nan] * len(features), categories=LEVELS["paperless"])
    features["x06"] = np.nan
    spec = _spec()
    return run_drift_report(
        *reference, features, predictions, spec, fx.drift(report_rows=None), NO_UNSEEN
    )


def test_missing_values_only_in_the_current_rows_are_a_missing_value_shift(missing_in_current):
    # Arrange
    _, summary = missing_in_current

    # Assert: neither column's distribution drifted; both are named for their missing values
    assert summary.columns["plan"]["drifted"] is False
    assert summary.columns["x04"]["drifted"] is False
    assert summary.drifted_features == []
    assert summary.missing_shift == ["paperless", "plan", "x04", "x06"]
    missing = summary.columns["plan"]["missing"]
    assert missing["reference_share"] == 0.0
    assert missing["current_share"] == pytest.approx(0.15, abs=0.03)
    assert missing["shift"] is True
    assert summary.columns["x00"]["missing"]["shift"] is False


def test_a_column_without_current_values_is_not_tested_but_named(missing_in_current):
    # Arrange
    html, summary = missing_in_current

    # Assert: Evidently refuses an empty column; the summary says why it was not tested
    for column in ("paperless", "x06"):
        verdict = summary.columns[column]
        assert verdict["not_tested"] == "no values in the current rows"
        assert verdict["alarm"] is False
        assert verdict["missing"]["current_share"] == 1.0
    assert summary.alarm.family_size == 23  # 21 features, prediction, target
    assert "no values in the current rows" not in html  # the note lists it as not tested
    assert "not tested" in html


def test_the_report_shows_no_missing_level(missing_in_current):
    # Arrange
    html, _ = missing_in_current

    # Assert: Evidently's tables and charts list a column's levels; "nan" is none of them
    assert '"nan"' not in html
    assert "15.0%" in html or "(shift)" in html


def test_the_missing_value_test_is_fishers_exact_test():
    # The case: 3 missing of 100 current rows, none of 244 reference rows
    assert missing_value_test(0, 244, 3, 100) == pytest.approx(0.0240, abs=1e-4)
    assert missing_value_test(0, 244, 0, 100) == 1.0


# --- values outside the reference range -------------------------------------------------------


def test_out_of_range_counts_values_below_and_above_the_reference_range():
    # Arrange
    reference = pd.DataFrame({"a": [1.0, 5.0, np.nan, np.inf], "b": [np.nan] * 4})
    current = pd.DataFrame({"a": [0.5, 1.0, 5.0, 9.0, np.nan], "b": [1.0] * 5})

    # Act
    counts = out_of_range_counts(reference, current, ["a", "b"])

    # Assert
    assert counts["a"] == {"reference_min": 1.0, "reference_max": 5.0, "outside": 2}
    assert counts["b"]["outside"] == 0


def test_the_summary_counts_out_of_range_values_without_a_verdict(missing_in_current):
    # Arrange
    _, summary = missing_in_current

    # Assert: a random split has few values past the reference's extremes, and no verdict
    assert summary.columns["x00"]["out_of_range"]["outside"] >= 0
    assert "out_of_range" not in summary.columns["plan"]
    assert set(summary.out_of_range) <= set(NUMERIC)
    assert not any("range" in reason for reason in summary.retrain_reasons)

"""Tests of the drift report: drift frames, per-column verdicts, the summary and a real report."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from cirrus.drift.report import (
    column_methods,
    column_results,
    drift_frame,
    run_drift_report,
    stable_ids,
    summarise_drift,
)
from cirrus.feature_spec import UNKNOWN_LEVEL, FeatureSpec, build_features, report_unseen_categories
from cirrus.modeling import predict_rows
from cirrus.parameters import ConfigError, DriftParams
from cirrus.results import DriftSummary
from tests import unit_fixtures as fx

drift_params = fx.drift_params

SHIFTED = "loan_amount"
NO_UNSEEN: dict[str, Any] = {"mapped_to": UNKNOWN_LEVEL, "columns": {}}


def _spec(task: str, classes: list[str] | None, drift_columns: list[str]) -> FeatureSpec:
    """A minimal spec: what the drift frame and the summary read."""
    return fx.minimal_spec(task, classes, "grade", drift_columns)


def _snapshot(*metrics: tuple[str, str, float, float]) -> dict[str, Any]:
    """An Evidently snapshot dict shaped like `Snapshot.dict()` of the DataDriftPreset."""
    items: list[dict[str, Any]] = [
        {
            "id": "count",
            "metric_name": "DriftedColumnsCount(drift_share=0.5)",
            "config": {"type": "evidently:metric_v2:DriftedColumnsCount", "drift_share": 0.5},
            "value": {"count": 1.0, "share": 0.5},
        }
    ]
    for column, method, score, threshold in metrics:
        items.append(
            {
                "id": column,
                "metric_name": f"ValueDrift(column={column},method={method},threshold={threshold})",
                "config": {
                    "type": "evidently:metric_v2:ValueDrift",
                    "column": column,
                    "method": method,
                    "threshold": threshold,
                },
                "value": score,
            }
        )
    return {"metrics": items, "tests": []}


def _scenario(shift: float, labelled: bool) -> dict[str, Any]:
    """Held-out reference rows and a current copy of them, `SHIFTED` scaled by `shift`."""
    spec, _, reference = fx.feature_tables("binary")
    model, _, _ = fx.trained_model("binary")
    evaluation = fx.evaluation()
    _, test_rows = fx.holdout_rows("binary")
    current_rows = test_rows.assign(**{SHIFTED: test_rows[SHIFTED] * shift})
    if not labelled:
        current_rows["defaulted"] = pd.Series(pd.NA, index=current_rows.index, dtype="string")
    current = build_features(current_rows, spec)
    return {
        "reference_features": reference,
        "reference_predictions": predict_rows(model, reference, spec, evaluation),
        "current_features": current,
        "current_predictions": predict_rows(model, current, spec, evaluation),
        "spec": spec,
        "unseen_categories": report_unseen_categories(current_rows, spec),
    }


@pytest.fixture(scope="module")
def shifted_report() -> tuple[str, DriftSummary]:
    """One real Evidently run: unlabelled current batch with loan_amount tripled."""
    return run_drift_report(settings=fx.drift(), **_scenario(shift=3.0, labelled=False))


# --- column_results ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [
        "K-S p_value",
        "Z-test p_value",
        "chi-square p_value",
        "ks",
        "z",
        "chisquare",
        "mannw",
        "Mann-Whitney U-rank test",
        "t_test",
        "anderson",
        "cramer_von_mises",
        "es",
        "empirical_mmd",
        "fisher_exact",
        "g_test",
        "TVD",
        "Total-Variation-Distance",
    ],
)
def test_p_value_methods_drift_below_the_threshold(method: str):
    # Arrange
    snapshot = _snapshot(("low", method, 0.001, 0.05), ("high", method, 0.6, 0.05))

    # Act
    results = column_results(snapshot)

    # Assert
    assert results["low"]["drifted"] is True
    assert results["high"]["drifted"] is False


@pytest.mark.parametrize(
    "method",
    ["Wasserstein distance (normed)", "wasserstein", "psi", "PSI", "jensenshannon", "hellinger"],
)
def test_distance_methods_drift_at_or_above_the_threshold(method: str):
    # Arrange
    snapshot = _snapshot(
        ("far", method, 0.3, 0.1), ("equal", method, 0.1, 0.1), ("near", method, 0.01, 0.1)
    )

    # Act
    results = column_results(snapshot)

    # Assert
    assert results["far"]["drifted"] is True
    assert results["equal"]["drifted"] is True
    assert results["near"]["drifted"] is False


def test_column_results_keep_method_score_threshold_and_skip_other_metrics():
    # Arrange
    snapshot = _snapshot(("age", "K-S p_value", 0.2, 0.05))

    # Act
    results = column_results(snapshot)

    # Assert
    assert results == {
        "age": {"method": "K-S p_value", "score": 0.2, "threshold": 0.05, "drifted": False}
    }


# --- drift_frame ------------------------------------------------------------------------------


def test_binary_drift_frame_uses_the_score_and_class_names():
    # Arrange
    scenario = _scenario(shift=1.0, labelled=True)
    features, predictions = scenario["reference_features"], scenario["reference_predictions"]
    spec = scenario["spec"]

    # Act
    frame = drift_frame(features, predictions, spec, with_target=True)

    # Assert
    assert list(frame.columns) == [*spec.drift_columns, "prediction", "target"]
    np.testing.assert_array_equal(frame["prediction"], predictions["score"])
    assert set(frame["target"]) == {"0", "1"}
    assert (frame["target"] == "1").sum() == (features["defaulted"] == 1).sum()
    assert frame["channel"].map(type).eq(str).all()


def test_multiclass_drift_frame_uses_predicted_class_names():
    # Arrange
    spec = _spec("multiclass", ["A", "B", "C"], ["x"])
    features = pd.DataFrame({"x": [1.0, 2.0, 3.0], "grade": [2.0, 0.0, 1.0]}, index=[7, 8, 9])
    predictions = pd.DataFrame({"prediction": [2.0, 1.0, 1.0]}, index=[7, 8, 9])

    # Act
    frame = drift_frame(features, predictions, spec, with_target=True)

    # Assert
    assert frame["prediction"].tolist() == ["C", "B", "B"]
    assert frame["target"].tolist() == ["C", "A", "B"]


def test_unlabelled_drift_frame_has_no_target():
    # Arrange
    scenario = _scenario(shift=1.0, labelled=False)

    # Act
    frame = drift_frame(
        scenario["current_features"],
        scenario["current_predictions"],
        scenario["spec"],
        with_target=False,
    )

    # Assert
    assert "target" not in frame
    assert len(frame) == len(scenario["current_features"])


# --- summarise_drift --------------------------------------------------------------------------


def _verdicts(**drifted: bool) -> dict[str, dict[str, Any]]:
    """KS verdicts: a flagged column's p-value passes any correction, the others' fail it."""
    return {
        column: {
            "method": "ks",
            "score": 1e-9 if flag else 0.9,
            "threshold": 0.05,
            "drifted": flag,
            "p_value": 1e-9 if flag else 0.9,
            "p_value_test": "ks",
        }
        for column, flag in drifted.items()
    }


SPEC = _spec("binary", ["0", "1"], ["a", "b", "c", "d"])


def test_summary_recommends_retraining_with_reasons():
    # Arrange
    columns = _verdicts(a=True, b=True, c=False, d=False, prediction=True, target=True)

    # Act
    summary = summarise_drift(columns, SPEC, fx.drift(), NO_UNSEEN)

    # Assert
    assert summary["drifted_features"] == ["a", "b"]
    assert summary["drifted_feature_share"] == pytest.approx(0.5)
    assert summary["dataset_drift"] is True
    assert summary["prediction_drift"] is True
    assert summary["target_drift"] is True
    assert summary["retrain_recommended"] is True
    reasons = " | ".join(summary["retrain_reasons"])
    assert "dataset drift: 50% of features drifted" in reasons
    assert "(> 30%)" in reasons
    assert "prediction drift" in reasons
    assert "target drift" in reasons


def test_summary_without_drift_recommends_nothing():
    # Arrange
    columns = _verdicts(a=False, b=False, c=False, d=False, prediction=False)

    # Act
    summary = summarise_drift(columns, SPEC, fx.drift(), NO_UNSEEN)

    # Assert
    assert summary["dataset_drift"] is False
    assert summary["drifted_features"] == []
    assert summary["target_drift"] is None
    assert summary["retrain_recommended"] is False
    assert summary["retrain_reasons"] == []


def test_summary_share_ignores_prediction_and_target():
    # Arrange
    columns = _verdicts(a=True, b=False, c=False, d=False, prediction=True, target=True)

    # Act
    summary = summarise_drift(columns, SPEC, fx.drift(), NO_UNSEEN)

    # Assert
    assert summary["drifted_feature_share"] == pytest.approx(0.25)
    assert summary["dataset_drift"] is False


def test_summary_retrain_policy_can_ignore_drift():
    # Arrange
    settings = fx.drift(
        retrain={
            "on_dataset_drift": False,
            "on_prediction_drift": False,
            "on_target_drift": False,
            "max_drifted_share": 1.0,
        }
    )
    columns = _verdicts(a=True, b=True, c=False, d=False, prediction=True, target=True)

    # Act
    summary = summarise_drift(columns, SPEC, settings, NO_UNSEEN)

    # Assert
    assert summary["dataset_drift"] is True
    assert summary["retrain_recommended"] is False
    assert summary["retrain_reasons"] == []


def test_summary_share_above_max_drifted_share_alone_recommends_retraining(drift_params):
    # Arrange: 1 of 4 drifted is below drift_share 0.5 but above max_drifted_share 0.2
    drift_params["retrain"]["max_drifted_share"] = 0.2
    settings = DriftParams.parse(drift_params)
    columns = _verdicts(a=True, b=False, c=False, d=False)

    # Act
    summary = summarise_drift(columns, SPEC, settings, NO_UNSEEN)

    # Assert
    assert summary["dataset_drift"] is False
    assert summary["retrain_recommended"] is True
    assert summary["retrain_reasons"] == ["25% of features drifted (> 20%)"]


def test_summary_writes_scores_to_four_significant_digits_with_the_verdicts_as_decided():
    # Arrange: d's exact distance is below its threshold, so the test did not flag it
    columns = {
        "a": {"method": "wasserstein", "score": 0.030226794000092451, "threshold": 0.1},
        "b": {"method": "wasserstein", "score": 0.43781122865972053, "threshold": 0.1},
        "c": {"method": "K-S p_value", "score": 1.2345678e-07, "threshold": 0.05},
        "d": {"method": "wasserstein", "score": 0.09999996, "threshold": 0.1},
    }
    for column, flag in zip("abcd", [False, True, True, False], strict=True):
        columns[column].update(drifted=flag, p_value=1e-9 if flag else 0.5)

    # Act
    summary = summarise_drift(columns, SPEC, fx.drift(), NO_UNSEEN)

    # Assert
    written = summary["columns"]
    assert [written[c]["score"] for c in "abcd"] == [0.03023, 0.4378, 1.235e-07, 0.1]
    assert [written[c]["drifted"] for c in "abcd"] == [False, True, True, False]
    assert summary["drifted_features"] == ["b", "c"]
    assert columns["a"]["score"] == 0.030226794000092451  # the verdicts' input is not rounded


def test_summary_share_is_judged_exact_and_written_rounded(drift_params):
    # Arrange: 1 of 3 drifted is 0.33333..., just above max_drifted_share; written it is 0.3333
    drift_params["retrain"]["max_drifted_share"] = 0.33333
    settings = DriftParams.parse(drift_params)
    columns = _verdicts(a=True, b=False, c=False)

    # Act
    summary = summarise_drift(
        columns, _spec("binary", ["0", "1"], ["a", "b", "c"]), settings, NO_UNSEEN
    )

    # Assert
    assert summary["drifted_feature_share"] == 0.3333
    assert summary["retrain_recommended"] is True
    assert "33% of features drifted (> 33%)" in summary["retrain_reasons"]


def test_summary_counts_unseen_categories():
    # Arrange
    spec, _, _ = fx.feature_tables("binary")
    _, test_rows = fx.holdout_rows("binary")
    current_rows = test_rows.copy()
    current_rows.loc[current_rows.index[:6], "channel"] = "carrier_pigeon"
    current_rows.loc[current_rows.index[:2], "loan_purpose"] = "time_travel"
    unseen = report_unseen_categories(current_rows, spec)
    columns = _verdicts(**{column: False for column in spec.drift_columns})

    # Act
    summary = summarise_drift(columns, spec, fx.drift(), unseen)

    # Assert
    counts = summary["unseen_categories"]
    assert counts["channel"] == 6
    assert counts["loan_purpose"] == 2
    assert "home_ownership" not in counts  # columns without unseen rows are left out
    assert all(count > 0 for count in counts.values())


def test_unknown_drift_method_is_refused_when_parsed(drift_params):
    # Arrange
    drift_params["per_column_method"] = {"age": "mann_whitney"}

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        DriftParams.parse(drift_params)
    message = str(excinfo.value)
    assert "conf/base/parameters_drift.yml" in message
    assert "'drift': unknown drift method(s) ['mann_whitney']" in message
    assert "'mannw'" in message


# --- run_drift_report (real Evidently runs) ---------------------------------------------------


def test_real_report_flags_the_shifted_column_only(shifted_report):
    # Arrange
    _, summary = shifted_report

    # Assert
    columns = summary.columns
    assert columns[SHIFTED]["drifted"] is True
    assert columns["age"]["drifted"] is False
    assert columns["credit_score"]["drifted"] is False
    assert summary.drifted_features == [SHIFTED]
    assert summary.dataset_drift is False


def test_real_report_covers_every_drift_column_and_the_prediction(shifted_report):
    # Arrange
    spec, _, _ = fx.feature_tables("binary")
    _, summary = shifted_report

    # Assert
    assert set(summary.columns) == {*spec.drift_columns, "prediction"}
    assert summary.target_drift is None
    assert summary.n_reference_rows == summary.n_current_rows > 0


def test_real_report_html_is_a_document(shifted_report):
    # Arrange
    html, _ = shifted_report

    # Assert
    assert isinstance(html, str)
    assert "<html" in html.lower()
    assert SHIFTED in html


def test_a_second_report_on_the_same_rows_is_the_same_document(shifted_report):
    # Arrange: Evidently draws new widget ids for every report
    html, _ = shifted_report

    # Act
    again, _ = run_drift_report(settings=fx.drift(), **_scenario(shift=3.0, labelled=False))

    # Assert: byte for byte, and the ids still link the page's parts
    assert again == html
    assert "00000000-0000-7000-8000-000000000000" in html
    assert 'id="root_metric_00000000000000000000000000000000"' in html


def test_stable_ids_number_each_drawn_id_once_and_keep_fixed_ones():
    # Arrange
    drawn = "01a24e8e-0611-759c-93b0-2523e7950b08"
    fixed = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"  # a version-1 constant of the inlined script
    document = f"metric_{'ab' * 16} {drawn} {drawn} {fixed} metric_{'ab' * 16}"

    # Act
    stable = stable_ids(document)

    # Assert
    zero = "00000000-0000-7000-8000-000000000000"
    assert stable == f"metric_{'0' * 32} {zero} {zero} {fixed} metric_{'0' * 32}"


def test_real_report_samples_and_compares_labels():
    # Arrange
    settings = fx.drift(report_rows=100)
    scenario = _scenario(shift=1.0, labelled=True)

    # Act
    _, summary = run_drift_report(settings=settings, **scenario)

    # Assert: the report shows 100 rows of each side, the verdicts use all of them
    assert summary.report_sample == {"reference_rows": 100, "current_rows": 100, "seed": 42}
    assert summary.n_reference_rows == len(scenario["reference_features"]) > 100
    assert summary.n_current_rows == len(scenario["current_features"]) > 100
    assert summary.target_drift is False
    assert summary.drifted_features == []
    assert summary.retrain_recommended is False


def test_real_report_with_mann_whitney_flags_the_shifted_column():
    # Arrange
    settings = fx.drift(num_method="mannw")
    scenario = _scenario(shift=3.0, labelled=False)

    # Act
    _, summary = run_drift_report(settings=settings, **scenario)

    # Assert
    assert summary.columns[SHIFTED]["drifted"] is True
    assert summary.columns["age"]["drifted"] is False


# --- declared numeric columns are tested as numeric --------------------------------------------


def _sparse_integer_scenario() -> dict[str, Any]:
    """A declared-numeric column with three values; the current batch holds one new value."""
    scenario = _scenario(shift=1.0, labelled=False)
    rng = np.random.default_rng(3)
    for side in ("reference_features", "current_features"):
        frame = scenario[side]
        frame["num_delinquencies"] = rng.integers(0, 3, len(frame)).astype("float64")
    scenario["current_features"].loc[0, "num_delinquencies"] = 3.0
    return scenario


def test_a_sparse_integer_column_declared_numeric_is_tested_as_numeric():
    # Arrange: left to itself, Evidently would test these few values with chi-square, and flag
    from evidently.legacy.calculations.stattests.registry import get_stattest

    scenario = _sparse_integer_scenario()
    reference = scenario["reference_features"]["num_delinquencies"]
    current = scenario["current_features"]["num_delinquencies"]
    default = get_stattest(reference, current, "num", None)
    default_result = default.func(reference, current, "num", 0.05)

    # Act
    _, summary = run_drift_report(settings=fx.drift(), **scenario)

    # Assert
    assert default.name == "chisquare" and bool(default_result[1]) is True
    column = summary.columns["num_delinquencies"]
    assert column["method"] in ("ks", "K-S p_value")  # Evidently's numeric test at this size
    assert column["drifted"] is False
    assert "num_delinquencies" not in summary.drifted_features


def test_a_declared_method_still_wins_over_the_numeric_default():
    # Arrange
    scenario = _sparse_integer_scenario()
    settings = fx.drift(per_column_method={"num_delinquencies": "psi"})

    # Act
    _, summary = run_drift_report(settings=settings, **scenario)

    # Assert
    assert summary.columns["num_delinquencies"]["method"] in ("psi", "PSI")
    assert summary.columns["loan_amount"]["method"] in ("ks", "K-S p_value")


def test_small_references_test_many_level_categoricals_with_tvd_unless_declared():
    # Arrange
    spec = SPEC.model_copy(
        update={"numeric": [], "categories": {"purpose": ["a", "b", "c"], "flag": ["y", "n"]}}
    )

    # Act
    small = column_methods(spec, fx.drift(), 800)
    large = column_methods(spec, fx.drift(), 5000)
    declared = column_methods(spec, fx.drift(cat_method="chisquare"), 800)
    per_column = column_methods(spec, fx.drift(per_column_method={"purpose": "psi"}), 800)

    # Assert: a two-level column keeps Evidently's Z-test; the binary score is numeric
    assert small == {"purpose": "TVD", "prediction": "ks"}
    assert large == {"prediction": "wasserstein"}
    assert declared == {"prediction": "ks"}
    assert per_column == {"purpose": "psi", "prediction": "ks"}


def test_column_methods_follow_the_reference_size_and_a_global_numeric_method():
    # Arrange
    spec = SPEC.model_copy(update={"numeric": ["a", "b"]})

    # Act
    small = column_methods(spec, fx.drift(), 800)
    large = column_methods(spec, fx.drift(per_column_method={"b": "psi"}), 5000)
    declared = column_methods(spec, fx.drift(num_method="psi"), 5000)

    # Assert
    assert small == {"a": "ks", "b": "ks", "prediction": "ks"}
    assert large == {"a": "wasserstein", "b": "psi", "prediction": "wasserstein"}
    assert declared == {}

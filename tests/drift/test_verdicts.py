"""The verdicts computed on all rows equal those of Evidently's own preset on the same frames, and
the HTML report states the sample it shows."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cirrus.drift.report import (
    _data_definition,
    _preset,
    column_methods,
    column_verdict,
    column_verdicts,
    drift_frame,
    drift_table,
    run_drift_report,
)
from cirrus.feature_spec import OTHER_LEVEL, UNKNOWN_LEVEL, FeatureSpec
from cirrus.parameters import DriftParams
from cirrus.results import DriftSummary
from tests import unit_fixtures as fx
from tests.drift.test_report import _scenario

drift_params = fx.drift_params

NUMERIC = ["income", "amount", "dependants"]
LEVELS = {"purpose": ["car", "home", "study", "travel"], "channel": ["web", "branch"]}
TARGET = "defaulted"
SMALL, LARGE = (600, 400), (5000, 2000)  # reference rows <= 1000: ks; above: wasserstein


def _spec() -> FeatureSpec:
    """A binary task's spec: three numeric features and two categorical ones."""
    spec = fx.minimal_spec("binary", ["0", "1"], TARGET, NUMERIC)
    return spec.model_copy(
        update={
            "categories": LEVELS,
            "rare_levels": {column: [] for column in LEVELS},
            "drift_columns": [*NUMERIC, *LEVELS],
        }
    )


def _categorical(rng: np.random.Generator, column: str, n: int, moved: float) -> pd.Categorical:
    """Levels of a column as the features encode them; `moved` of the mass goes to level 0."""
    levels = LEVELS[column]
    weights = np.linspace(2.0, 1.0, len(levels))
    values = rng.choice(levels, size=n, p=weights / weights.sum())
    values[rng.random(n) < moved] = levels[0]
    return pd.Categorical(values, categories=[*levels, OTHER_LEVEL, UNKNOWN_LEVEL])


def _batch(n: int, seed: int, shift: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Feature rows and their predictions; `shift` moves the numerics or categorical mass."""
    rng = np.random.default_rng(seed)
    numeric_shift = shift == "numerics"
    features = pd.DataFrame(
        {
            "income": rng.normal(50.0, 10.0, n) + (5.0 if numeric_shift else 0.0),
            "amount": rng.lognormal(2.0, 0.5, n) * (1.3 if numeric_shift else 1.0),
            "dependants": rng.integers(0, 3, n).astype("float64"),  # a sparse integer
            "purpose": _categorical(rng, "purpose", n, 0.3 if shift == "categories" else 0.0),
            "channel": _categorical(rng, "channel", n, 0.0),
        }
    )
    logit = (features["income"] - 50.0) / 10.0 + (features["purpose"] == "car") - 0.5
    score = 1.0 / (1.0 + np.exp(-logit.to_numpy()))
    features[TARGET] = (rng.random(n) < score).astype("float64")
    predictions = pd.DataFrame({"score": score, "prediction": (score >= 0.5).astype("float64")})
    return features, predictions


def _tables(sizes: tuple[int, int], shift: str) -> dict[str, Any]:
    """Reference rows and a current batch (shifted as named), as drift tables and frames."""
    spec = _spec()
    (ref_features, ref_predictions), (cur_features, cur_predictions) = (
        _batch(sizes[0], 1, "none"),
        _batch(sizes[1], 4, shift),
    )
    return {
        "spec": spec,
        "tables": (
            drift_table(ref_features, ref_predictions, spec, with_target=True),
            drift_table(cur_features, cur_predictions, spec, with_target=True),
        ),
        "frames": (
            drift_frame(ref_features, ref_predictions, spec, with_target=True),
            drift_frame(cur_features, cur_predictions, spec, with_target=True),
        ),
    }


def _preset_verdicts(
    frames: tuple[pd.DataFrame, pd.DataFrame], spec: FeatureSpec, settings: DriftParams
) -> dict[str, dict[str, Any]]:
    """Evidently's DataDriftPreset run on the frames, as the report node used to run it."""
    from evidently import Dataset, Report

    reference, current = frames
    definition = _data_definition(reference, spec)
    preset = _preset(settings, column_methods(spec, settings, len(reference)))
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report([preset], include_tests=True).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
    result = snapshot.dict()
    failed = {
        test["metric_config"]["params"]["column"]: getattr(test["status"], "value", test["status"])
        == "FAIL"
        for test in result["tests"]
        if "column" in test["metric_config"]["params"]
    }
    return {
        metric["config"]["column"]: {
            "method": metric["config"]["method"],
            "score": float(metric["value"]),
            "threshold": float(metric["config"]["threshold"]),
            "drifted": failed[metric["config"]["column"]],
        }
        for metric in result["metrics"]
        if metric["config"]["type"].endswith("ValueDrift")
    }


def _assert_same_verdicts(ours: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]]):
    """Same columns in the same order, same methods, thresholds and verdicts, scores to 1e-6."""
    assert list(ours) == list(theirs)
    for column, verdict in theirs.items():
        mine = ours[column]
        assert mine["method"] == verdict["method"], column
        assert mine["threshold"] == verdict["threshold"], column
        assert mine["drifted"] is verdict["drifted"], column
        assert mine["score"] == pytest.approx(verdict["score"], rel=1e-6, abs=1e-12), column


# --- the verdicts equal the preset's ----------------------------------------------------------


@pytest.mark.parametrize("shift", ["none", "numerics", "categories"])
@pytest.mark.parametrize("sizes", [SMALL, LARGE], ids=["small-ks", "large-wasserstein"])
def test_verdicts_on_all_rows_equal_the_presets(sizes: tuple[int, int], shift: str):
    # Arrange
    case, settings = _tables(sizes, shift), fx.drift()

    # Act
    ours = column_verdicts(*case["tables"], case["spec"], settings)

    # Assert
    theirs = _preset_verdicts(case["frames"], case["spec"], settings)
    _assert_same_verdicts(ours, theirs)
    assert set(ours) == {*NUMERIC, *LEVELS, "prediction", "target"}
    numeric_test = "ks" if sizes == SMALL else "wasserstein"
    assert {ours[c]["method"] for c in NUMERIC} == {numeric_test}
    drifted = {column for column, verdict in ours.items() if verdict["drifted"]}
    if shift == "numerics":
        assert {"income", "amount", "prediction"} <= drifted
    if shift == "categories":
        assert "purpose" in drifted
        assert not drifted & {*NUMERIC, "channel"}
    if shift == "none":
        assert not drifted & {*NUMERIC, *LEVELS}


def test_random_splits_of_a_small_many_level_column_are_rarely_flagged():
    # Arrange: ten tables of 8 equally likely levels, each split at random into 40 and 50 rows
    levels = [f"level_{i}" for i in range(8)]
    spec = _spec().model_copy(update={"numeric": [], "categories": {"purpose": levels}})
    splits = []
    for seed in range(10):
        values = np.random.default_rng(seed).choice(levels, 90)
        splits.append(
            tuple(
                pd.DataFrame({"purpose": pd.Categorical(part, categories=levels)})
                for part in (values[:40], values[40:])
            )
        )

    # Act
    ours = [column_verdicts(*split, spec, fx.drift())["purpose"] for split in splits]
    chi_square = [
        column_verdicts(*split, spec, fx.drift(cat_method="chisquare"))["purpose"]
        for split in splits
    ]

    # Assert: a 5% test flags about 1 in 20 such splits; chi-square, taking the reference's
    # 40-row proportions as exact, flags most of them
    assert {verdict["method"] for verdict in ours} == {"TVD"}
    assert sum(verdict["drifted"] for verdict in ours) <= 2
    assert sum(verdict["drifted"] for verdict in chi_square) >= 5


def test_small_references_get_evidentlys_small_sample_tests():
    # Arrange: a binary categorical and the two-class target get Evidently's Z-test; a
    # many-level categorical its two-sample permutation test (TVD) instead of chi-square
    case = _tables(SMALL, "categories")

    # Act
    ours = column_verdicts(*case["tables"], case["spec"], fx.drift())

    # Assert
    assert ours["channel"]["method"] == ours["target"]["method"] == "Z-test p_value"
    assert ours["purpose"]["method"] == "TVD"
    assert ours["purpose"]["drifted"] is True  # its mass moved in this case
    assert ours["prediction"]["method"] == "ks"  # numeric, as declared outputs are


@pytest.mark.parametrize(
    "overrides",
    [
        {"num_method": "mannw", "cat_method": "chisquare", "cat_threshold": 0.01},
        {
            "per_column_method": {"amount": "psi", "purpose": "TVD", "target": "hellinger"},
            "per_column_threshold": {"income": 0.2, "amount": 0.05},
        },
    ],
    ids=["num-and-cat-methods", "per-column"],
)
def test_declared_methods_and_thresholds_give_the_presets_verdicts(overrides: dict[str, Any]):
    # Arrange
    case, settings = _tables(SMALL, "numerics"), fx.drift(**overrides)

    # Act
    ours = column_verdicts(*case["tables"], case["spec"], settings)

    # Assert
    _assert_same_verdicts(ours, _preset_verdicts(case["frames"], case["spec"], settings))


def test_threads_do_not_change_the_verdicts():
    # Arrange
    case = _tables(LARGE, "numerics")

    # Act
    one = column_verdicts(*case["tables"], case["spec"], fx.drift(), workers=1)
    two = column_verdicts(*case["tables"], case["spec"], fx.drift(), workers=2)

    # Assert
    assert one == two


def _categorical_tests() -> list[str]:
    """Every stat test Evidently registers for categorical columns."""
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests
    from evidently.legacy.core import ColumnType

    return sorted(
        name
        for name, by_type in _registered_stat_tests.items()
        if ColumnType.Categorical in by_type
    )


def _outcome(reference: pd.Series, current: pd.Series, method: str) -> tuple[Any, ...]:
    """A categorical column's test result, or the error the test raises on these values."""
    from evidently.legacy.core import ColumnType

    try:
        name, verdict = column_verdict(reference, current, ColumnType.Categorical, method, None)
    except ValueError as error:  # fisher_exact wants two levels, g_test equal-sized sides
        return ("refused", str(error))
    return (name, verdict["method"], verdict["drifted"], pytest.approx(verdict["score"]))


@pytest.mark.parametrize("sizes", [(300, 200), (250, 250)])  # fisher_exact, g_test: equal
@pytest.mark.parametrize("column", ["purpose", "channel"])
@pytest.mark.parametrize("method", _categorical_tests())
def test_every_categorical_test_scores_categories_as_their_texts(
    method: str, column: str, sizes: tuple[int, int]
):
    # Arrange: the table holds pandas categoricals (with unused categories), the frame texts
    case = _tables(sizes, "categories")
    (ref_table, cur_table), (ref_frame, cur_frame) = case["tables"], case["frames"]

    # Act
    categories = _outcome(ref_table[column], cur_table[column], method)
    texts = _outcome(ref_frame[column], cur_frame[column], method)

    # Assert
    assert ref_table[column].dtype == "category" and ref_frame[column].dtype == object
    assert categories == texts


def test_drift_table_holds_the_frames_values():
    # Arrange
    case = _tables(SMALL, "none")

    # Act
    (table, _), (frame, _) = case["tables"], case["frames"]

    # Assert
    assert (table["purpose"].dtype, table["target"].dtype) == ("category", "category")
    pd.testing.assert_frame_equal(table.astype(frame.dtypes.to_dict()), frame)


# --- the report shows a sample; the summary does not depend on it ------------------------------


@pytest.fixture(scope="module")
def sampled_and_full() -> dict[str | None, tuple[str, DriftSummary]]:
    """One labelled, shifted scenario reported with a 150-row sample and with all rows."""
    scenario = _scenario(shift=3.0, labelled=True)
    return {
        rows: run_drift_report(settings=fx.drift(report_rows=rows, seed=11), **scenario)
        for rows in (150, None)
    }


def test_the_report_states_its_sample_and_where_the_verdicts_come_from(sampled_and_full):
    # Arrange
    html, summary = sampled_and_full[150]
    n_reference, n_current = summary.n_reference_rows, summary.n_current_rows

    # Assert
    text = re.sub(r"\s+", " ", html)
    assert (
        f"a sample of 150 of {n_reference:,} reference rows and 150 of {n_current:,} current rows"
        f" (seed 11" in text
    )
    assert "The verdicts in drift_summary.json come from all rows" in text
    assert text.index("cirrus-drift-sample") < text.index("root_metric")  # above the report
    assert "verdict on all rows" in text
    assert summary.report_sample == {"reference_rows": 150, "current_rows": 150, "seed": 11}


def test_a_report_of_all_rows_says_so(sampled_and_full):
    # Arrange
    html, summary = sampled_and_full[None]

    # Assert
    assert "This report shows all rows" in html
    assert summary.report_sample == {
        "reference_rows": summary.n_reference_rows,
        "current_rows": summary.n_current_rows,
        "seed": 11,
    }


def test_the_summarys_numbers_do_not_depend_on_the_sample(sampled_and_full):
    # Arrange
    (_, sampled), (_, full) = sampled_and_full[150], sampled_and_full[None]

    # Assert
    sampled, full = sampled.model_dump(), full.model_dump()
    assert sampled.pop("report_sample") != full.pop("report_sample")
    assert sampled == full
    assert sampled["columns"]["loan_amount"]["drifted"] is True


# --- the former max_rows setting --------------------------------------------------------------


def test_a_parameter_file_with_the_former_max_rows_caps_the_report(drift_params):
    # Arrange
    drift_params.pop("report_rows")
    drift_params["max_rows"] = 5000

    # Act
    with pytest.warns(FutureWarning, match="now 'drift.report_rows'"):
        settings = DriftParams.parse(drift_params)

    # Assert
    assert settings.report_rows == 5000


def test_long_verdicts_report_the_columns_tested(monkeypatch, caplog):
    # Arrange: every column counts as long work
    monkeypatch.setattr("cirrus.progress.PROGRESS_SECONDS", 0)
    case = _tables(SMALL, "none")

    # Act
    with caplog.at_level("INFO", logger="cirrus.drift.report"):
        ours = column_verdicts(*case["tables"], case["spec"], fx.drift(), workers=2)

    # Assert
    progress = [r.message for r in caplog.records if r.message.startswith("Drift columns")]
    assert len(progress) == len(ours)
    assert f"Drift columns tested: {len(ours)} of {len(ours)}" in progress


def test_a_binary_score_with_few_distinct_values_is_tested_as_numeric():
    # Arrange: a tiny hold-out whose scores take four values (a model of few leaves)
    spec = _spec().model_copy(update={"numeric": [], "categories": {}})
    scores = [0.1, 0.2, 0.6, 0.8]
    reference = pd.DataFrame({"prediction": np.tile(scores, 4)})
    current = pd.DataFrame({"prediction": np.tile(scores[::-1], 5)})

    # Act
    ours = column_verdicts(reference, current, spec, fx.drift())

    # Assert
    assert ours["prediction"]["method"] == "ks"
    assert ours["prediction"]["drifted"] is False

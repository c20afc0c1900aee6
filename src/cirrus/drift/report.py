"""The drift report: per-column verdicts from Evidently's stat tests on all rows, its HTML report
on a seeded sample of them, and a summary with a retrain recommendation.

`run_drift_report` is a node of both the drift pipeline (the file-based current batch) and the
monitoring pipeline (the logged batch)."""

from __future__ import annotations

import html
import logging
import math
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from cirrus.dask.dispatch import on_dask
from cirrus.drift.alarms import column_alarms, missing_value_shifts, out_of_range_counts
from cirrus.drift.remembered_tests import remembered
from cirrus.drift.verdict import TARGET, verdict_in_words
from cirrus.feature_spec import FeatureSpec
from cirrus.modeling import PREDICTION
from cirrus.parameters import DriftParams
from cirrus.progress import Counter, Throttled
from cirrus.results import DriftSummary

TARGET_COLUMN = TARGET

logger = logging.getLogger(__name__)


def _prediction_column(predictions: pd.DataFrame, spec: FeatureSpec) -> pd.Series:
    """The model output that drift is measured on: score, predicted class or value."""
    if spec.task == "binary":
        return predictions["score"]
    if spec.task == "multiclass":
        names = pd.Series([str(c) for c in spec.class_names()])
        return names.iloc[predictions[PREDICTION].astype(int)].reset_index(drop=True)
    return predictions[PREDICTION]


def _target_column(features: pd.DataFrame, spec: FeatureSpec) -> pd.Series:
    """The known outcome, as class names for classification."""
    values = features[spec.target].reset_index(drop=True)
    if spec.classes is None:
        return values
    names = {float(i): str(c) for i, c in enumerate(spec.classes)}
    return values.map(names)


def _text_categories(values: pd.Series) -> pd.Series:
    """A column's values as `astype(str)` spells them, as a pandas categorical; missing values
    stay missing (a level "nan" the reference lacks would be tested as drift)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        missing = np.asarray(values.isna())
        return values.astype(str).astype(object).where(~missing).astype("category")
    # Spelling the few categories instead of every row gives the same texts in a fraction of the
    # time; factorize merges categories that spell alike. Code -1 (missing) stays -1.
    texts = np.array(list(map(str, values.cat.categories)), dtype=object)
    recode, levels = pd.factorize(texts)
    codes = np.asarray(values.cat.codes)
    codes = np.where(codes >= 0, recode[np.maximum(codes, 0)], -1)
    return pd.Series(pd.Categorical.from_codes(codes, categories=levels), name=values.name)


def drift_table(
    features: pd.DataFrame, predictions: pd.DataFrame, spec: FeatureSpec, with_target: bool
) -> pd.DataFrame:
    """`drift_frame` with its categorical columns as pandas categoricals (same values).

    Evidently's stat tests count values; on category codes that takes milliseconds where texts
    take a second per million rows, and the table takes a fraction of the memory.
    """
    columns = {c: features[c].reset_index(drop=True) for c in spec.drift_columns}
    for column in spec.categories:
        columns[column] = _text_categories(columns[column])
    # Class names as the categories of both sides, so their concatenation stays categorical.
    classes = pd.CategoricalDtype(list(dict.fromkeys(str(c) for c in spec.class_names())))
    prediction = _prediction_column(predictions.reset_index(drop=True), spec)
    columns[PREDICTION] = prediction.astype(classes) if spec.task == "multiclass" else prediction
    if with_target:
        target = _target_column(features, spec)
        columns[TARGET_COLUMN] = target.astype(classes) if spec.classes is not None else target
    # `.array` keeps categoricals and, like the rows' positions, ignores the inputs' indexes.
    return pd.DataFrame({name: values.array for name, values in columns.items()})


def as_texts(table: pd.DataFrame) -> pd.DataFrame:
    """A drift table with its categorical columns as object texts, as Evidently's report reads."""
    categorical = [c for c in table if isinstance(table[c].dtype, pd.CategoricalDtype)]
    return table.astype(dict.fromkeys(categorical, object))


def drift_frame(
    features: pd.DataFrame, predictions: pd.DataFrame, spec: FeatureSpec, with_target: bool
) -> pd.DataFrame:
    """Contract feature columns plus the prediction (and the target when labelled)."""
    return as_texts(drift_table(features, predictions, spec, with_target))


# Evidently is imported inside the functions that use it: importing it takes seconds, and every
# `kedro run` imports all registered pipelines, including runs that never compute drift.


def _data_definition(frame: pd.DataFrame, spec: FeatureSpec) -> Any:
    """Evidently column mapping derived from the feature spec."""
    from evidently import DataDefinition

    outputs = [c for c in (PREDICTION, TARGET_COLUMN) if c in frame]
    numeric_outputs = [c for c in outputs if c in numeric_output_columns(spec)]
    numeric = [c for c in spec.numeric if c in frame] + numeric_outputs
    categorical = [c for c in spec.categories if c in frame]
    categorical += [c for c in outputs if c not in numeric_outputs]
    return DataDefinition(numerical_columns=numeric, categorical_columns=categorical)


def numeric_output_columns(spec: FeatureSpec) -> list[str]:
    """Model output columns of the drift tables that are numbers: scores, values, targets."""
    if spec.task == "regression":
        return [PREDICTION, TARGET_COLUMN]
    return [PREDICTION] if spec.task == "binary" else []


# Evidently's own boundary between small and large references (its numeric choice flips there).
SMALL_REFERENCE_ROWS = 1000
# Evidently's two-sample categorical test by permutation; valid on few rows of many levels.
SMALL_CATEGORICAL_METHOD = "TVD"


def numeric_method_for(n_reference_rows: int) -> str:
    """Evidently's own choice for a numeric column with many values, by reference size."""
    return "ks" if n_reference_rows <= SMALL_REFERENCE_ROWS else "wasserstein"


def many_level_categoricals(spec: FeatureSpec) -> list[str]:
    """Drift columns tested as categorical with more than two levels (features and outputs)."""
    columns = [column for column, levels in spec.categories.items() if len(levels) > 2]
    if spec.task == "multiclass":
        columns += [PREDICTION, TARGET_COLUMN]
    return columns


def column_methods(spec: FeatureSpec, settings: DriftParams, n_reference_rows: int) -> dict:
    """Per-column methods: declared-numeric features and numeric outputs (a binary score, a
    regression's values) are tested as numeric, and on a small reference a categorical column
    of more than two levels gets a two-sample test.

    Left to itself, Evidently tests a numeric column with five values or fewer (a sparse integer)
    with chi-square or Jensen-Shannon, which flags drift as soon as the current batch holds one
    value the reference lacks (and then refuses a numeric column: a 16-row hold-out's scores
    can take five values). On up to 1,000 reference rows it tests a many-level categorical
    with chi-square against the reference's proportions as if they were exact: on a random split
    of 23 and 30 rows of 8 levels that flagged 69 of 100 splits (TVD: 10), of 200 and 250 rows
    55 (TVD: 7). A declared `num_method`, `cat_method` or `per_column_method` still wins.
    """
    methods: dict[str, str] = {}
    if not settings.cat_method and n_reference_rows <= SMALL_REFERENCE_ROWS:
        methods |= dict.fromkeys(many_level_categoricals(spec), SMALL_CATEGORICAL_METHOD)
    if not settings.num_method:
        numeric = [*spec.numeric, *numeric_output_columns(spec)]
        methods |= dict.fromkeys(numeric, numeric_method_for(n_reference_rows))
    return {**methods, **settings.per_column_method}


def _preset(settings: DriftParams, per_column_method: dict[str, str]) -> Any:
    """Evidently's drift preset configured from YAML."""
    from evidently.presets import DataDriftPreset

    return DataDriftPreset(
        drift_share=settings.drift_share,
        num_method=settings.num_method,
        cat_method=settings.cat_method,
        num_threshold=settings.num_threshold,
        cat_threshold=settings.cat_threshold,
        per_column_method=per_column_method or None,
        per_column_threshold=settings.per_column_threshold or None,
    )


# Evidently's distance methods flag drift when the score reaches the threshold; every other
# method returns a p-value and flags drift when it falls below (see each stat test's source).
DISTANCE_METHODS = frozenset(
    {
        "wasserstein",
        "jensenshannon",
        "kl_div",
        "psi",
        "hellinger",
        "ed",
        "perc_text_content_drift",
        "abs_text_content_drift",
    }
)


def _is_distance(method: str) -> bool:
    """Whether a drift method (by key or display name) is a distance rather than a p-value."""
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests

    display_names = {
        test.display_name
        for key in DISTANCE_METHODS
        for test in _registered_stat_tests.get(key, {}).values()
    }
    return method in DISTANCE_METHODS or method in display_names


def column_results(snapshot_dict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-column method, score, threshold and verdict read from a preset's Evidently snapshot."""
    results = {}
    for metric in snapshot_dict["metrics"]:
        config = metric["config"]
        if not config["type"].endswith("ValueDrift"):
            continue
        score, threshold = float(metric["value"]), float(config["threshold"])
        distance = _is_distance(config["method"])
        results[config["column"]] = {
            "method": config["method"],
            "score": score,
            "threshold": threshold,
            "drifted": score >= threshold if distance else score < threshold,
        }
    return results


# --- verdicts on all rows ---------------------------------------------------------------------

# Stat tests that draw from numpy's global random generator (TVD reseeds it for a permutation
# test, empirical_mmd permutes): they run one at a time in the calling thread, as in the preset.
GLOBAL_RANDOM_METHODS = frozenset({"TVD", "empirical_mmd"})


def value_drift_metrics(preset: Any, definition: Any) -> list[Any]:
    """The preset's ValueDrift metrics: every column with the method and threshold it resolved."""
    from evidently.metrics import ValueDrift

    # generate_metrics reads nothing of its context but the data definition: calling it yields
    # the preset's own choice per column rather than a copy of its rules.
    metrics = preset.generate_metrics(SimpleNamespace(data_definition=definition))
    return [metric for metric in metrics if isinstance(metric, ValueDrift)]


def _tested_values(values: pd.Series) -> pd.Series:
    """A column's values as Evidently tests them: infinities and missing values dropped."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.replace([-np.inf, np.inf], np.nan).dropna()
    # Texts and categories hold no infinities; replace() would only cost a pass over them.
    return values.dropna()


def _observed_categories(reference: pd.Series, current: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Two categorical sides with only the categories either holds; other columns unchanged.

    Some tests build their counts from `value_counts()`, which lists every category: unused ones
    would add zero counts that the same values as texts never have.
    """
    if not all(isinstance(side.dtype, pd.CategoricalDtype) for side in (reference, current)):
        return reference, current
    categories = reference.cat.categories
    if not categories.equals(current.cat.categories):
        return reference.astype(object), current.astype(object)
    held = np.zeros(len(categories), dtype=bool)
    for side in (reference, current):
        held[np.unique(side.cat.codes)] = True  # missing values (code -1) are dropped already
    used = categories[held]
    return reference.cat.set_categories(used), current.cat.set_categories(used)


# The two-sample tests that give a distance method's column its p-value (Evidently's distances
# are effect sizes, not tests): Kolmogorov-Smirnov for numbers, Pearson's chi-square test of
# homogeneity (a contingency table of both sides' counts) for categories.
COMPANION_NUMERIC_TEST = "ks_2samp"
COMPANION_CATEGORICAL_TEST = "chi2_contingency"


def _level_counts(reference: pd.Series, current: pd.Series) -> np.ndarray:
    """A 2 x levels table of both sides' counts over the levels either side holds."""
    # Categoricals count their codes (fast); other values count as they are.
    counts = pd.concat([reference.value_counts(), current.value_counts()], axis=1).fillna(0)
    table = counts.to_numpy(dtype="float64").T
    return table[:, table.sum(axis=0) > 0]  # a level neither side holds has no expected count


def companion_p_value(reference: pd.Series, current: pd.Series) -> tuple[str, float]:
    """A two-sample test's name and p-value for two sides' non-missing values."""
    from scipy import stats

    numeric = all(
        pd.api.types.is_numeric_dtype(side.dtype)
        and not isinstance(side.dtype, pd.CategoricalDtype)
        for side in (reference, current)
    )
    if numeric:
        return COMPANION_NUMERIC_TEST, float(stats.ks_2samp(reference, current).pvalue)
    table = _level_counts(reference, current)
    if table.shape[1] < 2:  # one level on both sides: nothing differs
        return COMPANION_CATEGORICAL_TEST, 1.0
    return COMPANION_CATEGORICAL_TEST, float(stats.chi2_contingency(table).pvalue)


def column_verdict(
    reference: pd.Series,
    current: pd.Series,
    column_type: Any,
    method: str | None,
    threshold: float | None,
) -> tuple[str, dict[str, Any]]:
    """Evidently's stat test of one column: the test's name and the column's verdict record."""
    from evidently.legacy.calculations.stattests import get_stattest

    sides = {"reference": _tested_values(reference), "current": _tested_values(current)}
    for side, values in sides.items():
        if values.empty:
            raise ValueError(f"Column '{reference.name}' has no values to test in the {side} rows")
    ref, cur = _observed_categories(sides["reference"], sides["current"])
    test = get_stattest(ref, cur, column_type, method)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = test(ref, cur, column_type, threshold)
        if test.name in DISTANCE_METHODS:
            p_test, p_value = companion_p_value(ref, cur)
        else:
            p_test, p_value = test.name, float(result.drift_score)
    return test.name, {
        # Labelled as the preset labels it: the declared method, else the test's display name.
        "method": method if method is not None else test.display_name,
        "score": float(result.drift_score),
        "threshold": float(result.actual_threshold),
        "drifted": bool(result.drifted),
        "p_value": p_value,
        "p_value_test": p_test,
    }


def empty_side(reference: pd.Series, current: pd.Series) -> str | None:
    """The side ("reference" or "current") of a column with no values to test, if any."""
    for side, values in (("reference", reference), ("current", current)):
        if _tested_values(values).empty:
            return side
    return None


def untested_verdict(side: str) -> dict[str, Any]:
    """The record of a column with no values on one side: no test, no drift, no p-value (its
    missing-value shift says what happened)."""
    return {
        "method": "not tested",
        "score": None,
        "threshold": None,
        "drifted": False,
        "p_value": None,
        "p_value_test": None,
        "not_tested": f"no values in the {side} rows",
    }


def _available_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _thread_map(function: Any, items: list[Any], workers: int) -> list[Any]:
    """`map` over a thread pool of `workers` threads (none for one)."""
    if workers <= 1:
        return list(map(function, items))
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(function, items))


def _tested_columns(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    definition: Any,
    preset: Any,
    workers: int | None = None,
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every column's stat test and verdict on all rows, in the preset's column order."""
    metrics = value_drift_metrics(preset, definition)
    progress = Counter(len(metrics), "Drift columns tested", Throttled(logger.info))

    def run(metric: Any) -> tuple[str, dict[str, Any]]:
        column = metric.column
        side = empty_side(reference[column], current[column])
        if side is not None:  # Evidently refuses an empty column; missing values say it all
            progress.step()
            return "", untested_verdict(side)
        kind = definition.get_column_type(column)
        verdict = column_verdict(
            reference[column], current[column], kind, metric.method, metric.threshold
        )
        progress.step()
        return verdict

    threaded = [m for m in metrics if m.method not in GLOBAL_RANDOM_METHODS]
    alone = [m for m in metrics if m.method in GLOBAL_RANDOM_METHODS]
    # The tests spend their time in numpy's and scipy's sorts and counts, which release the GIL,
    # so threads share the columns across cores without copying them into other processes.
    n_threads = workers or min(len(threaded), _available_cores())
    with warnings.catch_warnings():
        # scipy's divide-by-zero warnings on constant or empty bins say nothing the verdicts don't.
        warnings.simplefilter("ignore", RuntimeWarning)
        results = _thread_map(run, threaded, n_threads) + [run(m) for m in alone]
    by_column = dict(zip([m.column for m in threaded + alone], results, strict=True))
    return {m.column: by_column[m.column] for m in metrics}


def column_verdicts(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: FeatureSpec,
    settings: DriftParams,
    workers: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Per-column method, score, threshold and verdict of two drift tables, on all their rows.

    Each column gets the stat test and threshold Evidently's preset would give it with these
    settings and these rows, computed by Evidently's own test function.
    """
    definition = _data_definition(reference, spec)
    preset = _preset(settings, column_methods(spec, settings, len(reference)))
    tested = _tested_columns(reference, current, definition, preset, workers)
    return {column: verdict for column, (_, verdict) in tested.items()}


# --- the report, on a sample ------------------------------------------------------------------


def _sample(frame: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """Cap a frame's rows for speed, reproducibly."""
    if max_rows is None or len(frame) <= max_rows:
        return frame
    return frame.sample(n=max_rows, random_state=seed).reset_index(drop=True)


# The ids Evidently draws anew for every report: a time-ordered UUID (version 7) per widget and
# a random `metric_<hex>` per page. They only link the page's own parts to each other.
_DRAWN_IDS = re.compile(
    r"metric_[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)


def stable_ids(document: str) -> str:
    """The document with each drawn id replaced by one numbered, per kind, in order of first
    appearance: the same data gives the same bytes (and `dvc.lock` the same checksum)."""
    renamed: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        drawn = match.group(0)
        if drawn not in renamed:
            page = drawn.startswith("metric_")
            number = sum(name.startswith("metric_") == page for name in renamed)
            renamed[drawn] = (
                f"metric_{number:032x}" if page else f"00000000-0000-7000-8000-{number:012x}"
            )
        return renamed[drawn]

    return _DRAWN_IDS.sub(rename, document)


def _report_html(
    reference: pd.DataFrame, current: pd.DataFrame, definition: Any, preset: Any
) -> str:
    """Evidently's drift report of two drift tables, as a standalone HTML document."""
    from evidently import Dataset, Report

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report([preset]).run(
            Dataset.from_pandas(as_texts(current), data_definition=definition),
            Dataset.from_pandas(as_texts(reference), data_definition=definition),
        )
    return stable_ids(snapshot.get_html_str(as_iframe=False))


def sample_sentence(shown: tuple[int, int], total: tuple[int, int], seed: int) -> str:
    """Which rows the report shows (reference, current), and where the verdicts come from."""
    if shown == total:
        return (
            f"This report shows all rows: {total[0]:,} reference and {total[1]:,} current rows. "
            "The verdicts in drift_summary.json come from the same rows."
        )
    return (
        f"This report shows a sample of {shown[0]:,} of {total[0]:,} reference rows and "
        f"{shown[1]:,} of {total[1]:,} current rows (seed {seed}, drift.report_rows); its "
        "charts and flags are the sample's. The verdicts in drift_summary.json come from all "
        "rows:"
    )


def report_note(
    columns: dict[str, dict[str, Any]],
    shown: tuple[int, int],
    total: tuple[int, int],
    seed: int,
    verdict: str,
) -> str:
    """An HTML note for the top of the report: the verdict in words, the rows shown and the
    verdict of each column on all rows."""
    sentence = (
        f'<p id="cirrus-drift-verdict" style="font-size:1.25em"><b>Verdict:</b> '
        f"{html.escape(verdict)}</p>"
        "<p>This is the verdict of drift_summary.json, the run summary and the model card. "
        "Evidently's own headline below (<i>Dataset Drift is detected</i> or <i>NOT "
        "detected</i>) counts a column as drifted by its own test alone, without the "
        "correction for the number of columns tested, and on the rows this report shows.</p>"
        f"<p>{html.escape(sample_sentence(shown, total, seed))}</p>"
    )
    cells = "".join(
        f"<tr><td>{html.escape(str(column))}</td><td>{html.escape(str(v['method']))}</td>"
        f"<td>{_shown(v['score'])}</td><td>{_shown(v['threshold'])}</td>"
        f"<td>{'drift' if v['drifted'] else 'no drift'}</td>"
        f"<td>{_shown(v['p_value'])}</td><td>{_shown(v['adjusted_p_value'])}</td>"
        f"<td>{'ALARM' if v['alarm'] else '-'}</td><td>{_missing_cell(v)}</td></tr>"
        for column, v in columns.items()
    )
    table = (
        "<p>Evidently's report below flags each column by its own test; the alarms (and the "
        "retraining recommendation of drift_summary.json) also need the column's p-value, "
        "corrected for the number of columns tested, to be at most the declared error rate "
        "(drift.alarm). Missing values are left out of every test and compared on their own."
        "</p>"
        '<table style="border-collapse:collapse;text-align:left" cellpadding="4"><thead><tr>'
        "<th>column</th><th>method</th><th>score</th><th>threshold</th>"
        "<th>verdict on all rows</th><th>p-value</th><th>corrected p-value</th><th>alarm</th>"
        f"<th>missing (reference / current)</th></tr></thead><tbody>{cells}</tbody></table>"
    )
    return (
        '<div id="cirrus-drift-sample" style="font-family:sans-serif;margin:16px;padding:12px;'
        f'border:1px solid #c9c9c9;background:#fafafa">{sentence}{table}</div>'
    )


def _shown(value: float | None) -> str:
    """A number of the note's table, to four significant digits ("-": none)."""
    return "-" if value is None else f"{value:.4g}"


def _missing_cell(verdict: dict[str, Any]) -> str:
    """A column's missing shares for the note's table, marked when they shifted."""
    missing = verdict.get("missing")
    if missing is None:
        return ""
    shares = f"{missing['reference_share']:.1%} / {missing['current_share']:.1%}"
    return f"{shares} (shift)" if missing["shift"] else shares


def _with_note(document: str, note: str) -> str:
    """An HTML document with a note at the top of its body."""
    head, body, rest = document.partition("<body>")
    return f"{head}{body}\n{note}{rest}" if body else note + document


def drift_tables(
    reference_features: pd.DataFrame,
    reference_predictions: pd.DataFrame,
    current_features: pd.DataFrame,
    current_predictions: pd.DataFrame,
    spec: FeatureSpec,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both sides' drift tables, with the target when the current batch holds outcomes."""
    labelled = bool(current_features[spec.target].notna().any())
    return (
        drift_table(reference_features, reference_predictions, spec, labelled),
        drift_table(current_features, current_predictions, spec, labelled),
    )


def summarise_tables(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: dict[str, dict[str, Any]],
    spec: FeatureSpec,
    settings: DriftParams,
    unseen_categories: dict[str, Any],
) -> dict[str, Any]:
    """The summary of two drift tables' column verdicts, with their missing-value shifts and the
    current values outside the reference range."""
    features = [column for column in spec.drift_columns if column in reference]
    missing = missing_value_shifts(reference, current, features, settings.alarm)
    numeric = [column for column in spec.numeric if column in features]
    ranges = out_of_range_counts(reference, current, numeric)
    return summarise_drift(columns, spec, settings, unseen_categories, missing, ranges)


def drift_verdicts(
    reference_features: pd.DataFrame,
    reference_predictions: pd.DataFrame,
    current_features: pd.DataFrame,
    current_predictions: pd.DataFrame,
    spec: FeatureSpec,
    settings: DriftParams,
    unseen_categories: dict[str, Any],
) -> DriftSummary:
    """The summary `run_drift_report` writes, without its HTML report (same verdicts)."""
    reference, current = drift_tables(
        reference_features, reference_predictions, current_features, current_predictions, spec
    )
    columns = column_verdicts(reference, current, spec, settings)
    summary = summarise_tables(reference, current, columns, spec, settings, unseen_categories)
    counts = {"n_reference_rows": len(reference), "n_current_rows": len(current)}
    return DriftSummary.model_validate({**summary, **counts})


@on_dask("cirrus.dask.nodes:run_drift_report")
def run_drift_report(
    reference_features: pd.DataFrame,
    reference_predictions: pd.DataFrame,
    current_features: pd.DataFrame,
    current_predictions: pd.DataFrame,
    spec: FeatureSpec,
    settings: DriftParams,
    unseen_categories: dict[str, Any],
) -> tuple[str, DriftSummary]:
    """Drift of the current batch from the held-out reference rows: Evidently's HTML report of a
    seeded sample of both, and a summary whose verdicts come from all rows."""
    reference, current = drift_tables(
        reference_features, reference_predictions, current_features, current_predictions, spec
    )
    definition = _data_definition(reference, spec)
    preset = _preset(settings, column_methods(spec, settings, len(reference)))
    # A report of all rows repeats the verdicts' tests on the same values: slow ones are recalled.
    with remembered():
        tested = _tested_columns(reference, current, definition, preset)
        columns = {column: verdict for column, (_, verdict) in tested.items()}
        # The report tests each column as the verdicts did, whatever test its sample's size picks;
        # a column with no values on one side is left out of it (Evidently refuses it).
        methods = {column: name for column, (name, _) in tested.items() if name}
        reported = [column for column in reference if column not in tested or tested[column][0]]
        report_preset = _preset(settings, methods)
        shown_reference = _sample(reference[reported], settings.report_rows, settings.seed)
        shown_current = _sample(current[reported], settings.report_rows, settings.seed)
        document = _report_html(
            shown_reference,
            shown_current,
            _data_definition(shown_reference, spec),
            report_preset,
        )
    shown, total = (len(shown_reference), len(shown_current)), (len(reference), len(current))
    summary = summarise_tables(reference, current, columns, spec, settings, unseen_categories)
    summary.update(
        n_reference_rows=total[0],
        n_current_rows=total[1],
        report_sample={"reference_rows": shown[0], "current_rows": shown[1], "seed": settings.seed},
    )
    typed = DriftSummary.model_validate(summary)
    note = report_note(typed.columns, shown, total, settings.seed, verdict_in_words(typed))
    return _with_note(document, note), typed


# Significant digits of the scores and shares the summary writes. Evidently's scores differ in
# their last digits between identical runs (floating-point sums in another order), and the
# summary is tracked in git: written rounded, it stays the same. Every verdict is decided on the
# unrounded values first.
SUMMARY_DIGITS = 4


def significant(value: float, digits: int = SUMMARY_DIGITS) -> float:
    """`value` rounded to `digits` significant digits (zero, NaN and infinities unchanged)."""
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


def _written(verdict: dict[str, Any]) -> dict[str, Any]:
    """A column's verdict as the summary writes it: scores and shares rounded, verdicts as
    decided."""
    rounded = ("score", "p_value", "adjusted_p_value", "reference_share", "current_share")
    return {
        key: _written(value)
        if isinstance(value, dict)
        else significant(value)
        if key in rounded and isinstance(value, float)
        else value
        for key, value in verdict.items()
    }


def summarise_drift(
    columns: dict[str, dict[str, Any]],
    spec: FeatureSpec,
    settings: DriftParams,
    unseen_categories: dict[str, Any],
    missing: dict[str, dict[str, Any]] | None = None,
    out_of_range: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Verdict: share of features in alarm, prediction/target alarms and a retrain flag.

    Each column keeps its own test's verdict (`drifted`); the verdicts of the dataset use its
    alarm (`alarm`: that verdict and a corrected p-value at most `drift.alarm.family_error_rate`,
    over every column tested, prediction and target included). Missing-value shifts and values
    outside the reference range are reported per column, without a verdict of their own. The
    scores and the share are written to SUMMARY_DIGITS significant digits, after every verdict
    was decided on their exact values.
    """
    missing, out_of_range = missing or {}, out_of_range or {}
    alarms = column_alarms(columns, settings.alarm)
    features = [c for c in spec.drift_columns if c in columns]
    drifted = sorted(c for c in features if alarms[c]["alarm"])
    share = len(drifted) / max(len(features), 1)
    prediction_drift = alarms.get(PREDICTION, {}).get("alarm", False)
    target_drift = alarms[TARGET_COLUMN]["alarm"] if TARGET_COLUMN in alarms else None
    policy = settings.retrain
    reasons = []
    if policy.on_dataset_drift and share >= settings.drift_share:
        reasons.append(
            f"dataset drift: {share:.0%} of features drifted (>= {settings.drift_share:.0%})"
        )
    if share > policy.max_drifted_share:
        reasons.append(f"{share:.0%} of features drifted (> {policy.max_drifted_share:.0%})")
    if policy.on_prediction_drift and prediction_drift:
        reasons.append("prediction drift")
    if policy.on_target_drift and target_drift:
        reasons.append("target drift")
    written = {}
    for column, verdict in columns.items():
        record = {**verdict, **alarms[column]}
        if column in missing:
            record["missing"] = missing[column]
        if column in out_of_range:
            record["out_of_range"] = out_of_range[column]
        written[column] = _written(record)
    return {
        "dataset_drift": share >= settings.drift_share,
        "drifted_feature_share": significant(share),
        "drift_share_threshold": settings.drift_share,
        "drifted_features": drifted,
        "prediction_drift": prediction_drift,
        "target_drift": target_drift,
        "alarm": {
            "correction": settings.alarm.correction,
            "family_error_rate": settings.alarm.family_error_rate,
            "family_size": len(columns),  # every column, tested or not (p = 1)
        },
        "raw_drifted_features": sorted(c for c in features if columns[c]["drifted"]),
        "missing_shift": sorted(column for column, info in missing.items() if info["shift"]),
        "out_of_range": {
            column: info["outside"] for column, info in out_of_range.items() if info["outside"]
        },
        "columns": written,
        "unseen_categories": {
            column: info["unseen_rows"]
            for column, info in unseen_categories.get("columns", {}).items()
            if info["unseen_rows"]
        },
        "retrain_recommended": bool(reasons),
        "retrain_reasons": reasons,
    }

"""Alarms at a declared error rate: the per-column p-values corrected for the number of columns
tested, the share of missing values compared on its own, and values outside the reference range.

Each column's own test at 5% flags about one column in twenty on data that did not change; over
twenty columns and the prediction, some column is flagged on most random splits. The corrections
here bound that across the family of columns tested:

- Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian Journal
  of Statistics 6(2), 65-70: the family-wise error rate (any false alarm) is at most the rate.
- Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate. Journal of the
  Royal Statistical Society B 57(1), 289-300: the expected share of false alarms among alarms.
- Bonferroni: each p-value times the family size (Holm is never less powerful).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from cirrus.parameters import AlarmParams

# The test comparing the shares of missing values of a column (a 2 x 2 table of missing and
# present rows per side): Fisher's exact test, valid for the few missing values small tables hold.
MISSING_VALUE_TEST = "fisher_exact"


def _usable(p_value: float) -> float:
    """A p-value for the correction: NaN (a test that could not decide) counts as no evidence."""
    return 1.0 if p_value is None or not math.isfinite(p_value) else min(max(p_value, 0.0), 1.0)


def adjusted_p_values(p_values: dict[str, float], correction: str) -> dict[str, float]:
    """Each member's p-value adjusted for the family (`none`: unchanged), in the same order."""
    names = list(p_values)
    raw = np.array([_usable(p_values[name]) for name in names], dtype="float64")
    m = len(raw)
    if m == 0 or correction == "none":
        return dict(zip(names, raw.tolist(), strict=True))
    if correction == "bonferroni":
        adjusted = np.minimum(raw * m, 1.0)
    elif correction == "holm":
        order = np.argsort(raw, kind="stable")
        # Step-down: the i-th smallest is multiplied by (m - i), then kept monotone upwards.
        stepped = np.maximum.accumulate(raw[order] * (m - np.arange(m)))
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(stepped, 1.0)
    elif correction == "benjamini_hochberg":
        order = np.argsort(raw, kind="stable")[::-1]
        ranks = m - np.arange(m)  # the largest p-value has rank m
        stepped = np.minimum.accumulate(raw[order] * m / ranks)
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(stepped, 1.0)
    else:
        raise ValueError(f"unknown correction {correction!r}")
    return dict(zip(names, adjusted.tolist(), strict=True))


def column_alarms(
    columns: dict[str, dict[str, Any]], settings: AlarmParams
) -> dict[str, dict[str, Any]]:
    """Per column, its adjusted p-value and its alarm: its own test flags it and the adjusted
    p-value is at most the family error rate (`none`: the test's own verdict alone)."""
    adjusted = adjusted_p_values(
        {column: verdict["p_value"] for column, verdict in columns.items()}, settings.correction
    )
    return {
        column: {
            "adjusted_p_value": adjusted[column],
            "alarm": bool(verdict["drifted"])
            and (settings.correction == "none" or adjusted[column] <= settings.family_error_rate),
        }
        for column, verdict in columns.items()
    }


def missing_value_test(
    reference_missing: int, reference_rows: int, current_missing: int, current_rows: int
) -> float:
    """Fisher's exact two-sided p-value that both sides share one rate of missing values."""
    from scipy import stats

    if reference_missing + current_missing in (0, reference_rows + current_rows):
        return 1.0  # none (or all) missing on both sides: the shares cannot differ
    table = [
        [reference_missing, reference_rows - reference_missing],
        [current_missing, current_rows - current_missing],
    ]
    return float(stats.fisher_exact(table).pvalue)


def missing_value_shifts(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], settings: AlarmParams
) -> dict[str, dict[str, Any]]:
    """Per column, the shares of missing values on both sides, the test's p-value, its adjusted
    p-value over `columns` and whether the share shifted (at the family error rate)."""
    counts = {
        column: (int(reference[column].isna().sum()), int(current[column].isna().sum()))
        for column in columns
    }
    n_reference, n_current = len(reference), len(current)
    p_values = {
        column: missing_value_test(ref, n_reference, cur, n_current)
        for column, (ref, cur) in counts.items()
    }
    adjusted = adjusted_p_values(p_values, settings.correction)
    rate = settings.family_error_rate
    return {
        column: {
            "reference_share": ref / max(n_reference, 1),
            "current_share": cur / max(n_current, 1),
            "p_value": p_values[column],
            "p_value_test": MISSING_VALUE_TEST,
            "adjusted_p_value": adjusted[column],
            "shift": adjusted[column] <= rate,
        }
        for column, (ref, cur) in counts.items()
    }


def out_of_range_counts(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]
) -> dict[str, dict[str, Any]]:
    """Per numeric column, the reference's finite range and how many current values lie outside
    it (below the minimum or above the maximum); missing values are not counted."""
    counts = {}
    for column in columns:
        seen = reference[column].to_numpy(dtype="float64", na_value=np.nan)
        seen = seen[np.isfinite(seen)]
        values = current[column].to_numpy(dtype="float64", na_value=np.nan)
        values = values[~np.isnan(values)]
        if seen.size == 0:
            counts[column] = {"reference_min": None, "reference_max": None, "outside": 0}
            continue
        low, high = float(seen.min()), float(seen.max())
        counts[column] = {
            "reference_min": low,
            "reference_max": high,
            "outside": int(np.count_nonzero((values < low) | (values > high))),
        }
    return counts

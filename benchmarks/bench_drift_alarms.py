"""Benchmark the drift alarms: false retraining on random splits, detection of injected shifts.

For each table (the bundled demo table and generated ones of `tests/shapes.py`), one small
LightGBM is fitted on a fixed half of the rows; the other half is the pool. Each seed splits the
pool at random into reference rows (40%, the held-out rows the pipeline compares with) and a
current batch (60%), both scored by that model, and runs the drift node's own functions
(`drift_tables`, `column_verdicts`, `summarise_tables`) with the committed `drift` settings on:

- the random split itself: nothing changed, so a retraining recommendation is a false alarm;
- a mean shift of half a standard deviation (of the reference rows) in the model's most
  important numeric column (by gain), the current rows scored again;
- a new category taking 20% of the current rows of the most important categorical column,
  scored again (the model sees the level as missing);
- a prior shift (binary tasks): the current rows resampled by class so the positive share
  doubles.

A shift is detected when the shifted column (for the prior shift: the target) raises an alarm.
Each verdict is also summarised without correction (`drift.alarm.correction: none`: each
column's own test, the verdicts before alarms were corrected). It prints one table per
scenario and the load average before and after.

    python benchmarks/bench_drift_alarms.py              # 50 seeds per table (6 min at load 6)
    python benchmarks/bench_drift_alarms.py --seeds 5    # quick check
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

PROJECT = Path(__file__).resolve().parents[1]
CONF = PROJECT / "conf" / "base"
DEMO_CSV = PROJECT / "data" / "01_raw" / "credit_applications.csv"
REFERENCE_SHARE = 0.4  # of the pool: the held-out reference rows; the rest is the current batch
NEW_LEVEL = "__new_level__"
SCENARIOS = ("random split", "mean shift", "new category", "prior shift")
GOAL_FALSE_RETRAIN = 0.05
GOAL_DETECTION = 0.90
DETECTION_ROWS = 1000  # the detection goal holds from this many reference rows

sys.path.insert(0, str(PROJECT))


@dataclass
class Table:
    """A table to split: its rows, target, task and feature columns by kind."""

    name: str
    frame: pd.DataFrame
    target: str
    task: str
    numeric: list[str]
    categorical: list[str]
    positive: Any = 1


def demo_table() -> Table:
    """The bundled demo reference table with the contract's features."""
    contract = yaml.safe_load((CONF / "parameters_contract.yml").read_text())["contract"]
    frame = pd.read_csv(DEMO_CSV)
    features = contract["features"]
    return Table(
        "demo (bundled)",
        frame,
        contract["target"],
        "binary",
        list(features["numeric"]),
        list(features["categorical"]),
    )


def churn_table() -> Table:
    """`tests/shapes.py`'s churn table at 6,000 rows (1,200 reference rows)."""
    from tests import shapes

    return Table(
        "churn (shapes)",
        shapes.churn_without_time(n_rows=6000),
        "churned",
        "binary",
        ["tenure_months", "monthly_spend", "support_calls"],
        ["plan", "country"],
    )


def yes_no_table() -> Table:
    """`tests/shapes.py`'s Yes/No-labelled table at 6,000 rows (1,200 reference rows)."""
    from tests import shapes

    return Table(
        "yes/no labels (shapes)",
        shapes.yes_no_labels(n_rows=6000),
        "subscribed",
        "binary",
        ["age", "balance"],
        ["has_partner", "contract_type"],
        positive="Yes",
    )


def wide_sparse_table() -> Table:
    """`tests/shapes.py`'s 84 sparse count columns at 2,000 rows (400 reference rows)."""
    from tests import shapes

    frame = shapes.wide_sparse(n_rows=2000)
    numeric = [c for c in frame if c.startswith("v")]
    return Table("wide sparse (shapes)", frame, "flag", "binary", numeric, [])


def hourly_table(n_rows: int = 6000) -> Table:
    """`tests/shapes.py`'s hourly regression (1,200 reference rows at 6,000 rows)."""
    from tests import shapes

    return Table(
        "hourly regression (shapes)",
        shapes.hourly_regression(n_rows=n_rows),
        "demand",
        "regression",
        ["temperature", "humidity"],
        ["weather"],
    )


TABLES: dict[str, Callable[[], Table]] = {
    "demo": demo_table,
    "churn": churn_table,
    "yes_no": yes_no_table,
    "wide_sparse": wide_sparse_table,
    "hourly": hourly_table,
}


def spec_of(table: Table, levels: dict[str, list[str]], n_training_rows: int) -> Any:
    """A feature spec of the table's raw columns: what the drift node reads."""
    from cirrus.feature_spec import FeatureSpec

    columns = [*table.numeric, *table.categorical]
    return FeatureSpec(
        task=table.task,
        target=table.target,
        classes=["0", "1"] if table.task == "binary" else None,
        numeric=table.numeric,
        log=[],
        ratios={},
        date_parts={},
        missing_indicators=[],
        categories=levels,
        rare_levels={column: [] for column in levels},
        categorical_features=table.categorical,
        feature_columns=columns,
        drift_columns=columns,
        n_training_rows=n_training_rows,
    )


def features_of(table: Table, rows: pd.DataFrame, levels: dict[str, list[str]]) -> pd.DataFrame:
    """Feature rows as the model and the drift tables read them; the target encoded 0/1."""
    out = pd.DataFrame(
        {column: rows[column].astype("float64").to_numpy() for column in table.numeric}
    )
    for column in table.categorical:
        values = rows[column].astype(object).where(rows[column].notna()).to_numpy()
        extra = [NEW_LEVEL] if NEW_LEVEL in set(values) else []
        out[column] = pd.Categorical(values, categories=levels[column] + extra)
    target = rows[table.target]
    if table.task == "binary":
        target = (target == table.positive).astype("float64")
    out[table.target] = target.astype("float64").to_numpy()
    return out


class Model:
    """One small LightGBM per table, fitted once; scores any feature rows."""

    def __init__(self, table: Table, features: pd.DataFrame, levels: dict[str, list[str]]):
        import lightgbm as lgb

        self.table, self.levels = table, levels
        self.columns = [*table.numeric, *table.categorical]
        objective = "binary" if table.task == "binary" else "regression"
        params = {
            "objective": objective,
            "num_leaves": 15,
            "learning_rate": 0.1,
            "min_data_in_leaf": 20,
            "num_threads": 2,
            "seed": 0,
            "verbose": -1,
        }
        data = lgb.Dataset(
            self.inputs(features), features[table.target], categorical_feature=table.categorical
        )
        self.booster = lgb.train(params, data, num_boost_round=80)

    def inputs(self, features: pd.DataFrame) -> pd.DataFrame:
        """The model's columns; categories as at fit time (a new level reads as missing)."""
        frame = features[self.columns].copy()
        for column in self.table.categorical:
            frame[column] = pd.Categorical(
                frame[column].astype(object), categories=self.levels[column]
            )
        return frame

    def predictions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Predictions in the shape the drift node reads (binary: score and class)."""
        values = self.booster.predict(self.inputs(features))
        if self.table.task == "binary":
            return pd.DataFrame({"score": values, "prediction": (values >= 0.5).astype("float64")})
        return pd.DataFrame({"prediction": values})

    def most_important(self, columns: list[str]) -> str | None:
        """The column of `columns` with the largest total gain (None: no columns)."""
        gains = dict(zip(self.columns, self.booster.feature_importance("gain"), strict=True))
        return max(columns, key=gains.__getitem__) if columns else None


def mean_shift(reference: pd.DataFrame, current: pd.DataFrame, column: str, rng) -> pd.DataFrame:
    """The current rows with `column` moved by half the reference's standard deviation."""
    shifted = current.copy()
    shifted[column] = shifted[column] + 0.5 * reference[column].std()
    return shifted


def new_category(reference: pd.DataFrame, current: pd.DataFrame, column: str, rng) -> pd.DataFrame:
    """The current rows with a level the reference never held on 20% of them."""
    shifted = current.copy()
    values = shifted[column].astype(object).to_numpy()
    values[rng.random(len(values)) < 0.2] = NEW_LEVEL
    categories = [*shifted[column].cat.categories, NEW_LEVEL]
    shifted[column] = pd.Categorical(values, categories=categories)
    return shifted


def prior_shift(reference: pd.DataFrame, current: pd.DataFrame, target: str, rng) -> pd.DataFrame:
    """The current rows resampled by class so the positive share doubles (at most 90%)."""
    positive = current[target].to_numpy() == 1
    n = len(current)
    n_positive = int(min(2 * positive.mean(), 0.9) * n)
    rows = np.concatenate(
        [
            rng.choice(np.flatnonzero(positive), n_positive),
            rng.choice(np.flatnonzero(~positive), n - n_positive),
        ]
    )
    return current.iloc[rows].reset_index(drop=True)


def verdicts(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    model: Model,
    spec: Any,
    settings: dict[str, Any],
) -> dict[str, dict[str, Any]]:
    """The drift node's summary of the two sides, corrected and uncorrected."""
    from cirrus.drift.report import column_verdicts, drift_tables, summarise_tables
    from cirrus.feature_spec import UNKNOWN_LEVEL

    unseen = {"mapped_to": UNKNOWN_LEVEL, "columns": {}}
    tables = drift_tables(
        reference, model.predictions(reference), current, model.predictions(current), spec
    )
    # The column verdicts do not depend on the correction: computed once, summarised per setting.
    columns = column_verdicts(*tables, spec, next(iter(settings.values())))
    return {
        name: summarise_tables(*tables, columns, spec, parsed, unseen)
        for name, parsed in settings.items()
    }


def run_table(table: Table, seeds: int, settings: dict[str, Any]) -> dict[str, Any]:
    """Every scenario over `seeds` random splits of one table: counts per outcome."""
    shuffled = table.frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    half = len(shuffled) // 2
    for column in table.categorical:  # the texts the levels are spelled as, missing kept
        shuffled[column] = shuffled[column].astype("string").astype(object)
    training, pool = shuffled.iloc[:half], shuffled.iloc[half:].reset_index(drop=True)
    levels = {column: sorted(shuffled[column].dropna().unique()) for column in table.categorical}
    spec = spec_of(table, levels, len(training))
    model = Model(table, features_of(table, training, levels), levels)
    pool_features = features_of(table, pool, levels)
    numeric_column = model.most_important(table.numeric)
    category_column = model.most_important(table.categorical)
    shifts: dict[str, tuple[Callable[..., pd.DataFrame], str | None, str | None]] = {
        "random split": (lambda r, c, col, rng: c, None, None),
        "mean shift": (mean_shift, numeric_column, numeric_column),
        "new category": (new_category, category_column, category_column),
        "prior shift": (
            prior_shift,
            table.target if table.task == "binary" else None,
            "target",
        ),
    }
    n_reference = int(len(pool) * REFERENCE_SHARE)
    counts: dict[str, dict[str, int]] = {s: {} for s in SCENARIOS}
    methods: set[str] = set()
    started = time.perf_counter()
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(pool))
        reference = pool_features.iloc[order[:n_reference]].reset_index(drop=True)
        current = pool_features.iloc[order[n_reference:]].reset_index(drop=True)
        for scenario, (shift, argument, watched) in shifts.items():
            if scenario != "random split" and argument is None:
                continue
            shifted = shift(reference, current, argument, rng)
            summaries = verdicts(reference, shifted, model, spec, settings)
            tally = counts[scenario]
            for name, summary in summaries.items():
                tally[f"retrain {name}"] = tally.get(f"retrain {name}", 0) + bool(
                    summary["retrain_recommended"]
                )
                flagged = [c for c, v in summary["columns"].items() if v["alarm"]]
                tally[f"any alarm {name}"] = tally.get(f"any alarm {name}", 0) + bool(flagged)
                if watched is not None:
                    hit = summary["columns"][watched]["alarm"]
                    tally[f"detected {name}"] = tally.get(f"detected {name}", 0) + bool(hit)
                tally[f"missing shift {name}"] = tally.get(f"missing shift {name}", 0) + bool(
                    summary["missing_shift"]
                )
            tally["runs"] = tally.get("runs", 0) + 1
            first = next(iter(summaries.values()))
            methods |= {v["method"] for v in first["columns"].values()}
    return {
        "name": table.name,
        "rows": (n_reference, len(pool) - n_reference),
        "columns_tested": len(spec.drift_columns) + 1 + 1,  # features, prediction, target
        "methods": sorted(methods),
        "shifted": {"mean shift": numeric_column, "new category": category_column},
        "counts": counts,
        "seconds": time.perf_counter() - started,
    }


def drift_settings() -> dict[str, Any]:
    """The committed drift block with its correction, and the same without correction."""
    from cirrus.parameters import DriftParams

    block = yaml.safe_load((CONF / "parameters_drift.yml").read_text())["drift"]
    corrected = DriftParams.parse(block)
    uncorrected = DriftParams.parse(
        {**block, "alarm": {**block.get("alarm", {}), "correction": "none"}}
    )
    return {"holm": corrected, "none": uncorrected}


def rate(tally: dict[str, int], key: str) -> str:
    """A count as `share (count/runs)`; '-' when the scenario did not run."""
    runs = tally.get("runs", 0)
    if not runs or key not in tally:
        return "-"
    return f"{tally[key] / runs:.0%} ({tally[key]}/{runs})"


def cell_pair(tally: dict[str, int], key: str, correction: str) -> str:
    """A corrected rate and, in brackets, the same rate uncorrected."""
    uncorrected = rate(tally, key.replace(correction, "none")).split(" ")[0]
    return f"{rate(tally, key):>13}{'(' + uncorrected + ')':>13}"


def print_results(results: list[dict[str, Any]], correction: str) -> None:
    """One table per scenario, then the goals."""
    width = max(len(r["name"]) for r in results) + 2
    print()
    for r in results:
        print(
            f"{r['name']}: {r['rows'][0]:,} reference / {r['rows'][1]:,} current rows, "
            f"{r['columns_tested']} columns tested ({', '.join(r['methods'])}); "
            f"shifted: {r['shifted']}; {r['seconds']:.0f} s"
        )
    header = {
        "random split": ["retrain", "any alarm", "missing shift"],
        "mean shift": ["detected", "retrain"],
        "new category": ["detected", "retrain"],
        "prior shift": ["detected", "retrain"],
    }
    for scenario in SCENARIOS:
        print(f"\n{scenario}: {correction} (uncorrected)")
        cells = [f"{m} {correction}" for m in header[scenario]]
        print(f"{'table':<{width}}" + "".join(f"{m:>26}" for m in header[scenario]))
        for r in results:
            tally = r["counts"][scenario]
            row = "".join(cell_pair(tally, cell, correction) for cell in cells)
            print(f"{r['name']:<{width}}{row}")
    false_retrain = sum(
        r["counts"]["random split"].get(f"retrain {correction}", 0) for r in results
    )
    runs = sum(r["counts"]["random split"].get("runs", 0) for r in results)
    print(
        f"\ngoal: retraining recommended on at most {GOAL_FALSE_RETRAIN:.0%} of random splits: "
        f"{false_retrain}/{runs} = {false_retrain / max(runs, 1):.1%} "
        f"({'met' if false_retrain <= GOAL_FALSE_RETRAIN * runs else 'NOT met'}; each table "
        "above)"
    )
    for scenario in SCENARIOS[1:]:
        eligible = [
            r
            for r in results
            if r["rows"][0] >= DETECTION_ROWS and f"detected {correction}" in r["counts"][scenario]
        ]
        worst = min(
            (
                r["counts"][scenario][f"detected {correction}"] / r["counts"][scenario]["runs"]
                for r in eligible
            ),
            default=None,
        )
        verdict = "-" if worst is None else ("met" if worst >= GOAL_DETECTION else "NOT met")
        shown = "-" if worst is None else f"{worst:.0%}"
        print(
            f"goal: {scenario} detected in at least {GOAL_DETECTION:.0%} of runs on tables of "
            f"{DETECTION_ROWS:,}+ reference rows: lowest {shown} ({verdict})"
        )


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    """Parse the options, run every table, print the tables and the load average."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50, help="random splits per table")
    parser.add_argument(
        "--tables", nargs="*", choices=list(TABLES), default=list(TABLES), help="tables to run"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"load average before: {load_average()} ({os.cpu_count()} cores)")
    tables = [TABLES[name]() for name in args.tables]
    settings = drift_settings()
    correction = settings["holm"].alarm.correction
    settings = {correction: settings["holm"], "none": settings["none"]}
    results = []
    for table in tables:
        results.append(run_table(table, args.seeds, settings))
        print(f"{table.name}: {results[-1]['seconds']:.0f} s", flush=True)
    print_results(results, correction)
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()

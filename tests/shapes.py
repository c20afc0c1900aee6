"""Generated tables of the shapes real users bring (small, seeded), for the init-contract tests.

Each builder returns a frame with a learnable signal and no drift between its rows, so that a
random (or, with time, a later) share of them is a current batch that should not be flagged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FIRST_NAMES = ["Anna", "Ben", "Carla", "David", "Emma", "Felix", "Greta", "Hugo", "Ines", "Jonas"]
LAST_NAMES = ["Meyer", "Schmidt", "Novak", "Rossi", "Dubois", "Garcia", "Jensen", "Kowalski"]


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


def churn_without_time(n_rows: int = 1200, seed: int = 1) -> pd.DataFrame:
    """Binary 0/1 churn, no time column: an id, PII (e-mail, phone, name), free-text notes,
    a constant column, numeric and categorical features."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 73, n_rows)
    spend = rng.gamma(4.0, 20.0, n_rows).round(2)
    plan = rng.choice(["basic", "plus", "pro"], n_rows, p=[0.5, 0.3, 0.2])
    calls = rng.poisson(1.5, n_rows)
    logit = -0.07 * tenure + 0.02 * spend + 0.9 * calls - 1.2 * (plan == "pro") - 0.3
    churned = (rng.random(n_rows) < _sigmoid(logit)).astype(int)
    first = pd.Series(rng.choice(FIRST_NAMES, n_rows))
    last = pd.Series(rng.choice(LAST_NAMES, n_rows))
    number = pd.Series(range(n_rows)).astype(str)
    topic = pd.Series(rng.choice(["billing", "the app", "a refund", "roaming"], n_rows))
    spend[rng.random(n_rows) < 0.05] = np.nan  # a few unknown spends
    return pd.DataFrame(
        {
            "customer_id": "C" + number.str.zfill(6),
            "full_name": first + " " + last,
            "email": first.str.lower() + "." + last.str.lower() + number + "@example.com",
            "phone": [f"+49 30 {rng.integers(1000000, 9999999)}" for _ in range(n_rows)],
            "tenure_months": tenure,
            "monthly_spend": spend,
            "plan": plan,
            "country": rng.choice(["DE", "FR", "IT", "ES", "NL", "PL", "SE", "AT"], n_rows),
            "support_calls": calls,
            "source_system": "crm",
            "notes": "customer called about " + topic + " and asked for a written follow up",
            "churned": churned,
        }
    )


def three_classes(n_rows: int = 150, seed: int = 2) -> pd.DataFrame:
    """About 150 rows, three classes (integer labels 1, 2, 3), 13 numeric measurements, no id
    and no time column: the shape of the classic wine table."""
    rng = np.random.default_rng(seed)
    labels = rng.choice([1, 2, 3], n_rows, p=[0.33, 0.4, 0.27])
    centres = rng.normal(0, 1, (3, 13))
    values = centres[labels - 1] * 0.9 + rng.normal(0, 1, (n_rows, 13))
    frame = pd.DataFrame(
        (values * 10 + 50).round(3), columns=[f"measure_{i:02d}" for i in range(1, 14)]
    )
    frame["cultivar"] = labels
    return frame


def wide_sparse(n_rows: int = 2000, n_columns: int = 84, seed: int = 3) -> pd.DataFrame:
    """Binary with 6% positives and 84 columns of sparse small integers (mostly zero)."""
    rng = np.random.default_rng(seed)
    rates = rng.uniform(0.05, 0.6, n_columns)
    counts = rng.poisson(rates, (n_rows, n_columns))
    weights = np.zeros(n_columns)
    weights[:8] = rng.uniform(0.8, 1.6, 8)
    score = counts @ weights
    threshold = np.quantile(score + rng.normal(0, 0.6, n_rows), 0.94)
    positive = (score + rng.normal(0, 0.6, n_rows) > threshold).astype(int)
    frame = pd.DataFrame(counts, columns=[f"v{i:02d}" for i in range(n_columns)])
    frame.insert(0, "row_id", np.arange(1, n_rows + 1))
    frame["flag"] = positive
    return frame


def yes_no_labels(n_rows: int = 2000, seed: int = 4) -> pd.DataFrame:
    """Binary with "Yes"/"No" text labels (about 8% "Yes") and a Yes/No text feature."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n_rows)
    balance = rng.normal(1500, 900, n_rows).round(2)
    partner = rng.choice(["Yes", "No"], n_rows)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n_rows)
    logit = (
        -4.2 + 0.06 * (age - 50) - 0.0015 * (balance - 1500) + 2.2 * (contract == "Month-to-month")
    )
    logit -= 0.8 * (partner == "Yes")
    label = np.where(rng.random(n_rows) < _sigmoid(logit), "Yes", "No")
    return pd.DataFrame(
        {
            "account": [f"A-{i:05d}" for i in range(n_rows)],
            "age": age,
            "balance": balance,
            "has_partner": partner,
            "contract_type": contract,
            "subscribed": label,
        }
    )


def hourly_regression(n_rows: int = 2000, seed: int = 5) -> pd.DataFrame:
    """Hourly demand (regression) with an ISO datetime column and no drift over time."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-03-01", periods=n_rows, freq="h")
    temperature = rng.normal(15, 6, n_rows).round(1)
    humidity = rng.uniform(20, 95, n_rows).round(0)
    weather = rng.choice(["clear", "cloudy", "rain"], n_rows, p=[0.5, 0.35, 0.15])
    hour = times.hour.to_numpy()
    demand = (
        120
        + 80 * np.sin((hour - 6) / 24 * 2 * np.pi)
        + 4 * temperature
        - 0.5 * humidity
        - 40 * (weather == "rain")
        + rng.normal(0, 12, n_rows)
    )
    return pd.DataFrame(
        {
            "timestamp": times.strftime("%Y-%m-%d %H:%M:%S"),
            "temperature": temperature,
            "humidity": humidity,
            "weather": weather,
            "demand": demand.round(1),
        }
    )

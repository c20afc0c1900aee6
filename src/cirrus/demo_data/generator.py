"""Seeded, vectorised generator of a synthetic consumer-credit applications dataset.

Features are drawn first, then masked (missing values), then shifted (covariate drift); a
latent default risk is computed from the shifted features (imputing missing values for the
latent only), optionally blended with fresh noise (concept drift), and the three target
candidates (``defaulted``, ``risk_grade``, ``interest_rate``) are derived from it. Each
stage draws from its own random stream, so e.g. adding a shift leaves the unshifted columns
of the same seed unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from cirrus.parameters import DemoDataParams

ID_WIDTH = 8
# The outcome columns (any of them can be the contract's target): unknown for rows to score.
OUTCOMES = ("defaulted", "risk_grade", "interest_rate")
TERMS = np.array([12, 24, 36, 48, 60], dtype=np.int64)

FIRST_NAMES = (
    "James", "Mary", "John", "Linda", "Robert", "Sarah", "Michael", "Emma", "David", "Olivia",
    "Daniel", "Sophie", "Thomas", "Laura", "Peter", "Anna", "Paul", "Julia", "Mark", "Chloe",
    "Lucas", "Mia", "Adam", "Nora", "Omar", "Leila", "Ivan", "Elena", "Kenji", "Aiko",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Jones", "Brown", "Taylor", "Wilson", "Evans", "Thomas", "Johnson", "Roberts",
    "Walker", "Wright", "Hughes", "Green", "Hall", "Wood", "Clarke", "Jackson", "Turner",
    "Hill", "Moore", "Martin", "Cooper", "Ward", "Morris", "King", "Baker", "Khan", "Novak",
    "Silva", "Tanaka",
)  # fmt: skip
EMAIL_DOMAINS = ("mail.com", "inbox.net", "post.org", "example.com", "webmail.co")

# Base category weights; conditional effects multiply them row by row. The covariate-shift
# target level of a categorical column is its second-rarest level under these weights.
CATEGORY_WEIGHTS: dict[str, dict[str, float]] = {
    "home_ownership": {"RENT": 0.38, "OWN": 0.20, "MORTGAGE": 0.39, "OTHER": 0.03},
    "loan_purpose": {
        "debt_consolidation": 0.30,
        "home_improvement": 0.14,
        "car": 0.13,
        "education": 0.07,
        "medical": 0.08,
        "business": 0.08,
        "vacation": 0.05,
        "other": 0.15,
    },
    "employment_type": {
        "salaried": 0.62,
        "self_employed": 0.14,
        "unemployed": 0.07,
        "retired": 0.09,
        "student": 0.08,
    },
    "channel": {"web": 0.50, "branch": 0.22, "partner": 0.18, "phone": 0.10},
}

N_POSTCODES = 120
POSTCODES = np.array([f"PA{i:03d}" for i in range(N_POSTCODES)], dtype=object)
_POSTCODE_RNG = np.random.default_rng(20_250_101)
_zipf = 1.0 / np.arange(1, N_POSTCODES + 1) ** 1.0
POSTCODE_WEIGHTS = _POSTCODE_RNG.permutation(_zipf / _zipf.sum())
# A handful of areas carry a genuine risk effect; the rest are neutral.
POSTCODE_EFFECT = np.where(
    _POSTCODE_RNG.random(N_POSTCODES) < 0.15, _POSTCODE_RNG.normal(0.0, 0.5, N_POSTCODES), 0.0
)

MISSING_SHARES = {
    "annual_income": 0.08,
    "credit_score": 0.05,
    "existing_debt": 0.03,
    "employment_years": 0.10,
}

EMPLOYMENT_RISK = {
    "salaried": 0.0,
    "self_employed": 0.3,
    "unemployed": 0.9,
    "retired": 0.15,
    "student": 0.45,
}
PURPOSE_RISK = {
    "debt_consolidation": 0.15,
    "home_improvement": -0.25,
    "car": -0.1,
    "education": 0.3,
    "medical": 0.35,
    "business": 0.45,
    "vacation": 0.25,
    "other": 0.0,
}
CHANNEL_RISK = {"web": 0.0, "branch": -0.1, "partner": 0.2, "phone": 0.05}

# Calibration of the latent-risk scale on a large unshifted sample (seed-independent).
_LATENT_INTERCEPT = -3.45
_LATENT_MEAN = -2.32
_LATENT_SD = 1.38
_DEFAULT_NOISE_SD = 0.6
_GRADE_NOISE_SD = 0.45
_GRADE_EDGES = np.array([-3.5, -2.7, -1.8, -0.63])  # about 20/25/25/18/12 % A..E
GRADES = np.array(["A", "B", "C", "D", "E"], dtype=object)

NUMERIC_COLUMNS = (
    "age",
    "annual_income",
    "loan_amount",
    "credit_score",
    "existing_debt",
    "num_open_accounts",
    "num_delinquencies",
    "employment_years",
)
CATEGORICAL_COLUMNS = (*CATEGORY_WEIGHTS, "postcode_area", "loan_term_months")
SHIFTABLE_COLUMNS = tuple(sorted((*NUMERIC_COLUMNS, *CATEGORICAL_COLUMNS)))

COLUMN_DTYPES: dict[str, str] = {
    "application_id": "object",
    "application_time": "datetime64[ns]",
    "applicant_name": "object",
    "email": "object",
    "age": "int64",
    "annual_income": "float64",
    "loan_amount": "float64",
    "loan_term_months": "int64",
    "credit_score": "float64",
    "existing_debt": "float64",
    "num_open_accounts": "int64",
    "num_delinquencies": "int64",
    "employment_years": "float64",
    "home_ownership": "object",
    "loan_purpose": "object",
    "employment_type": "object",
    "channel": "object",
    "postcode_area": "object",
    "interest_rate": "float64",
    "risk_grade": "object",
    "defaulted": "int64",
}

_INT_BOUNDS = {"age": (18, 90), "num_open_accounts": (0, None), "num_delinquencies": (0, None)}


def _levels(column: str) -> np.ndarray:
    """Return the category levels of a categorical column as an object array."""
    if column == "postcode_area":
        return POSTCODES
    if column == "loan_term_months":
        return TERMS
    return np.array(list(CATEGORY_WEIGHTS[column]), dtype=object)


def _base_weights(column: str) -> np.ndarray:
    """Return the base (unconditional) weights of a categorical column."""
    if column == "postcode_area":
        return POSTCODE_WEIGHTS
    if column == "loan_term_months":
        return np.array([0.12, 0.22, 0.33, 0.15, 0.18])
    return np.array(list(CATEGORY_WEIGHTS[column].values()))


def shift_target_level(column: str) -> Any:
    """Return the level a categorical covariate shift moves mass onto (second-rarest level)."""
    order = np.argsort(_base_weights(column), kind="stable")
    return _levels(column)[order[1]]


def _sample_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Draw one category index per row from an (n, k) matrix of unnormalised weights."""
    cdf = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(axis=1), weights.shape[1] - 1)


def _lookup(mapping: Mapping[str, float], values: np.ndarray) -> np.ndarray:
    """Map an array of category labels to floats through a dict."""
    keys = np.array(list(mapping), dtype=object)
    codes = pd.Categorical(values, categories=keys).codes
    return np.array(list(mapping.values()))[codes]


def _times(rng: np.random.Generator, n_rows: int, start: str, end: str) -> np.ndarray:
    """Draw sorted uniform timestamps in [start, end) as datetime64[ns]."""
    start_ns, end_ns = pd.Timestamp(start).value, pd.Timestamp(end).value
    if end_ns <= start_ns:
        raise ValueError(f"end ({end!r}) must be after start ({start!r})")
    return np.sort(rng.integers(start_ns, end_ns, n_rows)).astype("datetime64[ns]")


def _ids(n_rows: int, id_offset: int) -> list[str]:
    """Build zero-padded application ids starting at id_offset."""
    if id_offset < 0 or id_offset + n_rows > 10**ID_WIDTH:
        raise ValueError(f"ids must fit in {ID_WIDTH} digits; got id_offset={id_offset}")
    return [f"APP-{i:0{ID_WIDTH}d}" for i in range(id_offset, id_offset + n_rows)]


def _names_and_emails(rng: np.random.Generator, n_rows: int) -> tuple[np.ndarray, list[str]]:
    """Draw applicant names and name-derived e-mail addresses (PII)."""
    first = np.array(FIRST_NAMES, dtype=object)
    last = np.array(LAST_NAMES, dtype=object)
    full = (first[:, None] + " " + last[None, :]).ravel()
    local = np.char.lower(first.astype(str))[:, None] + "." + np.char.lower(last.astype(str))
    pick = rng.integers(0, full.size, n_rows)
    numbers = rng.integers(1, 1000, n_rows).tolist()
    domains = np.array(EMAIL_DOMAINS, dtype=object)[rng.integers(0, len(EMAIL_DOMAINS), n_rows)]
    locals_ = local.astype(object).ravel()[pick].tolist()
    emails = [f"{a}{b}@{c}" for a, b, c in zip(locals_, numbers, domains.tolist(), strict=True)]
    return full[pick], emails


def _employment(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    """Draw employment type conditional on age (students young, retirees old)."""
    w = np.tile(_base_weights("employment_type"), (age.size, 1))
    w[:, 4] *= np.select([age < 26, age < 35], [4.0, 0.6], 0.05)
    w[:, 3] *= np.select([age >= 65, age >= 55], [12.0, 1.0], 0.02)
    return _levels("employment_type")[_sample_rows(rng, w)]


def _employment_years(
    rng: np.random.Generator, employment: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """Draw years in employment, capped by working age, by employment type."""
    shape = _lookup({"salaried": 1.6, "self_employed": 1.8, "unemployed": 1.0, "retired": 4.0,
                     "student": 0.8}, employment)  # fmt: skip
    scale = _lookup({"salaried": 4.5, "self_employed": 5.0, "unemployed": 1.5, "retired": 7.0,
                     "student": 0.8}, employment)  # fmt: skip
    years = np.minimum(rng.gamma(shape, scale), age - 18)
    return np.round(years, 1)


def _income(
    rng: np.random.Generator, employment: np.ndarray, years: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """Draw a skewed (lognormal) annual income driven by employment, tenure and age."""
    effect = _lookup({"salaried": 0.0, "self_employed": 0.15, "unemployed": -0.9,
                      "retired": -0.35, "student": -1.1}, employment)  # fmt: skip
    log_income = (
        10.55 + effect + 0.025 * np.minimum(years, 20) + 0.01 * np.minimum(age - 18, 30)
    ) + rng.normal(0.0, 0.45, age.size)
    return np.round(np.exp(log_income), 0)


def _home_ownership(rng: np.random.Generator, age: np.ndarray, income: np.ndarray) -> np.ndarray:
    """Draw home ownership conditional on age and income."""
    w = np.tile(_base_weights("home_ownership"), (age.size, 1))
    w[:, 0] *= np.where(age < 30, 2.0, 1.0)
    w[:, 1] *= np.where(age >= 55, 2.5, 0.8)
    w[:, 2] *= np.where((age >= 28) & (age < 65), 1.4, 0.5) * np.clip(income / 45_000, 0.4, 2.5)
    return _levels("home_ownership")[_sample_rows(rng, w)]


def _loan_purpose(rng: np.random.Generator, employment: np.ndarray) -> np.ndarray:
    """Draw the loan purpose; students ask for education loans far more often."""
    w = np.tile(_base_weights("loan_purpose"), (employment.size, 1))
    w[:, 3] *= np.where(employment == "student", 6.0, 1.0)
    w[:, 5] *= np.where(employment == "self_employed", 3.0, 1.0)
    return _levels("loan_purpose")[_sample_rows(rng, w)]


def _loan_amount(rng: np.random.Generator, income: np.ndarray, purpose: np.ndarray) -> np.ndarray:
    """Draw a lognormal loan amount correlated with income and shaped by purpose."""
    effect = _lookup({"debt_consolidation": 0.1, "home_improvement": 0.35, "car": 0.15,
                      "education": 0.0, "medical": -0.3, "business": 0.5, "vacation": -0.5,
                      "other": -0.2}, purpose)  # fmt: skip
    log_amount = 2.9 + 0.62 * np.log(income) + effect + rng.normal(0.0, 0.45, income.size)
    return np.round(np.maximum(np.exp(log_amount), 500.0), 2)


def _loan_term(rng: np.random.Generator, amount: np.ndarray) -> np.ndarray:
    """Draw the loan term; bigger loans tend to run longer."""
    z = (np.log(amount) - 9.5) / 0.6
    idx = np.clip(np.round(2.0 + 0.9 * z + rng.normal(0.0, 1.0, amount.size)), 0, 4)
    return TERMS[idx.astype(np.int64)]


def _draw_features(rng: np.random.Generator, n_rows: int) -> dict[str, np.ndarray]:
    """Draw all complete (unmasked, unshifted) applicant features."""
    age = np.clip(np.round(18 + rng.gamma(3.0, 8.0, n_rows)), 18, 90).astype(np.int64)
    employment = _employment(rng, age)
    years = _employment_years(rng, employment, age)
    income = _income(rng, employment, years, age)
    z_income = (np.log(income) - 10.7) / 0.6
    quality = 0.35 * z_income + 0.15 * (age - 42) / 14 + 0.92 * rng.normal(size=n_rows)
    structural_zero = rng.random(n_rows) < 1 / (1 + np.exp(-(1.4 + 1.2 * quality)))
    extra = 1 + rng.poisson(0.8 * np.exp(-0.5 * quality))
    delinquencies = np.where(structural_zero, 0, extra).astype(np.int64)
    score = 690 + 55 * quality - 12 * np.minimum(delinquencies, 5) + rng.normal(0, 25, n_rows)
    dti = np.exp(np.log(0.3) - 0.25 * quality + rng.normal(0.0, 0.7, n_rows))
    debt = np.where(rng.random(n_rows) < 0.12, 0.0, np.round(income * dti, 2))
    purpose = _loan_purpose(rng, employment)
    amount = _loan_amount(rng, income, purpose)
    lam = np.exp(1.3 + 0.1 * quality + 0.004 * (age - 40))
    return {
        "age": age,
        "annual_income": income,
        "loan_amount": amount,
        "loan_term_months": _loan_term(rng, amount),
        "credit_score": np.clip(np.round(score), 300, 850).astype(np.float64),
        "existing_debt": debt,
        "num_open_accounts": rng.poisson(lam).astype(np.int64),
        "num_delinquencies": delinquencies,
        "employment_years": years,
        "home_ownership": _home_ownership(rng, age, income),
        "loan_purpose": purpose,
        "employment_type": employment,
        "channel": _levels("channel")[rng.choice(4, n_rows, p=_base_weights("channel"))],
        "postcode_area": POSTCODES[rng.choice(N_POSTCODES, n_rows, p=POSTCODE_WEIGHTS)],
    }


def _mask_missing(rng: np.random.Generator, features: dict[str, np.ndarray]) -> None:
    """Blank out values completely at random at the configured shares (in place)."""
    for column, share in MISSING_SHARES.items():
        values = features[column].astype(np.float64)
        values[rng.random(values.size) < share] = np.nan
        features[column] = values


def _validate_shift(covariate_shift: Mapping[str, float]) -> None:
    """Raise ValueError for unknown columns or out-of-range strengths."""
    for column, strength in covariate_shift.items():
        if column not in SHIFTABLE_COLUMNS:
            raise ValueError(
                f"covariate_shift: unknown column {column!r}; valid columns: "
                f"{', '.join(SHIFTABLE_COLUMNS)}"
            )
        if column in NUMERIC_COLUMNS and not strength > -1:
            raise ValueError(f"covariate_shift[{column!r}] must be > -1, got {strength}")
        if column in CATEGORICAL_COLUMNS and not 0 <= strength <= 1:
            raise ValueError(f"covariate_shift[{column!r}] must be in [0, 1], got {strength}")


def _shift_numeric(values: np.ndarray, column: str, strength: float) -> np.ndarray:
    """Scale a numeric column by (1 + strength), keeping its type and valid range."""
    scaled = values * (1.0 + strength)
    if column == "credit_score":
        return np.clip(np.round(scaled), 300, 850)
    if column in _INT_BOUNDS:
        low, high = _INT_BOUNDS[column]
        return np.clip(np.round(scaled), low, high).astype(np.int64)
    return np.round(scaled, 2)


def _apply_shift(
    rng: np.random.Generator, features: dict[str, np.ndarray], covariate_shift: Mapping
) -> None:
    """Apply covariate shifts to the features in place (numeric scale, categorical mass move)."""
    for column in sorted(covariate_shift):
        strength = float(covariate_shift[column])
        values = features[column]
        if column in NUMERIC_COLUMNS:
            features[column] = _shift_numeric(values, column, strength)
        else:
            moved = rng.random(values.size) < strength
            features[column] = np.where(moved, shift_target_level(column), values)


def _impute(values: np.ndarray, fallback: float) -> np.ndarray:
    """Fill NaNs with the batch median (or a fallback when everything is missing)."""
    observed = values[~np.isnan(values)]
    fill = float(np.median(observed)) if observed.size else fallback
    return np.where(np.isnan(values), fill, values)


def _latent_signal(features: Mapping[str, np.ndarray]) -> np.ndarray:
    """Compute the feature-driven latent default risk (log-odds), imputing missing values."""
    income = np.maximum(_impute(features["annual_income"], 45_000.0), 1_000.0)
    score = _impute(features["credit_score"], 690.0)
    debt = _impute(features["existing_debt"], 12_000.0)
    years = _impute(features["employment_years"], 4.0)
    age = features["age"]
    dti = np.clip(debt / income, 0, 3)
    lti = np.clip(features["loan_amount"] / income, 0, 3)
    return (
        _LATENT_INTERCEPT
        - 0.011 * (score - 690)
        + 1.1 * dti
        + 0.9 * lti
        + 0.45 * np.minimum(features["num_delinquencies"], 6)
        - 0.03 * np.minimum(years, 10)
        + 0.025 * np.maximum(30 - age, 0)
        + 0.02 * np.maximum(age - 65, 0)
        + 0.25 * np.isnan(features["annual_income"])
        + _lookup(EMPLOYMENT_RISK, features["employment_type"])
        + _lookup(PURPOSE_RISK, features["loan_purpose"])
        + _lookup(CHANNEL_RISK, features["channel"])
        + POSTCODE_EFFECT[pd.Categorical(features["postcode_area"], POSTCODES).codes]
    )


def _apply_concept_drift(
    rng: np.random.Generator, latent: np.ndarray, concept_drift: float
) -> np.ndarray:
    """Blend the latent with fresh noise by share concept_drift, preserving its scale."""
    if not 0.0 <= concept_drift <= 1.0:
        raise ValueError(f"concept_drift must be in [0, 1], got {concept_drift}")
    fresh = rng.normal(0.0, _LATENT_SD, latent.size)
    centred = latent - _LATENT_MEAN
    return _LATENT_MEAN + np.sqrt(1 - concept_drift) * centred + np.sqrt(concept_drift) * fresh


def _targets(
    rng: np.random.Generator, latent: np.ndarray, term: np.ndarray
) -> dict[str, np.ndarray]:
    """Derive defaulted, risk_grade and interest_rate from the latent risk plus noise."""
    n_rows = latent.size
    logit = latent + rng.normal(0.0, _DEFAULT_NOISE_SD, n_rows)
    defaulted = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    graded = latent + rng.normal(0.0, _GRADE_NOISE_SD, n_rows)
    standard = (latent - _LATENT_MEAN) / _LATENT_SD
    rate = 12.5 + 3.8 * standard + 0.04 * (term - 36) + rng.normal(0.0, 1.2, n_rows)
    return {
        "interest_rate": np.round(np.clip(rate, 4.0, 30.0), 2),
        "risk_grade": GRADES[np.searchsorted(_GRADE_EDGES, graded)],
        "defaulted": defaulted,
    }


def generate_applications(
    n_rows: int,
    seed: int,
    start: str,
    end: str,
    covariate_shift: dict[str, float] | None = None,
    concept_drift: float = 0.0,
    id_offset: int = 0,
) -> pd.DataFrame:
    """Generate a seeded synthetic consumer-credit applications frame, sorted by time."""
    if n_rows < 1:
        raise ValueError(f"n_rows must be positive, got {n_rows}")
    shift = dict(covariate_shift or {})
    _validate_shift(shift)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    meta_rng, feature_rng, missing_rng, shift_rng, drift_rng, target_rng = streams
    times = _times(meta_rng, n_rows, start, end)
    names, emails = _names_and_emails(meta_rng, n_rows)
    features = _draw_features(feature_rng, n_rows)
    _mask_missing(missing_rng, features)
    _apply_shift(shift_rng, features, shift)
    latent = _apply_concept_drift(drift_rng, _latent_signal(features), concept_drift)
    targets = _targets(target_rng, latent, features["loan_term_months"])
    frame = pd.DataFrame(
        {
            "application_id": _ids(n_rows, id_offset),
            "application_time": times,
            "applicant_name": names,
            "email": emails,
            **features,
            **targets,
        }
    )
    return frame[list(COLUMN_DTYPES)].astype(COLUMN_DTYPES)


def _derive_seed(seed: int, stream: int) -> int:
    """Derive a distinct, reproducible seed for a numbered stream from a base seed."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def generate_incoming_rows(params: DemoDataParams) -> pd.DataFrame:
    """New rows to score, after the current batch: the raw columns without the outcomes."""
    rows = generate_applications(
        seed=_derive_seed(params.seed, 2),
        id_offset=params.reference.n_rows + params.current.n_rows,
        **params.incoming.model_dump(),
    )
    return rows.drop(columns=list(OUTCOMES))


def generate_demo_batches(params: DemoDataParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Make the reference (historic) and current (later, drifted) batches from parameters."""
    reference = generate_applications(seed=params.seed, **params.reference.model_dump())
    current = generate_applications(
        seed=_derive_seed(params.seed, 1),
        id_offset=params.reference.n_rows,
        **params.current.model_dump(),
    )
    return reference, current

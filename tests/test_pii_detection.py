"""init-contract recognises people's names by content at any number of distinct values, and
tells them from categories that also look like capitalised words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cirrus.contract_inference.profile import pii_by_content

STAFF = ["Anna Meyer", "Ben Schmidt", "Carla Novak", "David Rossi", "Emma Dubois", "Felix Garcia"]
CATEGORIES = {
    "cities": ["New York", "San Francisco", "Los Angeles", "Las Vegas", "Berlin", "Paris"],
    "plans": ["Basic", "Plus", "Pro", "Premium"],
    "purposes": ["Home Improvement", "Debt Consolidation", "Car", "Business", "Education"],
    "colours": ["Red", "Green", "Blue", "Black", "White"],
}


def _column(levels: list[str], rows: int = 500) -> pd.Series:
    """A text column drawing its values from a few levels."""
    return pd.Series(np.random.default_rng(0).choice(levels, rows), dtype=object)


@pytest.mark.parametrize(
    "levels",
    [STAFF, [name.split()[0] for name in STAFF], STAFF[:2]],
    ids=["six-full-names", "six-first-names", "two-full-names"],
)
def test_a_few_distinct_person_names_are_pii_to_review(levels: list[str]) -> None:
    # Arrange
    values = _column(levels)

    # Act
    found = pii_by_content(values, values.nunique())

    # Assert: the old rule needed 20+ distinct values
    assert found is not None
    assert found[0].startswith("person names") and "review" in found[0]


@pytest.mark.parametrize("kind", sorted(CATEGORIES))
def test_categories_of_capitalised_words_are_not_names(kind: str) -> None:
    # Arrange
    values = _column(CATEGORIES[kind])

    # Act / Assert
    assert pii_by_content(values, values.nunique()) is None

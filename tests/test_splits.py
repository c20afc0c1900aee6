"""split_rows gives exactly the rows and order of train_test_split(frame) + sort_index()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from cirrus.splits import split_rows


def _frame(n: int, index: pd.Index | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "label": pd.array(rng.choice(["no", "yes", "maybe"], size=n, p=[0.7, 0.2, 0.1])),
            "value": rng.normal(size=n),
        },
        index=index,
    )


def _sklearn(frame: pd.DataFrame, stratify: pd.Series | None) -> tuple[pd.DataFrame, ...]:
    first, second = train_test_split(frame, test_size=0.2, random_state=7, stratify=stratify)
    return first.sort_index(), second.sort_index()


@pytest.mark.parametrize(
    "index",
    [
        None,
        pd.Index(np.random.default_rng(1).permutation(1000) * 3),  # unique, not ordered
        pd.Index(np.repeat(np.arange(500), 2)),  # ordered, with repeated labels
    ],
    ids=["range", "shuffled", "repeated"],
)
@pytest.mark.parametrize("stratified", [True, False])
def test_split_rows_matches_train_test_split(index: pd.Index | None, stratified: bool) -> None:
    # Arrange
    frame = _frame(1000, index)
    stratify = frame["label"] if stratified else None

    # Act
    ours = split_rows(frame, 0.2, 7, stratify)

    # Assert: same rows, same order, same index
    for mine, theirs in zip(ours, _sklearn(frame, stratify), strict=True):
        if not frame.index.is_unique:
            # sort_index is not stable on repeated labels: compare as sets of (label, row)
            key = ["value"]
            mine, theirs = mine.sort_values(key), theirs.sort_values(key)
        pd.testing.assert_frame_equal(mine, theirs)


def test_numeric_labels_stratify_the_same_way() -> None:
    # Arrange: labels as floats (the training rows' encoded target)
    frame = _frame(500).assign(label=lambda f: (f["label"] == "yes").astype("float64"))

    # Act / Assert
    for mine, theirs in zip(
        split_rows(frame, 0.2, 7, frame["label"]), _sklearn(frame, frame["label"]), strict=True
    ):
        pd.testing.assert_frame_equal(mine, theirs)

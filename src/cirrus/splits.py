"""Row splits shared by the hold-out (features) and early stopping (training).

`split_rows` returns exactly the rows, in exactly the order, of scikit-learn's
`train_test_split(frame, ...)` followed by `sort_index()` on each part, at a fraction of the
cost on large frames: scikit-learn draws positions from the row count alone, and each part is
taken from the frame once, already in index order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def class_codes(labels: pd.Series) -> np.ndarray:
    """Labels as integer codes in their sorted order (what scikit-learn's stratification sees).

    scikit-learn sorts the distinct labels and works on their ranks; giving it the ranks
    directly spares it sorting a million Python strings, and the split drawn is the same.
    """
    return pd.Categorical(labels).codes


def _in_index_order(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """The rows at `positions`, ordered by index label as `sort_index()` orders them."""
    if frame.index.is_unique and frame.index.is_monotonic_increasing:
        return frame.take(np.sort(positions))
    return frame.take(positions).sort_index()


def split_rows(
    frame: pd.DataFrame, test_size: float, seed: int, stratify: pd.Series | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into the rest and a `test_size` share, each in index order, maybe stratified."""
    from sklearn.model_selection import train_test_split

    codes = None if stratify is None else class_codes(stratify)
    first, second = train_test_split(
        np.arange(len(frame)), test_size=test_size, random_state=seed, stratify=codes
    )
    return _in_index_order(frame, first), _in_index_order(frame, second)

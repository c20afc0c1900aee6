"""Evidently stat tests that remember their results, so the report does not repeat a verdict.

The verdicts are computed on all rows; when the report shows all rows too, it runs the same test
on the same values again. For a permutation test (`TVD`: 1,000 rounds of pandas counting, about
2.5 s per column whatever the row count) that doubles the drift stage on a small table. Within
`remembered(...)`, each named test's registered function answers a repeated call (same values in
the same order, same column type, same threshold) with the result it returned the first time.
The tests are deterministic (TVD seeds numpy's generator itself), so the answer is the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

# Tests slow enough that recognising a repeated call (a hash of the values) is cheap beside them.
REMEMBERED_METHODS = frozenset({"TVD"})


def fingerprint(values: pd.Series) -> tuple[int, str]:
    """Row count and SHA-256 of a column's values as texts, in order (dtype aside)."""
    texts = np.asarray(values.astype(str), dtype=object)
    hashed = pd.util.hash_array(texts, categorize=True)
    return len(texts), hashlib.sha256(hashed.tobytes()).hexdigest()


def remembering(function: Callable[..., Any], memory: dict) -> Callable[..., Any]:
    """A stat-test function that answers a repeated call from `memory`."""

    def remembered(reference: Any, current: Any, feature_type: Any, threshold: float) -> Any:
        key = (fingerprint(reference), fingerprint(current), str(feature_type), threshold)
        if key not in memory:
            memory[key] = function(reference, current, feature_type, threshold)
        return memory[key]

    return remembered


@contextmanager
def remembered(methods: frozenset[str] = REMEMBERED_METHODS) -> Iterator[dict]:
    """Within the block, the named Evidently tests remember their results (yields the memory)."""
    from evidently.legacy.calculation_engine.python_engine import PythonEngine
    from evidently.legacy.calculations.stattests.registry import (
        PythonStatTestWrapper,
        _impls,
        _registered_stat_tests,
    )

    memory: dict = {}
    wrapped = []
    for name in methods:
        for stat_test in _registered_stat_tests.get(name, {}).values():
            impl = _impls.get(stat_test, {}).get(PythonEngine)
            if isinstance(impl, PythonStatTestWrapper) and all(impl is not w for w, _ in wrapped):
                wrapped.append((impl, impl.func))
                impl.func = remembering(impl.func, memory)
    try:
        yield memory
    finally:
        for impl, function in wrapped:
            impl.func = function

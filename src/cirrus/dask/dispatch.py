"""Which implementation a node runs: its pandas body, or its Dask variant when a Dask
collection arrives. Imports no Dask: the pandas path stays free of it."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def is_dask(value: Any) -> bool:
    """Whether a value is a Dask collection (a Dask DataFrame or Series), without importing Dask."""
    return type(value).__module__.split(".", 1)[0] == "dask"


def _resolve(implementation: str) -> Callable[..., Any]:
    """The function a `module:function` text names."""
    module, name = implementation.split(":")
    return getattr(importlib.import_module(module), name)


# Runs a pandas function on one worker, its Dask tables concatenated there.
ON_A_WORKER = "cirrus.dask.frames:on_a_worker"


def on_dask(implementation: str | None = None) -> Callable[[F], F]:
    """Run `implementation` (`module:function`, same signature) instead of the decorated
    function when any argument is a Dask collection: one node, one name, two engines.

    Without an implementation, the function itself runs on one worker of the cluster, each Dask
    table among its arguments concatenated there: for a step whose rule needs all its rows at
    once and whose inputs fit one worker (held-out predictions, plot tables).
    """

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            if any(is_dask(value) for value in (*args, *kwargs.values())):
                if implementation is None:
                    return _resolve(ON_A_WORKER)(function, *args, **kwargs)
                return _resolve(implementation)(*args, **kwargs)
            return function(*args, **kwargs)

        run.dask_variant = implementation or ON_A_WORKER  # type: ignore[attr-defined]
        return run  # type: ignore[return-value]

    return decorate

"""Pipeline registry: the five lifecycle pipelines plus the demo-data generator."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from cirrus.catalog import LIFECYCLE


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline; the default runs the lifecycle on the declared raw data.

    `demo_data` is left out of the default on purpose: it overwrites the raw files, which is
    right for the bundled demo and wrong once the catalog points at your own data.
    """
    pipelines = find_pipelines(raise_errors=True)
    # `kedro run --pipelines x` loads only x, so the default exists only when all are loaded.
    if all(name in pipelines for name in LIFECYCLE):
        pipelines["__default__"] = sum((pipelines[name] for name in LIFECYCLE), Pipeline([]))
    return pipelines

"""Pipeline registry: the five lifecycle pipelines, the demo-data generator, batch scoring and
monitoring."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from cirrus.catalog import LIFECYCLE


def registered_pipelines() -> dict[str, Pipeline]:
    """Every registered pipeline by name, `__default__` included (as `kedro run` sees them)."""
    from kedro.framework import project

    # Kedro's find_pipelines needs the package configured, as the Kedro CLI and notebooks do;
    # a plain Python process (a benchmark, a test) configures it here.
    if project.PACKAGE_NAME is None:
        project.configure_project(__name__.split(".")[0])
    return register_pipelines()


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline; the default runs the lifecycle on the declared raw data.

    `demo_data` is left out of the default on purpose: it overwrites the raw files, which is
    right for the bundled demo and wrong once the catalog points at your own data. `inference`
    and `monitoring` need a trained model and run on their own.
    """
    pipelines = find_pipelines(raise_errors=True)
    # `kedro run --pipelines x` loads only x, so the default exists only when all are loaded.
    if all(name in pipelines for name in LIFECYCLE):
        pipelines["__default__"] = sum((pipelines[name] for name in LIFECYCLE), Pipeline([]))
    return pipelines

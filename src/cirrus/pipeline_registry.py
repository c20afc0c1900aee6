"""Pipeline registry: the five lifecycle pipelines, the demo-data generator, batch scoring and
monitoring."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from cirrus.catalog import LIFECYCLE

DRIFT_REPORT_NODE = "drift.run_evidently_drift_report"


def drift_report_on_logged_batch() -> Pipeline:
    """The drift pipeline's report node, reading the logged batch and writing the monitoring
    report (Kedro's dataset remapping: the same node, other datasets)."""
    from cirrus.pipelines.drift import create_pipeline as drift_pipeline
    from cirrus.pipelines.monitoring.pipeline import DRIFT_INPUTS, DRIFT_OUTPUTS

    report = drift_pipeline().only_nodes(DRIFT_REPORT_NODE)
    return Pipeline(
        report,
        inputs=DRIFT_INPUTS,
        outputs=DRIFT_OUTPUTS,
        tags="monitoring",
        namespace="monitoring",
        prefix_datasets_with_namespace=False,
    )


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
    if "monitoring" in pipelines:
        pipelines["monitoring"] = pipelines["monitoring"] + drift_report_on_logged_batch()
    # `kedro run --pipelines x` loads only x, so the default exists only when all are loaded.
    if all(name in pipelines for name in LIFECYCLE):
        pipelines["__default__"] = sum((pipelines[name] for name in LIFECYCLE), Pipeline([]))
    return pipelines

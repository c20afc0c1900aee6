"""Project hooks: the PII salt from credentials, fail-fast parameter checks, all-or-nothing
outputs under one writer at a time."""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec
import yaml
from kedro.framework.hooks import hook_impl
from kedro.io import MemoryDataset
from kedro.pipeline import Pipeline

from cirrus.catalog import (
    ALL_PARAMETERS,
    PII_SALT_DATASET,
    PII_SALT_ENV,
    RAW_DATASETS,
    filesystem_of,
    local_filepath,
    location_of,
    relocate,
    stored_inputs,
    stored_path,
)
from cirrus.inputs import require_inputs
from cirrus.parameters import moved_block_warnings
from cirrus.preflight import (
    check_blocks,
    check_split_sources,
    parse_unread_blocks,
    refuse_unknown_blocks,
    require_blocks,
)
from cirrus.runs import writes
from cirrus.runs.lock import STATE_DIR, RunLock, RunLockError
from cirrus.runs.pause import pause_if
from cirrus.runs.record import Recorder, RunRecord, merged, workflow_run_id
from cirrus.runs.staging import Staging, new_run_id, prune_kept, recover
from cirrus.runs.summary import run_summary
from cirrus.storage import StorageRootError, data_root_of

logger = logging.getLogger(__name__)


class StageProgressHooks:
    """One console line as the run enters each stage (a pipeline's namespace): the progress a
    person follows, where conf/logging.yml leaves out Kedro's line per node and per dataset."""

    def __init__(self) -> None:
        self._nodes: Counter[str] = Counter()
        self._entered: set[str] = set()

    @staticmethod
    def _stage(node: Any) -> str:
        return (node.namespace or "").split(".")[0]

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline) -> None:
        """Count the run's nodes per stage."""
        self._nodes = Counter(self._stage(node) for node in pipeline.nodes)
        self._entered = set()

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        """Say so when the first node of a stage starts."""
        stage = self._stage(node)
        if stage and stage not in self._entered:
            self._entered.add(stage)
            logger.info("Stage %s: %d node(s)", stage, self._nodes[stage])


LOCAL_CREDENTIALS = Path("conf") / "local" / "credentials.yml"


def local_salt(project_path: Path) -> str | None:
    """The salt in this machine's conf/local/credentials.yml, if any: an environment other than
    `local` (`--env dask`) hashes PII as the machine's own runs do."""
    path = project_path / LOCAL_CREDENTIALS
    if not path.is_file():
        return None
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return None  # the default environment names the file's error when it reads it
    return loaded.get(PII_SALT_DATASET) if isinstance(loaded, dict) else None


class PiiSaltHooks:
    """Expose the PII salt (the run environment's credentials `pii_salt`, env CIRRUS_PII_SALT,
    or conf/local/credentials.yml) as a dataset."""

    def __init__(self) -> None:
        self._project_path = Path.cwd()

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        """Remember the project folder, where conf/local lives."""
        self._project_path = Path(context.project_path)

    @hook_impl
    def after_catalog_created(self, catalog: Any, conf_creds: dict[str, Any]) -> None:
        """Register the salt in memory only, so it is never written anywhere."""
        salt = (
            (conf_creds or {}).get(PII_SALT_DATASET)
            or os.environ.get(PII_SALT_ENV)
            or local_salt(self._project_path)
        )
        catalog[PII_SALT_DATASET] = MemoryDataset(salt, copy_mode="assign")


class ParametersCheckHooks:
    """Check what spans parameter blocks before any node runs, so a typo never costs a run.

    Each block the run's nodes read is already parsed into its typed model by Kedro's parameter
    validation when the catalog is built; the blocks no node reads are parsed here.
    """

    def __init__(self) -> None:
        self._conf: Path | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        """Warn about a block still in the file it lived in before (the contract, for one)."""
        conf = Path(str(context.config_loader.conf_source))
        self._conf = conf
        for line in moved_block_warnings(conf / "base"):
            logger.warning(line)

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Require the blocks the run reads, parse the unread ones, check across blocks."""
        keys = sorted(
            n.removeprefix("params:") for n in pipeline.inputs() if n.startswith("params:")
        )
        require_blocks(keys, {key for key in keys if f"params:{key}" in catalog})
        declared = catalog.load(ALL_PARAMETERS) if ALL_PARAMETERS in catalog else {}
        refuse_unknown_blocks(declared, self._conf)
        blocks = {key: catalog.load(f"params:{key}") for key in keys}
        blocks.update(parse_unread_blocks(declared))
        if "contract" not in blocks and "contract" in declared:
            blocks["contract"] = declared["contract"]
        check_blocks(blocks)
        if "ingestion.split" in blocks and set(RAW_DATASETS) <= pipeline.inputs():
            locations = (location_of(catalog, name) for name in RAW_DATASETS)
            check_split_sources(blocks["ingestion.split"], *locations)


class InputsCheckHooks:
    """Fail before any node runs when an input of the run does not exist, saying what makes it."""

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Check every external input of the pipeline exists."""
        require_inputs(catalog, stored_inputs(pipeline), "Input data missing for this run")


class StorageRootHooks:
    """Where every dataset lives under an object-storage root, refuse a run that reads or
    writes a local file: on a cloud runner that file would vanish with the machine."""

    def __init__(self) -> None:
        self._root: str | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        """Remember the environment's data root when it is on object storage."""
        root = str(context.config_loader["globals"].get("data_root", ""))
        self._root = root if "://" in root and not root.startswith("file://") else None

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Name the first dataset of the run that is a local file."""
        if self._root is None:
            return
        for name in sorted(pipeline.datasets()):
            if name.startswith("params:") or name not in catalog:
                continue
            path = local_filepath(catalog.get(name))
            if path is not None:
                raise StorageRootError(
                    f"Dataset '{name}' is a local file ({path}), but this environment keeps "
                    f"every dataset under {self._root}: give it a filepath under "
                    "${globals:data_root}/ in conf/base/catalog.yml (or conf/<env>/catalog.yml)",
                    hint="Keep every dataset under the data root: a cloud machine's disk is lost.",
                )


# A catalog entry's `metadata: {cirrus: {outside_data_root: true}}` lets it write elsewhere.
OUTSIDE_ROOT_FLAG = "outside_data_root"


def declares_outside_root(dataset: Any) -> bool:
    """Whether a dataset's catalog entry declares that it writes outside the data root."""
    metadata = getattr(dataset, "metadata", None) or {}
    return bool((metadata.get("cirrus") or {}).get(OUTSIDE_ROOT_FLAG))


def refuse_outside_root(name: str, dataset: Any, path: str, root: str) -> None:
    """Refuse an output written outside the data root unless its entry declares it: a path
    typed wrong would otherwise write over whatever is there, unversioned and unlocked."""
    inside = posixpath.normpath(path).startswith(posixpath.normpath(root) + "/")
    if inside or declares_outside_root(dataset):
        return
    raise StorageRootError(
        f"Dataset '{name}' would be written to {path}, outside the data root {root}: give it a "
        "filepath under ${globals:data_root}/ in the catalog, or declare it with "
        f"`metadata: {{cirrus: {{{OUTSIDE_ROOT_FLAG}: true}}}}` in its catalog entry",
        hint="Outputs live under the data root, where runs are locked, staged and versioned.",
    )


# Where a failed run's reports go (under the data root), and which staged outputs they are.
REJECTED_DIR = "08_reporting/rejected"
KEPT_REJECTED_RUNS = 5  # the newest failed runs whose reports stay under REJECTED_DIR
SUMMARY_LOCATIONS = ("evaluation_metrics", "drift_summary", "drift_report")


def _is_diagnostic(relative: str) -> bool:
    """Reports and metrics of a run: kept when the run fails, to see why."""
    layer, _, rest = relative.partition("/")
    if layer == "08_reporting":
        return not rest.startswith("rejected/")
    return layer == "06_models" and rest.endswith((".json", ".csv"))


def _append_to_message(error: BaseException, text: str) -> None:
    """Add a sentence to an error's one-string message (others are left as they are)."""
    if len(error.args) == 1 and isinstance(error.args[0], str):
        error.args = (f"{error.args[0]} {text}",)


def _as_typed(location: str | None) -> str | None:
    """A local path as a person types it from the project folder (relative when inside it)."""
    if location is None or "://" in location:
        return location
    path = Path(location)
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else location


def _log_summary(catalog: Any, names: set[str]) -> None:
    """Log the run summary from the outputs this run published."""
    outputs = {}
    for name in ("evaluation_metrics", "quality_gate_result", "drift_summary"):
        if name in names:
            with contextlib.suppress(Exception):  # a summary must never fail a finished run
                outputs[name] = catalog.load(name)
    locations = {
        name: _as_typed(location_of(catalog, name)) for name in SUMMARY_LOCATIONS if name in names
    }
    lines = run_summary(outputs, locations)
    if lines:
        logger.info("Run summary:\n  %s", "\n  ".join(lines))


class AllOrNothingHooks:
    """A run's outputs appear together, only when it succeeds, even if the process is killed.

    Before the first node: take the data root's lock (a second run refuses at once), repair
    what a killed run left (`cirrus.runs.staging.recover`), then point every persisted output at
    its staging place. After the last node: publish the staged set with a journal. On failure:
    discard it; the previous outputs were never touched.
    """

    def __init__(self) -> None:
        self._staging: Staging | None = None
        self._lock: RunLock | None = None
        self._finals: dict[str, tuple[Any, str]] = {}
        self._root = "data"

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        """Remember the data root; repair a local one now, if no run is active on it."""
        root = data_root_of(context)
        self._root = root
        if "://" in root:
            return  # object storage: repaired by the next run, which has its credentials
        fs = fsspec.filesystem("file")
        if not fs.exists(f"{root}/{STATE_DIR}"):
            return
        try:
            lock = RunLock(fs, root, new_run_id()).acquire()
        except RunLockError:
            return  # a run is active: it repairs the root itself
        try:
            for line in recover(fs, root):
                logger.warning("Repaired %s: %s.", root, line)
        finally:
            lock.release()

    def _outputs(self, pipeline: Pipeline, catalog: Any) -> tuple[Any, str, dict[str, Any]]:
        """The filesystem and root path of the data, and the run's outputs stored on it."""
        root_fs, root_path = fsspec.core.url_to_fs(self._root)
        outputs = {}
        for name in sorted(pipeline.all_outputs()):
            dataset = catalog.get(name) if name in catalog else None
            path = stored_path(dataset) if dataset is not None else None
            fs = filesystem_of(dataset) if dataset is not None else None
            if path is None or fs is None:
                continue
            if fs.protocol != root_fs.protocol:
                logger.warning(
                    "Output '%s' is not on the data root's store: written directly.", name
                )
                continue
            if root_fs.protocol not in ("file", ("file", "local")):
                root_fs = fs  # the datasets' own client carries the store's credentials
            refuse_outside_root(name, dataset, path, root_path.rstrip("/"))
            outputs[name] = dataset
        return root_fs, root_path.rstrip("/"), outputs

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Lock the root, repair it, and stage every output of this run."""
        fs, root, outputs = self._outputs(pipeline, catalog)
        run_id = new_run_id()
        self._lock = RunLock(fs, root, run_id).acquire()
        try:
            for line in recover(fs, root):
                logger.warning("Repaired %s: %s.", root, line)
            self._staging = Staging(
                fs, root, run_id, on_move=lambda count: pause_if("publish", str(count))
            )
            finals = {name: str(stored_path(dataset)) for name, dataset in outputs.items()}
            staged = self._staging.plan(finals.values())
        except BaseException:
            self._release()
            raise
        self._finals = {name: (outputs[name], final) for name, final in finals.items()}
        for dataset, final in self._finals.values():
            relocate(dataset, staged[final])
        writes.start()  # staged files may now be written beside the next node

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        """A named point tests can hold the run at."""
        pause_if("node", node.name)

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str) -> None:
        """A named point tests can hold the run at."""
        pause_if("load", dataset_name)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        """A named point tests can hold the run at."""
        pause_if("saved", dataset_name)

    @hook_impl
    def after_pipeline_run(self, catalog: Any) -> None:
        """The run succeeded: publish its outputs together, then say what came out."""
        if self._staging is None:
            return
        try:
            writes.finish()  # every file is whole before any is published
            if self._lock is not None:
                self._lock.ensure_held()  # a run whose lease was taken over publishes nothing
        except Exception as error:
            self.on_pipeline_error(error)
            raise
        names = set(self._finals)
        try:
            published = self._staging.publish()
            logger.info("Published %d output(s) of run %s.", published, self._staging.run_id)
        finally:
            self._restore_paths()
            self._release()
        _log_summary(catalog, names)

    @hook_impl
    def on_pipeline_error(self, error: Exception) -> None:
        """The run failed: keep its reports aside for diagnosis, drop the rest it staged.

        Keeping the reports is best effort: when it fails too (a full disk), the run's own error
        stays the one reported, and the staging area is discarded all the same.
        """
        if self._staging is None:
            return
        writes.finish(raise_errors=False)  # nothing may still be writing into what is discarded
        staging = self._staging
        try:
            self._keep_reports(staging, error)
        finally:
            try:
                staging.discard()
                logger.warning(
                    "Run failed: no output was changed (staged outputs of run %s discarded).",
                    staging.run_id,
                )
            finally:
                self._restore_paths()
                self._release()

    def _keep_reports(self, staging: Staging, error: Exception) -> None:
        """Copy the failed run's reports to `rejected/<time>-<run id>/`, keeping the last few."""
        rejected = f"{staging.root}/{REJECTED_DIR}"
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")  # sorts by time
        target = f"{rejected}/{stamp}-{staging.run_id}"
        note = f"Run {staging.run_id} failed: {type(error).__name__}: {error}\n"
        try:
            kept = staging.keep(target, _is_diagnostic, note)
            prune_kept(staging.fs, rejected, KEPT_REJECTED_RUNS)
        except Exception as copy_error:
            logger.warning(
                "Could not keep the failed run's reports in %s (%s: %s); its error follows.",
                self._rejected_location(target),
                type(copy_error).__name__,
                copy_error,
            )
            return
        if kept:
            where = self._rejected_location(target)
            logger.warning("The failed run's metrics, plots and reason are in %s.", where)
            _append_to_message(error, f"(The failed run's reports are in {where}.)")

    def _rejected_location(self, target: str) -> str:
        """The rejected-run folder as a person would type it (URL on object storage)."""
        protocol = self._root.split("://", 1)[0] if "://" in self._root else None
        return f"{protocol}://{target}" if protocol else target

    def _restore_paths(self) -> None:
        """Point the datasets back at their final places (the catalog may be reused)."""
        for dataset, final in self._finals.values():
            relocate(dataset, final)
        self._finals = {}
        self._staging = None

    def _release(self) -> None:
        """Give the root's lock back."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None


RUN_RECORD = "run_record"


def stored_size(catalog: Any, name: str) -> int:
    """The bytes a dataset holds on its storage (a folder: all its files); 0 when not stored."""
    if name not in catalog or name.startswith("params:") or name == ALL_PARAMETERS:
        return 0
    dataset = catalog.get(name)
    fs, path = filesystem_of(dataset), stored_path(dataset)
    if fs is None or path is None:
        return 0
    try:
        return int(fs.du(path)) if fs.isdir(path) else int(fs.size(path))
    except (OSError, ValueError):
        return 0


class RunRecordHooks:
    """Measure every node of a successful run and save the run record before it is published.

    Registered after `AllOrNothingHooks`, so pluggy calls its `after_pipeline_run` first: the
    staged outputs are still where the run wrote them, and every background write is waited for
    before their sizes are read. A failed run records nothing.
    """

    def __init__(self, staging_hooks: AllOrNothingHooks) -> None:
        self._staging_hooks = staging_hooks
        self._recorder: Recorder | None = None
        self._pipelines: list[str] = []

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Start the run's clock (a catalog without a `run_record` entry records nothing)."""
        if RUN_RECORD not in catalog:
            self._recorder = None
            return
        self._recorder = Recorder()
        stages = (StageProgressHooks._stage(node) for node in pipeline.nodes)
        self._pipelines = [stage for stage in dict.fromkeys(stages) if stage]

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        """Start the node's clocks and its peak-memory window."""
        if self._recorder is not None:
            self._recorder.node_started(node.name)

    @hook_impl
    def after_node_run(self, node: Any, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        """Record what the node used (and the raw reference rows the ingestion report counted,
        when the table was read lazily)."""
        if self._recorder is not None:
            stage = StageProgressHooks._stage(node)
            self._recorder.node_finished(node.name, stage, inputs, outputs)
            report = outputs.get("ingestion_report")
            if self._recorder.reference_rows is None and isinstance(report, dict):
                self._recorder.reference_rows = report.get("raw_reference_rows")

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        """Note the raw reference table's rows: what a run's cost scales with. A Dask table is
        not counted here (that would read the whole file once more): its ingestion report
        counts it."""
        lazy = hasattr(data, "npartitions")
        if self._recorder is not None and dataset_name == "raw_reference" and not lazy:
            self._recorder.reference_rows = len(data)

    @hook_impl
    def after_pipeline_run(self, catalog: Any) -> None:
        """Save the run record: this run's steps replace theirs in the record of earlier runs."""
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        with contextlib.suppress(Exception):
            writes.wait()  # sizes of whole files; a failed write fails the publish that follows
        staging = self._staging_hooks._staging
        run_id = workflow_run_id() or (staging.run_id if staging else new_run_id())
        record = recorder.record(run_id, self._pipelines, lambda name: stored_size(catalog, name))
        previous: RunRecord | None = None
        if catalog.exists(RUN_RECORD):
            with contextlib.suppress(Exception):  # an unreadable record is replaced
                previous = catalog.load(RUN_RECORD)
        catalog.save(RUN_RECORD, merged(previous, record))

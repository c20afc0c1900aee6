"""Every known error is a CirrusError with a message and a hint; how the chain is unwrapped,
which third-party errors are known, and when a traceback is asked for."""

from __future__ import annotations

import importlib
import inspect
import logging
import pickle
import pkgutil
import subprocess
import sys
from collections.abc import Callable

import click
import pytest
from click.testing import CliRunner
from kedro.io.core import DatasetError
from kedro.validation.exceptions import ParameterValidationError
from omegaconf import OmegaConf

import cirrus
from cirrus.cli import RESTATING_LOGGERS, readable_errors
from cirrus.contract import ContractError, DataContractViolation
from cirrus.deploy.deploy_yml import DeployConfigError
from cirrus.deploy.plan import PlanError
from cirrus.errors import (
    THIRD_PARTY_HINTS,
    TRACEBACK_ENV,
    WRAPPERS,
    CirrusError,
    KnownErrorLogFilter,
    class_name,
    hint_of,
    is_known,
    message_of,
    readable_error,
    traceback_requested,
)
from cirrus.feature_spec import FeatureSpecError
from cirrus.inputs import MissingInputError
from cirrus.parameters import ConfigError
from cirrus.pipelines.evaluation.nodes import QualityGateFailed
from cirrus.pipelines.monitoring.nodes import MonitoringError
from cirrus.runs.lock import RunLockError
from cirrus.serving.config import ServeError
from cirrus.serving.models import ModelRefused
from cirrus.storage import StorageRootError
from cirrus.versioning.dvc_yaml import DvcGenerationError
from cirrus.versioning.promotion import GitCommandError, PromotionError


def _raised(raise_it: Callable[[], None]) -> BaseException:
    """The exception a function raises, with the chain Python gave it."""
    try:
        raise_it()
    except Exception as error:
        return error
    raise AssertionError("nothing was raised")


def _project_exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of the `cirrus` package, by its full name."""
    found = {}
    for module_info in pkgutil.walk_packages(cirrus.__path__, "cirrus."):
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[class_name(value)] = value
    return found


# --- one error type ----------------------------------------------------------------------------


def test_every_exception_class_of_the_project_is_a_cirrus_error() -> None:
    # Act
    classes = _project_exception_classes()

    # Assert: a new exception class cannot be forgotten
    assert "cirrus.pipelines.monitoring.nodes.MonitoringError" in classes  # the walk sees them all
    strays = sorted(name for name, cls in classes.items() if not issubclass(cls, CirrusError))
    assert not strays, f"not CirrusError subclasses: {strays}"


def test_every_project_error_has_a_one_line_hint() -> None:
    # Act
    hints = {name: cls.hint for name, cls in _project_exception_classes().items()}

    # Assert
    bad = {name: hint for name, hint in hints.items() if not hint.strip() or "\n" in hint}
    assert not bad, bad


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("bad key"),
        ContractError("bad contract"),
        StorageRootError("no storage root"),
        DeployConfigError("bad deploy.yml"),
        PlanError("bad plan"),
        DataContractViolation("missing column"),
        MissingInputError("Input data missing"),
        QualityGateFailed("Quality gate failed"),
        FeatureSpecError("bad spec"),
        RunLockError("held by pid 1"),
        DvcGenerationError("outside data/"),
        PromotionError("not a git repository"),
        GitCommandError("git failed"),
        MonitoringError("too few rows"),
        ServeError("no token"),
        ModelRefused("does not load"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_project_errors_are_reported_by_themselves_with_their_hint(error: Exception) -> None:
    # Act
    reported = readable_error(error)

    # Assert
    assert reported is error
    assert hint_of(error) == type(error).hint


def test_the_builtin_bases_are_kept_for_existing_handlers() -> None:
    # Act / Assert: `except ValueError` and `except FileNotFoundError` still catch them
    assert isinstance(DataContractViolation("x"), ValueError)
    assert isinstance(MissingInputError("x"), FileNotFoundError)
    assert isinstance(QualityGateFailed("x"), RuntimeError)
    assert not isinstance(ConfigError("x"), ValueError)  # pydantic would swallow it


def test_a_hint_given_where_raised_replaces_the_class_default() -> None:
    # Act
    error = StorageRootError("Dataset 'x' is a local file", hint="Move it under the root.")

    # Assert
    assert hint_of(error) == "Move it under the root."
    assert message_of(error) == "Dataset 'x' is a local file"
    assert hint_of(StorageRootError("no root")) == StorageRootError.hint


def test_a_hint_survives_pickling() -> None:
    # Arrange: parallel runners send a worker's error back pickled
    error = MissingInputError("Input data missing: 'raw'", hint="Make it.")

    # Act
    copy = pickle.loads(pickle.dumps(error))

    # Assert
    assert (type(copy), str(copy), hint_of(copy)) == (MissingInputError, str(error), "Make it.")


@pytest.mark.parametrize("name", sorted({*THIRD_PARTY_HINTS, *WRAPPERS}))
def test_every_named_third_party_class_exists(name: str) -> None:
    # Arrange
    module, _, qualname = name.rpartition(".")

    # Act
    cls = getattr(importlib.import_module(module), qualname)

    # Assert
    assert issubclass(cls, Exception)
    assert class_name(cls) == name


@pytest.mark.parametrize(
    "error",
    [
        ParameterValidationError("Parameter validation failed"),
        DatasetError("Failed while loading data"),
        importlib.import_module("gto.exceptions").GTOException("no such artifact"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_known_third_party_errors_are_reported_with_their_hint(error: Exception) -> None:
    # Act
    reported = readable_error(error)

    # Assert
    assert reported is error
    assert hint_of(error) == THIRD_PARTY_HINTS[class_name(type(error))]


@pytest.mark.parametrize(
    "error",
    [ValueError("x"), AttributeError("x"), OSError("disk full"), KeyError("x"), RuntimeError()],
    ids=lambda error: type(error).__name__,
)
def test_plain_python_errors_are_unknown(error: Exception) -> None:
    # Act
    reported = readable_error(error)

    # Assert
    assert reported is None
    assert not is_known(error)
    assert hint_of(error) == ""


def test_a_class_of_the_same_name_elsewhere_is_not_known() -> None:
    # Arrange
    lookalike = type("QualityGateFailed", (RuntimeError,), {"__module__": "elsewhere"})

    # Act
    reported = readable_error(lookalike("Quality gate failed"))

    # Assert
    assert reported is None


# --- the chain of causes -----------------------------------------------------------------------


def test_kedro_dataset_error_wrapping_a_violation_is_reported_as_the_violation() -> None:
    # Arrange
    violation = DataContractViolation("Dataset 'raw' is missing column(s) ['age']")

    def load() -> None:
        try:
            raise violation
        except DataContractViolation as exc:
            raise DatasetError(f"Failed while loading data from dataset raw.\n{exc}") from exc

    # Act
    reported = readable_error(_raised(load))

    # Assert: the project's error, whose hint says what to do
    assert reported is violation
    assert "missing column(s) ['age']" in message_of(reported)


def test_a_dataset_error_around_an_unknown_error_is_reported_as_itself() -> None:
    # Arrange
    def load() -> None:
        try:
            raise IsADirectoryError("Is a directory: 'data/01_raw/x.csv'")
        except OSError as exc:
            raise DatasetError("Failed while loading data from dataset x.") from exc

    error = _raised(load)

    # Act
    reported = readable_error(error)

    # Assert
    assert reported is error


def test_omegaconf_wrappers_around_a_resolver_error_are_unwrapped() -> None:
    # Arrange: a resolver raises, as the storage root's does in conf/cloud/globals.yml
    def no_root() -> str:
        raise StorageRootError("No storage root: set CIRRUS_STORAGE_ROOT")

    OmegaConf.register_new_resolver("cirrus_test_no_root", no_root, replace=True)
    config = OmegaConf.create({"data_root": "${cirrus_test_no_root:}", "x": "${data_root}/a"})

    # Act
    error = _raised(lambda: OmegaConf.to_container(config, resolve=True))
    reported = readable_error(error)

    # Assert: OmegaConf cut the cause (no OC_CAUSE), the context still leads to it
    assert type(error).__name__ == "InterpolationResolutionError"
    assert error.__cause__ is None
    assert isinstance(reported, StorageRootError)
    assert message_of(reported) == "No storage root: set CIRRUS_STORAGE_ROOT"


def test_an_omegaconf_error_of_its_own_is_unknown() -> None:
    # Arrange
    config = OmegaConf.create({"x": "${missing_key}"})

    # Act
    reported = readable_error(_raised(lambda: OmegaConf.to_container(config, resolve=True)))

    # Assert
    assert reported is None


def test_the_outermost_project_error_wins() -> None:
    # Arrange
    inner = ConfigError("bad key")

    def run() -> None:
        try:
            raise inner
        except ConfigError as exc:
            raise ContractError("the contract is invalid: bad key") from exc

    error = _raised(run)

    # Act
    reported = readable_error(error)

    # Assert
    assert reported is error


def test_an_unknown_wrapper_with_an_explicit_known_cause_reports_the_cause() -> None:
    # Arrange
    gate = QualityGateFailed("Quality gate failed: roc_auc = 0.6 is below the minimum 0.7")

    def run() -> None:
        raise RuntimeError("node check_quality_gate failed") from gate

    # Act
    reported = readable_error(_raised(run))

    # Assert
    assert reported is gate


def test_an_unknown_wrapper_that_restates_a_known_error_reports_it() -> None:
    # Arrange
    missing = MissingInputError("Input data missing for this run: 'raw_current'")

    def run() -> None:
        try:
            raise missing
        except MissingInputError as exc:
            raise RuntimeError(f"Pipeline run failed: {exc}")  # noqa: B904

    # Act
    reported = readable_error(_raised(run))

    # Assert
    assert reported is missing


def test_a_new_failure_while_handling_a_known_error_is_unknown() -> None:
    # Arrange: restoring the outputs fails after the gate refused the model
    def run() -> None:
        try:
            raise QualityGateFailed("Quality gate failed")
        except QualityGateFailed:
            raise OSError("No space left on device")  # noqa: B904

    # Act
    reported = readable_error(_raised(run))

    # Assert
    assert reported is None


def test_a_suppressed_context_is_not_followed() -> None:
    # Arrange
    def run() -> None:
        try:
            raise ConfigError("bad key")
        except ConfigError:
            raise ValueError("something else: bad key") from None

    # Act
    reported = readable_error(_raised(run))

    # Assert
    assert reported is None


def test_a_cycle_in_the_chain_ends_the_walk() -> None:
    # Arrange
    first, second = ValueError("a"), ValueError("b")
    first.__cause__, second.__cause__ = second, first

    # Act
    reported = readable_error(first)

    # Assert
    assert reported is None


# --- messages and the opt-in traceback ---------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (KeyError("Metric 'model.auc' not found"), "Metric 'model.auc' not found"),
        (ConfigError("  unknown key 'x'\n"), "unknown key 'x'"),
        (QualityGateFailed(), "QualityGateFailed"),
    ],
)
def test_message_is_the_errors_own_text(error: Exception, expected: str) -> None:
    # Act
    message = message_of(error)

    # Assert
    assert message == expected


@pytest.mark.parametrize(
    ("value", "requested"),
    [("1", True), ("true", True), ("YES", True), (" on ", True), ("0", False), ("", False)],
)
def test_traceback_is_requested_by_the_environment(value: str, requested: bool) -> None:
    # Act
    asked = traceback_requested({TRACEBACK_ENV: value})

    # Assert
    assert asked is requested
    assert traceback_requested({}) is False


def test_the_classifier_imports_no_pipeline_and_no_kedro() -> None:
    # Arrange
    probe = (
        "import sys, cirrus.errors; "
        "print(sorted(m for m in sys.modules if m.startswith(('cirrus.', 'kedro'))))"
    )

    # Act
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)

    # Assert
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['cirrus.errors']"


# --- printed once, in a few lines --------------------------------------------------------------


class _Records(logging.Handler):
    """The messages of the records that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def node_log():
    """Kedro's node logger (one of the RESTATING_LOGGERS), with a handler to read its records."""
    logger = logging.getLogger(RESTATING_LOGGERS[0])
    records = _Records()
    logger.addHandler(records)
    yield logger, records
    logger.removeHandler(records)


def _log_while_handling(logger: logging.Logger, error: Exception, level: int) -> None:
    """Log a record the way Kedro's node does: inside the handler of the error."""
    try:
        raise error
    except Exception as exc:
        logger.log(level, "Node n failed with error: \n%s", exc)


@pytest.mark.parametrize(
    ("error", "level", "kept"),
    [
        (QualityGateFailed("Quality gate failed"), logging.ERROR, False),
        (ParameterValidationError("Parameter validation failed"), logging.ERROR, False),
        (RuntimeError("boom"), logging.ERROR, True),
        (QualityGateFailed("Quality gate failed"), logging.WARNING, True),
    ],
    ids=["known", "known-third-party", "unknown", "below-error"],
)
def test_the_log_filter_drops_only_error_records_of_known_errors(
    node_log, error: Exception, level: int, kept: bool
) -> None:
    # Arrange
    logger, records = node_log
    log_filter = KnownErrorLogFilter()
    logger.addFilter(log_filter)

    # Act
    try:
        _log_while_handling(logger, error, level)
    finally:
        logger.removeFilter(log_filter)

    # Assert
    assert bool(records.messages) is kept


def test_the_log_filter_reads_an_explicit_exc_info() -> None:
    # Arrange
    record = logging.LogRecord("kedro", logging.ERROR, __file__, 1, "failed", None, None)
    record.exc_info = (MonitoringError, MonitoringError("too few rows"), None)

    # Act
    kept = KnownErrorLogFilter().filter(record)

    # Assert
    assert kept is False


@click.command()
def _failing_command() -> None:
    """A command whose node logs a known error, then raises it, as Kedro's runner does."""
    with readable_errors("Set CIRRUS_TRACEBACK=1 to see the full traceback."):
        _log_while_handling(
            logging.getLogger(RESTATING_LOGGERS[0]),
            QualityGateFailed("Quality gate failed: roc_auc = 0.6 is below the minimum 0.7"),
            logging.ERROR,
        )
        raise QualityGateFailed("Quality gate failed: roc_auc = 0.6 is below the minimum 0.7")


def test_a_known_error_is_printed_once_as_message_hint_and_note(node_log, monkeypatch) -> None:
    # Arrange
    monkeypatch.delenv(TRACEBACK_ENV, raising=False)
    _, records = node_log

    # Act
    result = CliRunner().invoke(_failing_command)

    # Assert
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: Quality gate failed: roc_auc = 0.6 is below the minimum 0.7",
        f"Hint: {QualityGateFailed.hint}",
        "Set CIRRUS_TRACEBACK=1 to see the full traceback.",
    ]
    assert records.messages == []  # Kedro's log line of it was dropped
    left = [f for name in RESTATING_LOGGERS for f in logging.getLogger(name).filters]
    assert not any(isinstance(f, KnownErrorLogFilter) for f in left)  # removed on the way out


def test_with_the_traceback_asked_for_the_error_propagates_and_its_log_is_kept(
    node_log, monkeypatch
) -> None:
    # Arrange
    monkeypatch.setenv(TRACEBACK_ENV, "1")
    _, records = node_log

    # Act
    result = CliRunner().invoke(_failing_command)

    # Assert
    assert isinstance(result.exception, QualityGateFailed)
    assert "Error:" not in result.output
    assert len(records.messages) == 1

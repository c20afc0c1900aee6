"""Which errors are shown by their message alone, and when a traceback is asked for."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable

import pytest
from kedro.io.core import DatasetError
from kedro.validation.exceptions import ParameterValidationError

from cirrus.contract import ContractError, DataContractViolation
from cirrus.deploy.deploy_yml import DeployConfigError
from cirrus.deploy.plan import PlanError
from cirrus.errors import (
    KNOWN_ERRORS,
    TRACEBACK_ENV,
    class_name,
    is_known,
    message_of,
    readable_error,
    traceback_requested,
)
from cirrus.feature_spec import FeatureSpecError
from cirrus.inputs import MissingInputError
from cirrus.parameters import ConfigError
from cirrus.pipelines.evaluation.nodes import QualityGateFailed
from cirrus.runs.lock import RunLockError
from cirrus.storage import StorageRootError
from cirrus.versioning.promotion import GitCommandError, PromotionError


def _raised(raise_it: Callable[[], None]) -> BaseException:
    """The exception a function raises, with the chain Python gave it."""
    try:
        raise_it()
    except Exception as error:
        return error
    raise AssertionError("nothing was raised")


# --- the known kinds ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KNOWN_ERRORS))
def test_every_known_name_is_an_exception_class_that_is_known(name: str) -> None:
    # Arrange
    module, _, qualname = name.rpartition(".")

    # Act
    cls = getattr(importlib.import_module(module), qualname)

    # Assert
    assert issubclass(cls, Exception)
    assert class_name(cls) == name
    assert is_known(cls.__new__(cls))


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("bad key"),
        ContractError("bad contract"),
        StorageRootError("no storage root"),
        DeployConfigError("bad deploy.yml"),
        PlanError("bad plan"),
        ParameterValidationError("Parameter validation failed"),
        DataContractViolation("missing column"),
        MissingInputError("Input data missing"),
        QualityGateFailed("Quality gate failed"),
        FeatureSpecError("bad spec"),
        RunLockError("held by pid 1"),
        DatasetError("Failed while loading data"),
        PromotionError("not a git repository"),
        GitCommandError("git failed"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_known_kinds_and_their_subclasses_are_reported_by_themselves(error: Exception) -> None:
    # Act
    reported = readable_error(error)

    # Assert
    assert reported is error


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


def test_a_class_of_the_same_name_elsewhere_is_not_known() -> None:
    # Arrange
    lookalike = type("QualityGateFailed", (RuntimeError,), {"__module__": "elsewhere"})

    # Act
    reported = readable_error(lookalike("Quality gate failed"))

    # Assert
    assert reported is None


# --- the chain of causes -----------------------------------------------------------------------


def test_kedro_dataset_error_wrapping_a_violation_is_reported_as_the_dataset_error() -> None:
    # Arrange
    def load() -> None:
        try:
            raise DataContractViolation("Dataset 'raw' is missing column(s) ['age']")
        except DataContractViolation as exc:
            raise DatasetError(f"Failed while loading data from dataset raw.\n{exc}") from exc

    error = _raised(load)

    # Act
    reported = readable_error(error)

    # Assert
    assert reported is error
    assert "missing column(s) ['age']" in message_of(reported)


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

"""Which errors a person can act on from their message alone, so the CLI shows just the message.

A failing `kedro run` or `kedro cirrus ...` of a known kind (bad parameters, a contract
violation, a bad or missing input, the quality gate, a held lock, ...) prints the project's own
message in a few lines; anything else keeps its full traceback, and `CIRRUS_TRACEBACK=1` shows
the traceback for known errors too.

The known kinds are named, not imported: this module stays light and imports no pipeline (the
quality gate lives in the evaluation pipeline). `tests/test_errors.py` checks every name still
resolves to its class.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

TRACEBACK_ENV = "CIRRUS_TRACEBACK"

# Exception classes (module.qualname) whose message says what is wrong and where; subclasses
# are known too (ContractError, StorageRootError, DeployConfigError are ConfigErrors).
KNOWN_ERRORS = frozenset(
    {
        "cirrus.parameters.ConfigError",  # parameters, contract, storage root, deploy.yml
        "kedro.validation.exceptions.ParameterValidationError",  # a block failed its model
        "cirrus.contract.DataContractViolation",  # the data breaks the declared contract
        "cirrus.inputs.MissingInputError",  # an input of the run does not exist yet
        "cirrus.pipelines.evaluation.nodes.QualityGateFailed",  # the model is not good enough
        "cirrus.feature_spec.FeatureSpecError",  # the fitted feature spec is unusable
        "cirrus.runs.lock.RunLockError",  # another run holds the data root
        "kedro.io.core.DatasetError",  # an input file cannot be read, naming the dataset
        "cirrus.versioning.dvc_yaml.DvcGenerationError",  # dvc.yaml cannot be generated
        "cirrus.versioning.promotion.PromotionError",  # no git repository, unknown ref
        "gto.exceptions.GTOException",  # the model registry refuses, saying why
    }
)

_TRUE = {"1", "true", "yes", "on"}


def class_name(cls: type) -> str:
    """`module.qualname` of a class, the form KNOWN_ERRORS uses."""
    return f"{cls.__module__}.{cls.__qualname__}"


def is_known(error: BaseException, known: frozenset[str] = KNOWN_ERRORS) -> bool:
    """Whether the error is of a known kind (its class or one of its bases is named)."""
    return any(class_name(cls) in known for cls in type(error).__mro__)


def _next_in_chain(error: BaseException) -> BaseException | None:
    """The exception `error` stands for, if it is a wrapper around another one.

    An explicit cause (`raise Wrapper(...) from error`) always is. An implicit context (an
    exception raised while handling another) only when its message restates the other's:
    otherwise it is a new failure (say, restoring outputs failed after the quality gate), and
    reporting the first error alone would hide it.
    """
    if error.__cause__ is not None:
        return error.__cause__
    context = error.__context__
    if context is None or error.__suppress_context__:
        return None
    inner = str(context).strip()
    return context if inner and inner in str(error) else None


def readable_error(
    error: BaseException, known: frozenset[str] = KNOWN_ERRORS
) -> BaseException | None:
    """The known error whose message explains `error`, or None when it is of an unknown kind.

    The outermost known error of the chain wins: a Kedro `DatasetError` ("Failed while loading
    data from dataset ...") names the dataset and repeats the message of the error it wraps.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if is_known(current, known):
            return current
        seen.add(id(current))
        current = _next_in_chain(current)
    return None


def message_of(error: BaseException) -> str:
    """The error's own message (KeyError's without the quotes repr adds), else its class name."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return text.strip() or type(error).__name__


def traceback_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether CIRRUS_TRACEBACK asks for full tracebacks even for known errors."""
    value = (os.environ if environ is None else environ).get(TRACEBACK_ENV, "")
    return value.strip().lower() in _TRUE

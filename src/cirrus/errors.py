"""One error type for the failures a person can act on: `CirrusError`, a message and a hint.

Every exception the project raises is a `CirrusError` subclass (kept beside the code that raises
it: `ConfigError` in `parameters`, `DataContractViolation` in `contract`, ...). Its message says
what is wrong and where; its `hint` says, in one line, what to do (a class default, or given per
instance: `raise ConfigError("...", hint="...")`).

A failing `kedro run` or `kedro cirrus ...` whose error is (or wraps) one of them prints the
message and the hint in a few lines instead of a traceback. The chain of causes is walked through
the wrappers Kedro and OmegaConf put around the project's errors: Kedro's `DatasetError` around
a contract violation, OmegaConf's `InterpolationResolutionError` around a `StorageRootError`
raised by a config resolver. A few third-party errors say enough on their own and are known by
name (THIRD_PARTY_HINTS). Anything else keeps its full traceback; `kedro run --verbose` or
`CIRRUS_TRACEBACK=1` shows the traceback for known errors too.

This module imports nothing from the project, Kedro or OmegaConf, so every module may import it.
`tests/test_errors.py` checks that every exception class under `cirrus` is a `CirrusError`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping

TRACEBACK_ENV = "CIRRUS_TRACEBACK"


class CirrusError(Exception):
    """A failure the message explains: what is wrong and where; `hint` says what to do.

    `hint` is one line; a subclass sets its default, a raise site may give its own. The other
    positional arguments are the exception's own (`str(error)` is the message).
    """

    hint: str = "Fix what the message names, then run the command again."

    def __init__(self, *args: object, hint: str | None = None) -> None:
        super().__init__(*args)
        if hint is not None:
            self.hint = hint


# Third-party errors whose message says what is wrong (`module.qualname`, subclasses included),
# with the hint shown under it. Named, not imported: this module stays light.
THIRD_PARTY_HINTS: Mapping[str, str] = {
    "kedro.validation.exceptions.ParameterValidationError": (
        "Fix the parameter named above in conf/base/parameters_<pipeline>.yml "
        "(or its override in conf/<env>/ or --params)."
    ),
    "kedro.io.core.DatasetError": (
        "Check that dataset's entry in conf/<env>/catalog.yml and that its file can be read."
    ),
    "gto.exceptions.GTOException": (
        "The model registry refused, saying why above; `gto show` lists versions and stages."
    ),
}

# Errors that wrap the one they were raised for and restate its message, with the inner error
# as a suppressed context (OmegaConf drops `__cause__` unless OC_CAUSE=1): followed anyway.
WRAPPERS = frozenset({"omegaconf.errors.OmegaConfBaseException"})

_TRUE = {"1", "true", "yes", "on"}


def class_name(cls: type) -> str:
    """`module.qualname` of a class, the form THIRD_PARTY_HINTS and WRAPPERS use."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _named(error: BaseException, names: Mapping[str, str] | frozenset[str]) -> str | None:
    """The first name in `names` of the error's class or one of its bases."""
    return next((class_name(c) for c in type(error).__mro__ if class_name(c) in names), None)


def is_known(error: BaseException) -> bool:
    """Whether the error itself is of a known kind: a CirrusError or a named third-party one."""
    return isinstance(error, CirrusError) or _named(error, THIRD_PARTY_HINTS) is not None


def _next_in_chain(error: BaseException) -> BaseException | None:
    """The exception `error` stands for, if it is a wrapper around another one.

    An explicit cause (`raise Wrapper(...) from error`) always is. An implicit context (an
    exception raised while handling another) only when its message restates the other's, and
    is not suppressed (`from None`) unless the error is a known wrapper (WRAPPERS): otherwise it
    is a new failure (say, restoring outputs failed after the quality gate), and reporting the
    first error alone would hide it.
    """
    if error.__cause__ is not None:
        return error.__cause__
    context = error.__context__
    if context is None:
        return None
    if error.__suppress_context__ and _named(error, WRAPPERS) is None:
        return None
    inner = str(context).strip()
    return context if inner and inner in str(error) else None


def chain_of(error: BaseException) -> Iterator[BaseException]:
    """The error, then each error it wraps (see `_next_in_chain`), outermost first."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        yield current
        seen.add(id(current))
        current = _next_in_chain(current)


def readable_error(error: BaseException) -> BaseException | None:
    """The known error that explains `error`, or None when it is of an unknown kind.

    The project's own error wins wherever it is in the chain (the outermost one, if several):
    it carries the hint, and Kedro's or OmegaConf's wrapper only restates it. Without one, the
    outermost known third-party error (a `DatasetError` naming the file it cannot read).
    """
    chain = list(chain_of(error))
    own = next((e for e in chain if isinstance(e, CirrusError)), None)
    return own or next((e for e in chain if is_known(e)), None)


def message_of(error: BaseException) -> str:
    """The error's own message (KeyError's without the quotes repr adds), else its class name."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return text.strip() or type(error).__name__


def hint_of(error: BaseException) -> str:
    """What to do about a known error, in one line ("" for an unknown one)."""
    if isinstance(error, CirrusError):
        return " ".join(str(error.hint).split())
    name = _named(error, THIRD_PARTY_HINTS)
    return THIRD_PARTY_HINTS[name] if name else ""


def traceback_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether CIRRUS_TRACEBACK asks for full tracebacks even for known errors."""
    value = (os.environ if environ is None else environ).get(TRACEBACK_ENV, "")
    return value.strip().lower() in _TRUE


class KnownErrorLogFilter(logging.Filter):
    """Drops an error record logged while a known error is being handled.

    Kedro logs a failing node's error ("Node ... failed with error: ...") and each invalid
    parameter before raising it; the CLI then prints the same error itself. With this filter on
    those loggers the error is printed once. Records of unknown errors, and records below ERROR,
    pass.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """False for an ERROR record about a known error (in `exc_info` or being handled)."""
        if record.levelno < logging.ERROR:
            return True
        error = record.exc_info[1] if record.exc_info else sys.exc_info()[1]
        return error is None or readable_error(error) is None

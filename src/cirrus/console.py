"""The console when it is not a terminal: plain log lines for CI logs, `| tee` and files."""

from __future__ import annotations

import logging
import sys

# One line per record, as long as its message: Rich wraps at 80 columns when it does not write
# to a terminal, and at any fixed width pads every line with spaces to that width.
PIPED_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
PIPED_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def _is_rich(handler: logging.Handler) -> bool:
    """Whether the handler draws through Rich (Kedro's default console handler does)."""
    return any(
        cls.__module__.startswith(("rich.", "kedro.logging")) for cls in type(handler).__mro__
    )


def plain_logs_when_piped(logger: logging.Logger | None = None) -> None:
    """Swap the logger's Rich handlers for plain line handlers on stdout, unless stdout is a
    terminal or a notebook (where Rich's layout is the better read)."""
    import rich

    console = rich.get_console()
    if console.is_terminal or console.is_jupyter:
        return
    logger = logger or logging.getLogger()
    for handler in list(logger.handlers):
        if not _is_rich(handler):
            continue
        plain = logging.StreamHandler(sys.stdout)
        plain.setLevel(handler.level)
        plain.setFormatter(logging.Formatter(PIPED_FORMAT, PIPED_DATE_FORMAT))
        for log_filter in handler.filters:
            plain.addFilter(log_filter)
        logger.removeHandler(handler)
        logger.addHandler(plain)

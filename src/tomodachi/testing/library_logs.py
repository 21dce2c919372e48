"""Keeping the debug logs of broker client libraries out of a test's output.

Captured at the run's level (``debug`` by default), aiormq, aio-pika, botocore and their kin
write dozens of lines per message, which pytest then shows under every failure. While a run of
``tomodachi.testing`` is active, the loggers in :data:`LIBRARY_LOGGERS` are set to
``library_log_level`` (``WARNING`` by default: their warnings and errors still show); their
levels are put back when the run ends.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from tomodachi.logging.levels import parse_level

__all__ = ["LIBRARY_LOGGERS", "library_log_levels"]

#: The loggers a run quiets: broker and HTTP client libraries, and asyncio's own.
LIBRARY_LOGGERS: tuple[str, ...] = (
    "aio_pika",
    "aiormq",
    "pamqp",
    "aiobotocore",
    "botocore",
    "boto3",
    "urllib3",
    "aiohttp.client",
    "asyncio",
)


@contextlib.contextmanager
def library_log_levels(level: str | int | None) -> Iterator[None]:
    """Set the :data:`LIBRARY_LOGGERS` to *level* until the block ends (``None``: leave them)."""
    if level is None:
        yield
        return
    number = parse_level(level)
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(number)
    try:
        yield
    finally:
        for logger, previous in zip(loggers, before, strict=True):
            logger.setLevel(previous)

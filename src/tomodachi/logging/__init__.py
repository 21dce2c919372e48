"""Logging for tomodachi services.

Quick use::

    import tomodachi.logging

    tomodachi.logging.configure("console", "info")          # or "json", "python", "disabled", "custom"
    log = tomodachi.logging.get_logger("my.service")
    log.info("sheep counted", count=4)
    # 2026-11-27T19:41:36.856489Z [info     ] sheep counted                  [my.service] count=4

Stdlib records (``logging.getLogger("x").info(...)``) are rendered the same way by a handler on
the root logger; their ``extra=`` fields appear under an ``extra`` key. Values of keys that look
like secrets (``password``, ``token``, ``authorization``, ...) are written as ``'***'``.

In the console and JSON modes tomodachi loggers write to the stream directly; they do not pass
through stdlib handlers (so ``caplog`` does not see them, ``capsys``/``capfd`` do). In the
``python`` mode they are handed to the stdlib logger of the same name.

``configure_structlog()`` makes ``structlog.get_logger(...)`` loggers write through the same output
(``tomodachi run`` calls it when the service files imported structlog).

Importing this package does not import structlog, orjson or aiohttp.
"""

from __future__ import annotations

from tomodachi.logging.config import DEFAULT_FORMAT, LOGGER_TYPES, configure, remove_handlers
from tomodachi.logging.context import reset_context, reset_context_logger, set_context_logger
from tomodachi.logging.levels import CRITICAL, DEBUG, ERROR, INFO, NOTSET, WARNING
from tomodachi.logging.logger import Logger, LoggerProtocol, get_logger, getLogger, is_enabled_for
from tomodachi.logging.processors import mask_secrets
from tomodachi.logging.renderers import ConsoleRenderer, JSONRenderer
from tomodachi.logging.structlog_bridge import configure_structlog

__all__ = [
    "CRITICAL",
    "DEBUG",
    "DEFAULT_FORMAT",
    "ERROR",
    "INFO",
    "LOGGER_TYPES",
    "NOTSET",
    "WARNING",
    "ConsoleRenderer",
    "JSONRenderer",
    "Logger",
    "LoggerProtocol",
    "configure",
    "configure_structlog",
    "getLogger",
    "get_logger",
    "is_enabled_for",
    "mask_secrets",
    "remove_handlers",
    "reset_context",
    "reset_context_logger",
    "set_context_logger",
]

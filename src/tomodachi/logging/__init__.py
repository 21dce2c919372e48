"""Logging for tomodachi services.

Quick use::

    import tomodachi.logging

    tomodachi.logging.configure("console", "info")  # or "json", "python", "disabled", "custom"
    log = tomodachi.logging.get_logger("my.service")
    log.info("sheep counted", count=4)
    # 2026-11-27T19:41:36.856489Z [info     ] sheep counted                  [my.service] count=4

Stdlib records (``logging.getLogger("x").info(...)``) are rendered the same way by a handler on
the root logger; their ``extra=`` fields appear under an ``extra`` key. Values of keys that look
like secrets (``password``, ``token``, ``authorization``, ...) are written as ``'***'``.

In the console and JSON modes tomodachi loggers write to the stream directly, without building a
stdlib ``LogRecord``. When the application attached a stdlib handler of its own to the stdlib
logger of the same name or an ancestor (a ``FileHandler`` with ``JSONFormatter``, ``caplog``), the
event is also handed to stdlib logging as a record, as the original did. In the ``python`` mode
events always go through the stdlib logger of the same name.

The original library's names work as before: ``configure(log_level=..., force=...)``,
``set_default_formatter``, ``set_custom_logger_factory``, ``bind_logger``, the formatters
(``JSONFormatter``, ``ConsoleFormatter``, ...), ``DefaultRootLoggerHandler``, ``StderrHandler``,
``TOMODACHI_LOGGER_TYPE``.

``configure_structlog()`` makes ``structlog.get_logger(...)`` loggers write through the same output
(``tomodachi run`` calls it when the service files imported structlog).

Importing this package does not import structlog, orjson or aiohttp.
"""

from __future__ import annotations

from typing import Any

from tomodachi.logging.compat import bind_logger, set_custom_logger_factory, set_default_formatter
from tomodachi.logging.config import LOGGER_TYPES, configure, remove_handlers
from tomodachi.logging.context import reset_context, reset_context_logger, set_context_logger
from tomodachi.logging.formatters import (
    DEFAULT_FORMAT,
    ConsoleFormatter,
    CustomLoggerFormatter,
    DisabledFormatter,
    JSONFormatter,
    NoColorConsoleFormatter,
    PythonFormatter,
    PythonLoggingFormatter,
    TomodachiFormatter,
)
from tomodachi.logging.handler import DefaultHandler, DefaultRootLoggerHandler, StderrHandler
from tomodachi.logging.levels import CRITICAL, DEBUG, ERROR, FATAL, INFO, NOTSET, WARN, WARNING
from tomodachi.logging.logger import Logger, LoggerProtocol, get_logger, getLogger, is_enabled_for
from tomodachi.logging.processors import mask_secrets
from tomodachi.logging.renderers import ConsoleRenderer, JSONRenderer
from tomodachi.logging.structlog_bridge import configure_structlog

#: The current logger type, as the original named it: ``"console"``, ``"no_color_console"``,
#: ``"json"``, ``"python"``, ``"custom"`` or ``"disabled"``. Kept up to date by ``configure`` and
#: ``set_default_formatter``; read it as ``tomodachi.logging.TOMODACHI_LOGGER_TYPE`` (a name
#: imported with ``from ... import`` is a snapshot).
TOMODACHI_LOGGER_TYPE: str = "console"

#: The custom logger set with ``set_custom_logger_factory`` or ``configure(custom_logger=...)``, as
#: given (a dotted path or the object), or ``None``. Kept up to date like ``TOMODACHI_LOGGER_TYPE``.
TOMODACHI_CUSTOM_LOGGER: Any = None

__all__ = [
    "CRITICAL",
    "DEBUG",
    "DEFAULT_FORMAT",
    "ERROR",
    "FATAL",
    "INFO",
    "LOGGER_TYPES",
    "NOTSET",
    "TOMODACHI_CUSTOM_LOGGER",
    "TOMODACHI_LOGGER_TYPE",
    "WARN",
    "WARNING",
    "ConsoleFormatter",
    "ConsoleRenderer",
    "CustomLoggerFormatter",
    "DefaultHandler",
    "DefaultRootLoggerHandler",
    "DisabledFormatter",
    "JSONFormatter",
    "JSONRenderer",
    "Logger",
    "LoggerProtocol",
    "NoColorConsoleFormatter",
    "PythonFormatter",
    "PythonLoggingFormatter",
    "StderrHandler",
    "TomodachiFormatter",
    "bind_logger",
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
    "set_custom_logger_factory",
    "set_default_formatter",
]

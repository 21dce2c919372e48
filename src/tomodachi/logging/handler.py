"""The bridge from stdlib ``logging``: one handler on the root logger.

Any stdlib record (``logging.getLogger("x").info(...)``, aiohttp's, asyncio's) that propagates to
the root logger is handed to the current pipeline's output, so it is rendered like a tomodachi
event: ``logging.getLogger("x").info("a")`` and ``tomodachi.get_logger("x").info("a")`` look alike.
``extra=`` fields appear under one ``extra`` key.

That handler is :data:`DefaultRootLoggerHandler` (also named ``DefaultHandler``, the original's
names), a :class:`StderrHandler`. Its ``formatter`` is the formatter of the configured logger type
(``tomodachi.logging.JSONFormatter`` after ``configure("json")``). If the application replaces that
formatter (``DefaultHandler.setFormatter(...)``), the handler formats with it and writes to stderr
like a plain ``StreamHandler``.

Only handlers carrying :data:`HANDLER_MARKER` are ever removed from the root logger; handlers the
application installed there stay.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from tomodachi.logging import routing
from tomodachi.logging.formatters import ConsoleFormatter
from tomodachi.logging.logger import current_pipeline
from tomodachi.logging.processors import is_drop_event
from tomodachi.logging.routing import FORWARDED_ATTR, HANDLER_MARKER

__all__ = [
    "HANDLER_MARKER",
    "DefaultHandler",
    "DefaultRootLoggerHandler",
    "RootHandler",
    "StderrHandler",
    "install_root_handler",
    "remove_root_handler",
    "set_root_formatter",
]


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A ``StreamHandler`` that always writes to the current ``sys.stderr`` (looked up at each
    write, so pytest's capture and redirections apply).

    A formatter that renders nothing for a record (``DisabledFormatter``, ``CustomLoggerFormatter``)
    makes it write nothing, not an empty line.
    """

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        """Ignored: the stream is always ``sys.stderr``."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if not text and getattr(self.formatter, "silent", False):
                return
            stream = sys.stderr
            stream.write(text + self.terminator)
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


class RootHandler(StderrHandler):
    """Sends stdlib records through the current tomodachi pipeline (output, stream, processors).

    Records that tomodachi forwarded from its own loggers are skipped: they were written already.
    """

    def __init__(self) -> None:
        super().__init__()
        setattr(self, HANDLER_MARKER, True)
        # The formatter configure() chose. While ``formatter`` is still this one, records go
        # through the pipeline; if the application set another, that one formats.
        self._configured_formatter: logging.Formatter | None = None

    def __repr__(self) -> str:
        return f"<DefaultRootLoggerHandler (formatter={self.formatter!r})>"

    def emit(self, record: logging.LogRecord) -> None:
        if FORWARDED_ATTR in record.__dict__:
            return
        if self.formatter is not self._configured_formatter:
            StderrHandler.emit(self, record)
            return
        pipeline = current_pipeline()
        try:
            pipeline.output.emit_record(record, pipeline.processors)
        except Exception:
            self.handleError(record)
        except BaseException as exc:  # structlog.DropEvent is a BaseException
            if not is_drop_event(exc):
                raise


#: The handler tomodachi puts on the root logger (one instance per process).
DefaultRootLoggerHandler = RootHandler()
DefaultHandler = DefaultRootLoggerHandler
routing.set_own_handler(DefaultRootLoggerHandler)

_saved_root_level: int | None = None


def set_root_formatter(formatter: logging.Formatter) -> None:
    """Make *formatter* the formatter of the configured logger type (used by ``configure``)."""
    DefaultRootLoggerHandler._configured_formatter = formatter
    DefaultRootLoggerHandler.setFormatter(formatter)


set_root_formatter(ConsoleFormatter)


def install_root_handler(level: int) -> RootHandler:
    """Put :data:`DefaultRootLoggerHandler` on the root logger (idempotent) and set the root level."""
    global _saved_root_level
    root = logging.getLogger()
    handler = DefaultRootLoggerHandler
    for other in list(root.handlers):
        if other is not handler and getattr(other, HANDLER_MARKER, False):
            root.removeHandler(other)
    if handler not in root.handlers:
        if _saved_root_level is None:
            _saved_root_level = root.level
        root.addHandler(handler)
    root.setLevel(level)
    return handler


def remove_root_handler() -> None:
    """Remove the handler(s) tomodachi installed and restore the root level from before."""
    global _saved_root_level
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, HANDLER_MARKER, False):
            root.removeHandler(handler)
    if _saved_root_level is not None:
        root.setLevel(_saved_root_level)
        _saved_root_level = None

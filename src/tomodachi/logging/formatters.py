"""stdlib ``logging.Formatter`` objects that render records in tomodachi's formats.

These are the original library's formatter names. Like there, each module-level name is a
formatter *instance* whose ``repr`` is its name, so it can be handed to any stdlib handler::

    handler = logging.FileHandler("service.log")
    handler.setFormatter(tomodachi.logging.JSONFormatter)
    logging.getLogger("tomodachi").addHandler(handler)

A record from a tomodachi logger (forwarded to stdlib, see :mod:`tomodachi.logging.routing`) is
rendered from the fields it carries, exactly like the line tomodachi writes itself; any other
stdlib record is rendered like tomodachi renders stdlib records (``extra=`` under ``extra``,
processors and secret masking applied).

Each instance is also callable and returns a new formatter of the same kind, so
``JSONFormatter()`` and ``logging.config.dictConfig({"formatters": {"json": {"()":
"tomodachi.logging.JSONFormatter"}}, ...})`` work as well.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from tomodachi.errors import ConfigurationError
from tomodachi.logging.levels import method_name
from tomodachi.logging.logger import current_pipeline
from tomodachi.logging.outputs import CustomOutput, process_record, record_event_dict
from tomodachi.logging.processors import EventDict, is_drop_event
from tomodachi.logging.renderers import ConsoleRenderer, JSONRenderer, format_timestamp, want_colors
from tomodachi.logging.routing import CONTEXT_ATTR

__all__ = [
    "DEFAULT_FORMAT",
    "FORMATTER_TYPES",
    "ConsoleFormatter",
    "CustomLoggerFormatter",
    "DisabledFormatter",
    "JSONFormatter",
    "NoColorConsoleFormatter",
    "PythonFormatter",
    "PythonLoggingFormatter",
    "TomodachiFormatter",
    "formatter_for",
]

#: The stdlib format used by the ``python`` logger type.
DEFAULT_FORMAT = "%(asctime)s [%(levelname)-9s] %(message)-30s [%(name)s]"

#: The logger types a :class:`TomodachiFormatter` renders (``python`` is :class:`PythonFormatter`).
FORMATTER_TYPES = ("console", "no_color_console", "json", "disabled", "custom")

# Renderers are made on first use: JSONRenderer() picks the JSON encoder (imports orjson).
_renderers: dict[str, Any] = {}


def _render_function(kind: str) -> Any:
    if kind == "console":
        kind = "color_console" if want_colors(None) else "no_color_console"
    render = _renderers.get(kind)
    if render is None:
        if kind == "json":
            render = JSONRenderer().render
        else:
            render = ConsoleRenderer(colors=kind == "color_console").render
        _renderers[kind] = render
    return render


class TomodachiFormatter(logging.Formatter):
    """Formats a stdlib record as one line of a tomodachi logger type.

    * ``console``: the console line; colours when stderr is a terminal and ``NO_COLOR`` is not set
      (use ``no_color_console`` for files);
    * ``no_color_console``: the console line without colours;
    * ``json``: the JSON line;
    * ``disabled``: an empty string (:class:`~tomodachi.logging.StderrHandler` then writes nothing);
    * ``custom``: hands the record to the custom logger (``set_custom_logger_factory`` or
      ``--custom-logger``) and returns an empty string.
    """

    def __init__(self, logger_type: str = "console", name: str | None = None) -> None:
        if logger_type not in FORMATTER_TYPES:
            raise ConfigurationError(
                f"Invalid formatter type: {logger_type!r} (expected "
                + ", ".join(repr(kind) for kind in FORMATTER_TYPES)
                + ")"
            )
        super().__init__()
        self._logger_type = logger_type
        self._name = name or f"TomodachiFormatter({logger_type!r})"
        self._local = threading.local()

    @property
    def logger_type(self) -> str:
        """The logger type this formatter renders."""
        return self._logger_type

    @property
    def silent(self) -> bool:
        """True if :meth:`format` never returns text to write (``disabled``, ``custom``)."""
        return self._logger_type in ("disabled", "custom")

    def __repr__(self) -> str:
        return self._name

    def __call__(self, *args: Any, **kwargs: Any) -> TomodachiFormatter:
        """A new formatter of the same type (``fmt``/``datefmt``/... arguments are ignored)."""
        return TomodachiFormatter(self._logger_type, self._name)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """ISO 8601 UTC with microseconds and ``Z``, as in tomodachi's lines (*datefmt* is ignored)."""
        return format_timestamp(record.created)

    def format(self, record: logging.LogRecord) -> str:
        kind = self._logger_type
        if kind == "disabled":
            return ""
        event_dict = self._event_dict(record)
        if event_dict is None:
            return ""
        if kind == "custom":
            self._to_custom_logger(record, event_dict)
            return ""
        text: str = _render_function(kind)(record.name, record.levelno, event_dict, record.created)
        return text

    def _event_dict(self, record: logging.LogRecord) -> EventDict | None:
        """The processed fields of *record*; ``None`` if a processor dropped it."""
        if CONTEXT_ATTR in record.__dict__:
            # A tomodachi event: its fields went through the processors already.
            return record_event_dict(record)
        try:
            return process_record(record, current_pipeline().processors)[1]
        except BaseException as exc:  # structlog.DropEvent is a BaseException
            if is_drop_event(exc):
                return None
            raise

    def _to_custom_logger(self, record: logging.LogRecord, event_dict: EventDict) -> None:
        local = self._local
        if getattr(local, "active", False):
            return  # the custom logger logged back into stdlib logging: don't loop
        output = current_pipeline().output
        if not isinstance(output, CustomOutput):
            from tomodachi.logging.config import custom_output

            output = custom_output()
        local.active = True
        try:
            output.emit(method_name(record.levelno), record.levelno, record.name, event_dict, record.created)
        finally:
            local.active = False


class PythonFormatter(logging.Formatter):
    """The ``python`` logger type: a plain stdlib ``Formatter`` (default :data:`DEFAULT_FORMAT`)
    whose ``repr`` is its name. Structured fields are not shown."""

    def __init__(
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        style: Any = "%",
        validate: bool = True,
        *,
        name: str = "PythonFormatter",
    ) -> None:
        super().__init__(fmt or DEFAULT_FORMAT, datefmt, style, validate)
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __call__(
        self, fmt: str | None = None, datefmt: str | None = None, style: Any = "%", validate: bool = True
    ) -> PythonFormatter:
        """A new formatter, by default with the same format."""
        return PythonFormatter(fmt or self._fmt, datefmt or self.datefmt, style, validate, name=self._name)


ConsoleFormatter = TomodachiFormatter("console", "ConsoleFormatter")
NoColorConsoleFormatter = TomodachiFormatter("no_color_console", "NoColorConsoleFormatter")
JSONFormatter = TomodachiFormatter("json", "JSONFormatter")
DisabledFormatter = TomodachiFormatter("disabled", "DisabledFormatter")
CustomLoggerFormatter = TomodachiFormatter("custom", "CustomLoggerFormatter")
PythonLoggingFormatter = PythonFormatter(DEFAULT_FORMAT, name="PythonLoggingFormatter")

_BY_TYPE: dict[str, logging.Formatter] = {
    "console": ConsoleFormatter,
    "no_color_console": NoColorConsoleFormatter,
    "json": JSONFormatter,
    "disabled": DisabledFormatter,
    "custom": CustomLoggerFormatter,
    "python": PythonLoggingFormatter,
}


def formatter_for(logger_type: str) -> logging.Formatter:
    """The module-level formatter of *logger_type* (``KeyError`` for an unknown type)."""
    return _BY_TYPE[logger_type]

"""Renderers: turn one event into one line of text (console or JSON).

Both renderers have two entry points:

* ``render(name, level, event_dict, created=None)`` - the fast path used by tomodachi's own
  loggers and its root handler;
* ``__call__(logger, method_name, event_dict)`` - the structlog processor signature, so the same
  output can be produced from a plain structlog setup
  (``structlog.configure(processors=[..., ConsoleRenderer()])``).

``render`` consumes the ``event`` and ``exc_info`` keys of the event dict it is given (it pops
them); callers pass a dict they own.

Values that are ``...`` (Ellipsis) are left out of the output: ``logger.bind(key=...)`` hides a key.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeAlias

from tomodachi.logging.levels import level_name, parse_level

__all__ = [
    "ConsoleRenderer",
    "ExcInfo",
    "JSONRenderer",
    "exception_fields",
    "format_exception",
    "format_timestamp",
    "resolve_exc_info",
    "want_colors",
]

ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType | None]

# --- timestamps -----------------------------------------------------------------------------------

# (second, "YYYY-MM-DDTHH:MM:SS.") for the most recent second seen. strftime runs once per second;
# every other line costs one f-string. Replaced as a whole tuple, so threads never see a torn value.
_ts_cache: tuple[int, str] = (-1, "")


def format_timestamp(created: float | None = None) -> str:
    """ISO 8601 UTC with microseconds and ``Z`` for *created* (seconds since the epoch; default now)."""
    if created is None:
        second, nanos = divmod(time.time_ns(), 1_000_000_000)
        micros = nanos // 1000
    else:
        second = int(created)
        micros = int((created - second) * 1_000_000 + 0.5)
        if micros > 999_999:
            micros = 999_999
    cache = _ts_cache
    prefix = cache[1] if cache[0] == second else timestamp_prefix(second)
    return "%s%06dZ" % (prefix, micros)  # noqa: UP031 - a fifth faster than the f-string, on every line


def timestamp_prefix(second: int) -> str:
    """``"YYYY-MM-DDTHH:MM:SS."`` (UTC) of *second* since the epoch, cached like
    :func:`format_timestamp`'s: a line made elsewhere appends its ``%06d`` microseconds and ``Z``."""
    global _ts_cache
    cache = _ts_cache
    if cache[0] != second:
        cache = (second, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)))
        _ts_cache = cache
    return cache[1]


# --- exceptions -----------------------------------------------------------------------------------


def resolve_exc_info(value: Any) -> ExcInfo | None:
    """Normalise an ``exc_info`` argument (``True``, an exception, or a 3-tuple) to a 3-tuple."""
    if value is None or value is False:
        return None
    if isinstance(value, BaseException):
        return (type(value), value, value.__traceback__)
    if isinstance(value, tuple):
        if len(value) == 3 and value[0] is not None:
            return value
        return None
    if value is True or value:
        exc = sys.exc_info()
        if exc[0] is None:
            return None
        return exc
    return None


def format_exception(exc_info: ExcInfo) -> str:
    """The traceback text, as the interpreter prints it (chained exceptions included)."""
    return "".join(traceback.format_exception(*exc_info)).rstrip("\n")


_MAX_STACK_FRAMES = 50


def _location(filename: str, lineno: int | None, cwd: str) -> str:
    if filename.startswith(cwd):
        filename = "." + filename[len(cwd) - 1 :]
    return f"{filename}:{lineno}"


def exception_fields(exc_info: ExcInfo) -> dict[str, Any]:
    """``exception``, ``exc_type``, ``exc_message`` and ``stacktrace`` (at most 50 frames, innermost last)."""
    exc_type, exc_value, tb = exc_info
    module = exc_type.__module__
    type_name = (
        exc_type.__qualname__ if module in ("builtins", "__main__") else f"{module}.{exc_type.__qualname__}"
    )
    cwd = os.getcwd() + os.sep
    frames = list(traceback.walk_tb(tb))[-_MAX_STACK_FRAMES:]
    stacktrace = [
        {
            "module_name": frame.f_globals.get("__name__", "?"),
            "function_name": frame.f_code.co_name,
            "location": _location(frame.f_code.co_filename, lineno, cwd),
        }
        for frame, lineno in frames
    ]
    return {
        "exception": repr(exc_value),
        "exc_type": type_name,
        "exc_message": str(exc_value),
        "stacktrace": stacktrace,
    }


def _event_text(event: Any) -> str:
    if event is None:
        return ""
    if type(event) is str:
        return event
    return str(event)


def _structlog_args(logger: Any, method_name: str, event_dict: dict[str, Any]) -> tuple[str, int]:
    """Logger name and level number for the structlog-processor entry points."""
    name = event_dict.pop("logger", None) or getattr(logger, "name", None) or ""
    level = event_dict.pop("level", None) or method_name
    if level == "exception":
        level = "error"
    elif level == "warn":
        level = "warning"
    try:
        number = parse_level(level)
    except ValueError:
        number = 20
    event_dict.pop("timestamp", None)
    return str(name), number


# --- console --------------------------------------------------------------------------------------

_NO_COLOR_VARIABLES = ("NO_COLOR", "TOMODACHI_NO_COLOR", "NOCOLOR")


def want_colors(stream: Any = None) -> bool:
    """Whether console output to *stream* (``None``: ``sys.stderr``) should be coloured.

    Off when ``NO_COLOR``, ``TOMODACHI_NO_COLOR`` or ``NOCOLOR`` is set to anything but an empty
    string, ``0`` or ``false``; otherwise on exactly when the stream is a terminal.
    """
    for variable in _NO_COLOR_VARIABLES:
        value = os.environ.get(variable)
        if value and value.strip().lower() not in ("0", "false"):
            return False
    if stream is None:
        stream = sys.stderr
    try:
        return bool(stream.isatty())
    except Exception:
        return False


_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_BOLD = "\x1b[1m"
_NAME_STYLE = "\x1b[34m"
_KEY_STYLE = "\x1b[36m"
_VALUE_STYLE = "\x1b[35m"
_LEVEL_STYLES: dict[int, str] = {
    10: "\x1b[2m",  # debug: dim
    20: "\x1b[32m",  # info: green
    30: "\x1b[33m",  # warning: yellow
    40: "\x1b[31m",  # error: red
    50: "\x1b[1;31m",  # critical: bold red
}

_EVENT_WIDTH = 30
_LEVEL_WIDTH = 9


def _with_traceback(line: str, exc_info: Any) -> str:
    """*line*, followed by the formatted traceback when *exc_info* names an exception."""
    exc = resolve_exc_info(exc_info) if exc_info is not None else None
    return f"{line}\n{format_exception(exc)}" if exc is not None else line


def _console_value(value: Any) -> str:
    if type(value) is str:
        if value and " " not in value and value.isprintable():
            return value
    return repr(value)


class ConsoleRenderer:
    """``2026-11-27T19:41:36.856489Z [info     ] message padded to 30         [logger] key=value ...``

    Strings are shown bare unless they are empty or contain spaces or non-printable characters,
    in which case they are ``repr``-quoted; other values are shown with ``repr``. A traceback
    (``exc_info``) follows on the next lines.
    """

    def __init__(self, colors: bool = False) -> None:
        self.colors = colors
        self._labels: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"ConsoleRenderer(colors={self.colors!r})"

    def _label(self, level: int) -> str:
        label = self._labels.get(level)
        if label is None:
            text = f"{level_name(level):<{_LEVEL_WIDTH}}"
            if self.colors:
                style = _LEVEL_STYLES.get(level, _BOLD)
                label = f"[{style}{text}{_RESET}]"
            else:
                label = f"[{text}]"
            if len(self._labels) < 64:
                self._labels[level] = label
        return label

    def render(self, name: str, level: int, event_dict: dict[str, Any], created: float | None = None) -> str:
        event = event_dict.pop("event", None)
        exc_info = event_dict.pop("exc_info", None)
        if type(event) is not str:
            event = _event_text(event)
        timestamp = format_timestamp(created)
        label = self._labels.get(level) or self._label(level)
        if self.colors:
            return self._render_colors(timestamp, label, event, name, event_dict, exc_info)
        parts = [f"{timestamp} {label} {event:<30} [{name}]"]
        append = parts.append
        for key, value in event_dict.items():
            if type(value) is str:
                if value and " " not in value and value.isprintable():
                    append(f"{key}={value}")
                else:
                    append(f"{key}={value!r}")
            elif value is not ...:
                append(f"{key}={value!r}")
        return _with_traceback(" ".join(parts), exc_info)

    def _render_colors(
        self, timestamp: str, label: str, event: str, name: str, event_dict: dict[str, Any], exc_info: Any
    ) -> str:
        parts = [
            f"{_DIM}{timestamp}{_RESET} {label} {_BOLD}{event:<30}{_RESET} [{_NAME_STYLE}{name}{_RESET}]"
        ]
        for key, value in event_dict.items():
            if value is not ...:
                parts.append(f"{_KEY_STYLE}{key}{_RESET}={_VALUE_STYLE}{_console_value(value)}{_RESET}")
        return _with_traceback(" ".join(parts), exc_info)

    def __call__(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> str:
        name, level = _structlog_args(logger, method_name, event_dict)
        return self.render(name, level, event_dict)


# --- JSON -----------------------------------------------------------------------------------------

_RENAMES = {"event_": "event", "class_": "class"}

_dumps: Callable[[dict[str, Any]], str] | None = None


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__} object>"


def _stdlib_dumps(data: dict[str, Any]) -> str:
    import json

    try:
        return json.dumps(data, default=_safe_str, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        # Non-string keys json cannot express, or circular references: the line must still go out.
        return json.dumps(
            {str(key): _safe_str(value) for key, value in data.items()},
            ensure_ascii=True,
            separators=(",", ":"),
        )


def _json_dumps() -> Callable[[dict[str, Any]], str]:
    """Pick the JSON encoder once: orjson when importable, else the stdlib."""
    global _dumps
    if _dumps is None:
        try:
            import orjson
        except ImportError:
            _dumps = _stdlib_dumps
        else:
            orjson_dumps = orjson.dumps
            option = orjson.OPT_NON_STR_KEYS

            def _orjson(data: dict[str, Any]) -> str:
                try:
                    return orjson_dumps(data, default=_safe_str, option=option).decode()
                except TypeError:
                    # Surrogates, integers over 64 bits, deep nesting: let the stdlib try.
                    return _stdlib_dumps(data)

            _dumps = _orjson
    return _dumps


class JSONRenderer:
    """One JSON object per line: ``timestamp``, ``logger``, ``level``, ``message``, then the rest.

    ``event_`` and ``class_`` keys are renamed to ``event`` and ``class``. An exception adds
    ``exception``, ``exc_type``, ``exc_message`` and ``stacktrace``. Values JSON cannot express
    are written as ``str(value)``.
    """

    def __init__(self) -> None:
        #: The JSON encoder lines are made with: ``dumps(dict) -> str`` (orjson when installed).
        self.dumps = _json_dumps()

    def __repr__(self) -> str:
        return "JSONRenderer()"

    def render(self, name: str, level: int, event_dict: dict[str, Any], created: float | None = None) -> str:
        event = event_dict.pop("event", None)
        exc_info = event_dict.pop("exc_info", None)
        data: dict[str, Any] = {
            "timestamp": format_timestamp(created),
            "logger": name,
            "level": level_name(level),
            "message": event if type(event) is str else _event_text(event),
        }
        renames = _RENAMES
        for key, value in event_dict.items():
            if value is ...:
                continue
            if key in renames:
                key = renames[key]
            data[key] = value
        if exc_info is not None:
            exc = resolve_exc_info(exc_info)
            if exc is not None:
                data.update(exception_fields(exc))
        return self.dumps(data)

    def __call__(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> str:
        name, level = _structlog_args(logger, method_name, event_dict)
        return self.render(name, level, event_dict)

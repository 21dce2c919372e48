"""Outputs: where a processed event goes, one class per logger type.

Every output has two entry points:

* ``emit(method_name, level, name, event_dict, created)`` for events from tomodachi's own
  loggers, after the processors ran;
* ``emit_record(record, processors)`` for stdlib ``logging`` records that reached the root
  handler (see :mod:`tomodachi.logging.handler`).

Console and JSON write straight to the stream - one ``write`` per line under a lock - rather than
through a stdlib handler: that is most of why a tomodachi log line is cheap. The password of a URL
in a line (``amqp://user:***@host``, a DSN in an exception) is masked there.

Per-request lines (the HTTP access log) go through :func:`defer`: they are rendered and written
together, at most :data:`DEFER_SECONDS` (20 ms) after the first of them, in one ``write``. Any
other line written before that flushes them first, so the order of lines is kept; a graceful stop
and the interpreter's exit flush them too. The caller bounds how many lines wait (the access log
writes at once when 256 are waiting).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from tomodachi.errors import mask_url_credentials
from tomodachi.logging.levels import method_name as _method_name
from tomodachi.logging.processors import EventDict, Processor, mask_secrets, wrapped_logger
from tomodachi.logging.renderers import resolve_exc_info
from tomodachi.logging.routing import CONTEXT_ATTR, FORWARD, FORWARDED_ATTR, WRITE, forward, is_plain, route

__all__ = [
    "CONTEXT_ATTR",
    "DEFER_SECONDS",
    "CustomOutput",
    "DisabledOutput",
    "Output",
    "PythonOutput",
    "StreamOutput",
    "defer",
    "flush_deferred",
    "process_record",
    "record_event_dict",
    "report_error",
]

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    CONTEXT_ATTR,
    FORWARDED_ATTR,
}

# Serialises writes from all threads: one line is never interleaved with another.
_write_lock = threading.RLock()

# --- deferred lines (one write per event-loop iteration) --------------------------------------------

# Callbacks queued by defer() in the current loop iteration, the loop that will run flush_deferred,
# and, while flush_deferred runs, the thread whose lines are collected (with the lines).
_deferred: list[Callable[[], None]] = []
_deferred_loop: asyncio.AbstractEventLoop | None = None
_batch: list[tuple[TextIO, str]] | None = None
_batch_thread = 0
# get_running_loop() without the exception (listed in asyncio.events.__all__)
_get_running_loop = asyncio._get_running_loop
_get_ident = threading.get_ident


#: The longest a deferred line waits before it is written, in seconds.
DEFER_SECONDS = 0.02


def defer(callback: Callable[[], None]) -> None:
    """Run *callback* (which logs) within :data:`DEFER_SECONDS`, with its lines (and those of the
    other deferred callbacks) written in one go; at once when no loop runs in this thread.

    Queue one callback per batch of work (the caller keeps its own list of entries and bounds it).
    """
    global _deferred_loop
    loop = _get_running_loop()
    if loop is None:
        callback()
        return
    if _deferred_loop is not loop:
        if _deferred:  # queued on a loop that went away before the timer fired: write now
            flush_deferred()
        _deferred_loop = loop
        loop.call_later(DEFER_SECONDS, flush_deferred)
    elif not _deferred:
        loop.call_later(DEFER_SECONDS, flush_deferred)
    _deferred.append(callback)


def flush_deferred() -> None:
    """Run the deferred callbacks now, writing their lines with one ``write`` per stream."""
    global _batch, _batch_thread, _deferred_loop
    if not _deferred:
        _deferred_loop = None
        return
    with _write_lock:
        if _batch is not None and _batch_thread == _get_ident():  # called from inside a flush
            return
        callbacks = list(_deferred)
        _deferred.clear()
        _deferred_loop = None
        lines: list[tuple[TextIO, str]] = []
        _batch, _batch_thread = lines, _get_ident()
        try:
            for callback in callbacks:
                try:
                    callback()
                except Exception:
                    report_error(f"deferred log callback {callback!r}")
        finally:
            _batch = None
            _write_batch(lines)


def _write_batch(lines: list[tuple[TextIO, str]]) -> None:
    index, count = 0, len(lines)
    while index < count:
        stream = lines[index][0]
        end = index + 1
        while end < count and lines[end][0] is stream:
            end += 1
        try:
            stream.write("".join(line for _, line in lines[index:end]))
            stream.flush()
        except Exception:
            report_error("writing log lines")
        index = end


def _write_line(stream: TextIO, line: str) -> None:
    """Write one rendered line (with its newline), after any deferred lines, or into the batch."""
    if _deferred or _batch is not None:
        with _write_lock:
            if _batch is not None and _batch_thread == _get_ident():
                _batch.append((stream, line))
                return
            if _deferred:
                flush_deferred()
            stream.write(line)
            stream.flush()
        return
    with _write_lock:
        stream.write(line)
        stream.flush()


atexit.register(flush_deferred)


def report_error(what: str) -> None:
    """Print a logging failure to stderr and carry on, like ``logging.Handler.handleError``.

    A broken log call must never take the application down with it.
    """
    if not logging.raiseExceptions:
        return
    try:
        stream = sys.stderr
        stream.write(f"--- Logging error ---\n{traceback.format_exc()}{what}\n")
        stream.flush()
    except Exception:
        pass


def record_event_dict(record: logging.LogRecord) -> EventDict:
    """The event dict for a stdlib record: ``extra=`` fields go under one ``extra`` key."""
    context = record.__dict__.get(CONTEXT_ATTR)
    if isinstance(context, dict):
        event_dict: EventDict = dict(context)
    else:
        event_dict = {}
        extra = {key: value for key, value in record.__dict__.items() if key not in _RECORD_ATTRS}
        if extra:
            event_dict["extra"] = mask_secrets(None, "", extra)
    event_dict["event"] = record.getMessage()
    if record.exc_info and record.exc_info[0] is not None:
        event_dict["exc_info"] = record.exc_info
    if record.stack_info:
        event_dict["stack"] = record.stack_info
    return event_dict


def process_record(record: logging.LogRecord, processors: Sequence[Processor]) -> tuple[str, EventDict]:
    method = _method_name(record.levelno)
    event_dict = record_event_dict(record)
    if processors:
        wrapped = wrapped_logger(record.name)
        for processor in processors:
            event_dict = processor(wrapped, method, event_dict)
    return method, event_dict


class Output:
    """Base class: drops everything (the ``disabled`` logger type)."""

    logger_type = "disabled"

    def emit(self, method: str, level: int, name: str, event_dict: EventDict, created: float | None) -> None:
        """Output one processed event from a tomodachi logger."""

    def emit_record(self, record: logging.LogRecord, processors: Sequence[Processor]) -> None:
        """Output one stdlib record that reached the root handler."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class DisabledOutput(Output):
    """Drops every event and record."""


class StreamOutput(Output):
    """Renders with a console or JSON renderer and writes one line per event to a text stream.

    With ``stream=None`` the stream is ``sys.stderr`` as it is *at write time*, so replacing
    ``sys.stderr`` (pytest's capture, for one) takes effect without reconfiguring.
    """

    def __init__(
        self,
        render: Callable[[str, int, EventDict, float | None], str],
        stream: TextIO | None = None,
        logger_type: str = "console",
    ) -> None:
        self._render = render
        self._stream = stream
        self.logger_type = logger_type

    def emit(self, method: str, level: int, name: str, event_dict: EventDict, created: float | None) -> None:
        if not is_plain(name):
            # Rare: a stdlib handler of the application's wants the event too, or a stdlib level
            # filters it (see tomodachi.logging.routing).
            how = route(name, level)
            if how & FORWARD:
                created = forward(name, level, event_dict)
            if not how & WRITE:
                return
        # The body of write(), inlined: this is the path of every line.
        line = self._render(name, level, event_dict, created)
        if "://" in line and "@" in line:
            line = mask_url_credentials(line)
        _write_line(self._stream or sys.stderr, line + "\n")

    @property
    def renderer(self) -> Callable[[str, int, EventDict, float | None], str]:
        """The render function lines are made with (a renderer's bound ``render`` method, usually)."""
        return self._render

    def write_rendered(self, lines: Sequence[str]) -> None:
        """Write lines rendered elsewhere for this output (without newlines) in one ``write``,
        after any deferred lines; URL credentials in them are masked as in every other line."""
        text = "\n".join(lines) + "\n"
        if "://" in text and "@" in text:
            text = "\n".join(mask_url_credentials(line) for line in lines) + "\n"
        _write_line(self._stream or sys.stderr, text)

    def write(self, name: str, level: int, event_dict: EventDict, created: float | None) -> None:
        """Render and write one line (no routing)."""
        line = self._render(name, level, event_dict, created)
        if "://" in line and "@" in line:
            line = mask_url_credentials(line)
        _write_line(self._stream or sys.stderr, line + "\n")

    def emit_record(self, record: logging.LogRecord, processors: Sequence[Processor]) -> None:
        event_dict = process_record(record, processors)[1]
        self.write(record.name, record.levelno, event_dict, record.created)


class PythonOutput(Output):
    """The ``python`` logger type: plain stdlib formatting, structured fields not shown.

    tomodachi events are handed to the stdlib logger of the same name (the fields ride along on
    the record as ``record.__dict__["logger.context"]``), so stdlib handlers and filters the
    application installed see them too. The root handler then formats records with
    :attr:`formatter` and writes them to the stream.
    """

    logger_type = "python"

    def __init__(self, formatter: logging.Formatter, stream: TextIO | None = None) -> None:
        self.formatter = formatter
        self._stream = stream

    def emit(self, method: str, level: int, name: str, event_dict: EventDict, created: float | None) -> None:
        logger = logging.getLogger(name)
        if not logger.isEnabledFor(level):
            return
        event = event_dict.pop("event", None)
        exc_info = resolve_exc_info(event_dict.pop("exc_info", None))
        fields = {key: value for key, value in event_dict.items() if value is not ...}
        message = "" if event is None else event
        # No args: the message is used as is, a "%" in it is not an interpolation.
        record = logger.makeRecord(
            name, level, "(unknown file)", 0, message, (), exc_info, extra={CONTEXT_ATTR: fields}
        )
        logger.handle(record)

    def emit_record(self, record: logging.LogRecord, processors: Sequence[Processor]) -> None:
        line = self.formatter.format(record)
        if "://" in line and "@" in line:
            line = mask_url_credentials(line)
        stream = self._stream or sys.stderr
        with _write_lock:
            stream.write(line + "\n")
            stream.flush()


def _is_stdlib_logger(target: object) -> bool:
    return isinstance(target, logging.Logger | logging.LoggerAdapter)


class CustomOutput(Output):
    """The ``custom`` logger type: events are forwarded as ``target.<level>(event, **event_dict)``.

    *factory* is what :func:`tomodachi.logging.configure` resolved from ``custom_logger``; the
    target logger for a name is made on first use and cached:

    * the ``logging`` module: ``logging.getLogger(name)``, called as
      ``.log(level, event, exc_info=..., extra={"logger.context": event_dict})`` because stdlib
      loggers take no arbitrary keywords;
    * a class: ``factory({"logger": name})``;
    * an object with ``new``/``bind``: ``factory.new(logger=name)`` / ``factory.bind(logger=name)``;
    * an object with ``get_logger``: ``factory.get_logger()``;
    * anything else with logging methods is used as is.
    """

    logger_type = "custom"

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self._targets: dict[str, Any] = {}
        self._stdlib = factory is logging or _is_stdlib_logger(factory)
        # Set while a call into the custom logger is running. If that logger routes back into
        # stdlib logging, the root handler must not forward the record again (endless recursion).
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"CustomOutput({self.factory!r})"

    def target(self, name: str) -> Any:
        """The custom logger used for events of logger *name*."""
        target = self._targets.get(name)
        if target is None:
            target = make_custom_logger(self.factory, name)
            self._targets[name] = target
        return target

    def emit(self, method: str, level: int, name: str, event_dict: EventDict, created: float | None) -> None:
        target = self._targets.get(name)
        if target is None:
            target = self.target(name)
        event = event_dict.pop("event", None)
        fields = {key: value for key, value in event_dict.items() if value is not ...}
        local = self._local
        local.active = True
        try:
            if _is_stdlib_logger(target):
                exc_info = resolve_exc_info(fields.pop("exc_info", None))
                target.log(
                    level, "" if event is None else event, exc_info=exc_info, extra={CONTEXT_ATTR: fields}
                )
                return
            if method == "warn":
                method = "warning"
            function = getattr(target, method, None)
            if function is None:
                function = target.error if method in ("exception", "fatal") else target.info
            function(event, **fields)
        finally:
            local.active = False

    def emit_record(self, record: logging.LogRecord, processors: Sequence[Processor]) -> None:
        # A stdlib target already saw the record through stdlib propagation; records made by our
        # own forwarding carry CONTEXT_ATTR; and a record raised from inside the custom logger
        # would loop. None of these is forwarded.
        if self._stdlib or getattr(self._local, "active", False) or CONTEXT_ATTR in record.__dict__:
            return
        method, event_dict = process_record(record, processors)
        self.emit(method, record.levelno, record.name, event_dict, record.created)


def make_custom_logger(factory: Any, name: str) -> Any:
    """Make the custom logger for *name* from *factory* (see :class:`CustomOutput`)."""
    if factory is logging:
        return logging.getLogger(name)
    context = {"logger": name}
    if isinstance(factory, type):
        return factory(context)
    for attribute in ("new", "bind"):
        function = getattr(factory, attribute, None)
        if callable(function):
            return function(**context)
    function = getattr(factory, "get_logger", None)
    if callable(function):
        return function()
    return factory


def is_usable_factory(factory: Any) -> bool:
    """Whether *factory* is something :func:`make_custom_logger` can work with."""
    if factory is logging or isinstance(factory, type):
        return True
    if any(callable(getattr(factory, attribute, None)) for attribute in ("new", "bind", "get_logger")):
        return True
    return callable(getattr(factory, "info", None))

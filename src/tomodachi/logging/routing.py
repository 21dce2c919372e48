"""Routing tomodachi events to stdlib handlers that an application attached itself.

The console and JSON outputs write a tomodachi event to their stream directly (that is most of why
a line is cheap). An application written for the original tomodachi may also attach its own stdlib
handler - a ``FileHandler`` with ``tomodachi.logging.JSONFormatter``, an OpenTelemetry or Sentry
handler, pytest's ``caplog`` - to the stdlib logger of the same name or one of its ancestors, and
expects tomodachi events there too, because the original forwarded every event to stdlib logging.

:func:`is_plain` answers the usual case per event, :func:`route` decides the others, both by
walking the stdlib logger's propagation chain the way stdlib ``callHandlers`` would:

* no handler other than tomodachi's own on the chain (the usual case): write directly, nothing
  else - a few attribute reads, no ``LogRecord``;
* someone else's handler on the chain: also build a ``LogRecord`` (the fields ride along as
  ``record.__dict__["logger.context"]``, as in the original) and ``handle()`` it on that stdlib
  logger. The direct write still happens when the chain reaches the root logger (or passes a
  tomodachi handler); a logger with ``propagate = False`` and only its own handlers gets the
  record alone, as with stdlib. tomodachi's root handler ignores forwarded records, so nothing is
  written twice.

A level set on a stdlib logger of the chain (``logging.getLogger("tomodachi.http.response")
.setLevel(logging.WARNING)``) filters tomodachi events as it would filter stdlib records. The root
logger's level is not consulted: it is tomodachi's configured level, already checked.
``logging.disable()`` applies to the records handed to stdlib, not to tomodachi's own line.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from tomodachi.logging.renderers import resolve_exc_info

__all__ = [
    "CONTEXT_ATTR",
    "DROP",
    "FORWARD",
    "FORWARDED_ATTR",
    "HANDLER_MARKER",
    "WRITE",
    "explicit_level",
    "forward",
    "is_plain",
    "route",
    "set_own_handler",
    "stdlib_logger",
]

#: Attribute under which a forwarded tomodachi event carries its structured fields on a stdlib record.
CONTEXT_ATTR = "logger.context"

#: Set on records that :func:`forward` made; tomodachi's own handlers skip them (already written).
FORWARDED_ATTR = "_tomodachi_forwarded"

#: Attribute set on handlers tomodachi installed. An attribute, not ``isinstance``, so handlers
#: made by an earlier import of this package (hot reload) are recognised too.
HANDLER_MARKER = "_tomodachi_root_handler"

DROP = 0
WRITE = 1
FORWARD = 2

# The handler instance most likely to be met (tomodachi's root handler); an identity check is
# cheaper than the attribute lookup. Set by tomodachi.logging.handler via set_own_handler().
own_handler: logging.Handler | None = None
# [own_handler]: "root.handlers == _own_only" is the cheapest test of the usual root logger.
_own_only: list[logging.Handler] = []

_PlaceHolder = logging.PlaceHolder
_root = logging.root
_manager = logging.Logger.manager
_known_logger = _manager.loggerDict.get  # the dict is never replaced, only added to


def set_own_handler(handler: logging.Handler) -> None:
    """Register tomodachi's root handler (the instance of this import of the package)."""
    global own_handler, _own_only
    own_handler = handler
    _own_only = [handler]


def stdlib_logger(name: str) -> logging.Logger:
    """The stdlib logger named *name* (created on first use, like ``logging.getLogger``)."""
    logger = _known_logger(name)
    if logger is None or logger.__class__ is _PlaceHolder:
        return logging.getLogger(name)
    return logger  # type: ignore[return-value]


def route(name: str, level: int) -> int:
    """How an event of *level* from logger *name* is delivered: a combination of :data:`WRITE`
    (write it with the tomodachi output) and :data:`FORWARD` (hand a record to stdlib), or
    :data:`DROP`.

    Outputs call the cheap :func:`is_plain` first and this only when that is false.
    """
    return _route(stdlib_logger(name), level)


# The keyword defaults turn two module constants into fast local variables: this runs per line.
def is_plain(name: str, _known_logger: Any = _known_logger, _root: logging.Logger = _root) -> bool:
    """True in the usual case: no handler, level or ``propagate = False`` on the stdlib chain of
    *name* below the root, and only tomodachi's handler (or none) on the root: the event is
    written and nothing else. A few attribute reads (well under 0.1 µs); a logger name stdlib does
    not know yet (or a placeholder) is not plain, so :func:`route` creates it.

    ``logging.disable()`` is not consulted here (``Manager.disable`` is a property, as costly as the
    rest together); it applies to events forwarded to stdlib.
    """
    node = _known_logger(name)
    try:
        while node is not _root:
            if node.handlers or node.level or not node.propagate:
                return False
            node = node.parent
    except AttributeError:  # None (an unknown name) or a PlaceHolder
        return False
    handlers = _root.handlers
    return handlers == _own_only or not handlers


def _route(node: logging.Logger | None, level: int) -> int:
    root = _root
    own = own_handler
    explicit = 0
    foreign = False
    passed_own = False
    propagating = True
    while node is not root and node is not None:
        if not explicit:
            explicit = node.level
        if propagating:
            for handler in node.handlers:
                if handler is own or getattr(handler, HANDLER_MARKER, False):
                    passed_own = True
                else:
                    foreign = True
            if not node.propagate:
                propagating = False
                if explicit:
                    break
        elif explicit:
            break
        node = node.parent
    if explicit and level < explicit:
        return DROP
    reached_root = propagating and node is root
    if reached_root:
        for handler in root.handlers:
            if handler is not own and not getattr(handler, HANDLER_MARKER, False):
                foreign = True
                break
    if not foreign:
        return WRITE
    if level <= _manager.disable:
        return WRITE if reached_root or passed_own else DROP
    return (FORWARD | WRITE) if reached_root or passed_own else FORWARD


def explicit_level(name: str) -> int:
    """The level set on the stdlib logger *name* or its nearest non-root ancestor that has one (0:
    none)."""
    node: logging.Logger | None = stdlib_logger(name)
    while node is not None and node is not _root:
        if node.level:
            return node.level
        node = node.parent
    return 0


_LOGGING_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_STRUCTLOG_PART = os.sep + "structlog" + os.sep


def _caller() -> tuple[str, int, str]:
    """(file, line, function) of the first frame outside tomodachi's logging (and structlog, and
    the deprecated ``Service.log``)."""
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        if not (
            filename.startswith(_LOGGING_DIR)
            or _STRUCTLOG_PART in filename
            or (code.co_name == "log" and frame.f_globals.get("__name__") == "tomodachi.service")
        ):
            return filename, frame.f_lineno, code.co_name
        frame = frame.f_back  # type: ignore[assignment]
    return "(unknown file)", 0, "(unknown function)"


def forward(name: str, level: int, event_dict: dict[str, Any]) -> float:
    """Hand a tomodachi event to the stdlib logger *name* as a record; returns the record's
    creation time (so the direct write can carry the same timestamp).

    *event_dict* is left as it is; the record carries a copy of its fields (without ``event``,
    ``exc_info`` and ``...`` values) as ``record.__dict__["logger.context"]``.
    """
    logger = stdlib_logger(name)
    event = event_dict.get("event")
    fields = {
        key: value
        for key, value in event_dict.items()
        if value is not ... and key != "event" and key != "exc_info"
    }
    exc_info = resolve_exc_info(event_dict.get("exc_info"))
    filename, lineno, function = _caller()
    record = logger.makeRecord(
        name,
        level,
        filename,
        lineno,
        "" if event is None else event,
        (),  # no args: a "%" in the event is not an interpolation
        exc_info,
        function,
        {CONTEXT_ATTR: fields, FORWARDED_ATTR: True},
    )
    logger.handle(record)
    return record.created

"""Save the logging configuration in effect, and put it back.

``tomodachi.testing`` runs services in the caller's process: it configures tomodachi logging for
the run (JSON into a buffer when it captures logs) and, when the run ends, puts back what it found
- the caller's ``tomodachi.logging.configure(...)`` settings, the stdlib root logger's handlers and
level, the handlers on ``tomodachi.*`` loggers, and the bound logging context - rather than
resetting everything to the defaults.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from tomodachi.logging import context as _context
from tomodachi.logging import handler as _handler
from tomodachi.logging.config import Settings, current_settings, update_settings

__all__ = ["LoggingState", "restore_logging_state", "save_logging_state"]


@dataclass(frozen=True)
class LoggingState:
    """What :func:`save_logging_state` found; give it to :func:`restore_logging_state`."""

    settings: Settings
    root_handlers: tuple[logging.Handler, ...]
    root_level: int
    saved_root_level: int | None
    tomodachi_handlers: dict[str, tuple[logging.Handler, ...]]
    context: Any


def _tomodachi_loggers() -> dict[str, logging.Logger]:
    return {
        name: logger
        for name, logger in list(logging.Logger.manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and name.partition(".")[0] == "tomodachi"
    }


def save_logging_state() -> LoggingState:
    """The logging configuration in effect now."""
    root = logging.getLogger()
    return LoggingState(
        settings=current_settings(),
        root_handlers=tuple(root.handlers),
        root_level=root.level,
        saved_root_level=_handler._saved_root_level,
        tomodachi_handlers={name: tuple(logger.handlers) for name, logger in _tomodachi_loggers().items()},
        context=_context._state.get(),
    )


def restore_logging_state(state: LoggingState) -> None:
    """Put back the configuration of *state*: settings, root handlers and level, the handlers of
    ``tomodachi.*`` loggers (closing those added since, except tomodachi's root handler), and
    the logging context of the current task."""
    update_settings(state.settings)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler not in state.root_handlers:
            root.removeHandler(handler)
    for handler in state.root_handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(state.root_level)
    _handler._saved_root_level = state.saved_root_level
    for name, logger in _tomodachi_loggers().items():
        before = state.tomodachi_handlers.get(name, ())
        for handler in list(logger.handlers):
            if handler not in before:
                logger.removeHandler(handler)
                if not getattr(handler, _handler.HANDLER_MARKER, False):
                    handler.close()
        for handler in before:
            if handler not in logger.handlers:
                logger.addHandler(handler)
    _context._state.set(state.context)

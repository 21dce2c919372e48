"""Per-context logger state (one value per asyncio task, via :mod:`contextvars`).

The state is a single immutable pair kept in one :class:`~contextvars.ContextVar`:

* ``current``: the name of the *context logger*, the one ``get_logger()`` without a name returns;
* ``loggers``: the latest bound logger per name ("sticky" binding): after
  ``get_logger("x").bind(k=v)``, a later ``get_logger("x")`` in the same context includes ``k``.

The mapping is never mutated in place; every change stores a new copy. A task created with
``asyncio.create_task`` starts from a copy of its parent's context, so bindings made inside a task
are invisible to its parent and its siblings, while bindings made before the task started are
inherited. Nothing here runs per log call: only ``bind``/``new``/``unbind`` and the framework's
``set_context_logger`` pay for a small dict copy.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tomodachi.logging.logger import Logger

__all__ = [
    "DEFAULT_LOGGER_NAME",
    "ContextLoggerSetter",
    "reset_context",
    "reset_context_logger",
    "set_context_logger",
]

DEFAULT_LOGGER_NAME = "tomodachi"


class _LogContext:
    """Immutable by convention: replaced as a whole, never changed in place."""

    __slots__ = ("current", "loggers")

    def __init__(self, current: str, loggers: dict[str, Logger]) -> None:
        self.current = current
        self.loggers = loggers


_EMPTY = _LogContext(DEFAULT_LOGGER_NAME, {})

_state: contextvars.ContextVar[_LogContext] = contextvars.ContextVar(
    "tomodachi.logging.context", default=_EMPTY
)


def set_context_logger(logger: Logger) -> contextvars.Token[Any]:
    """Make *logger* the current context's logger; ``get_logger()`` returns it from now on.

    Also registers it as the bound logger for its name in this context, so ``get_logger(name)``
    agrees. Returns a token for :func:`reset_context_logger`, which restores both.
    """
    return _state.set(_with_logger(_state.get(), logger))


def _with_logger(state: _LogContext, logger: Logger) -> _LogContext:
    loggers = state.loggers.copy()
    loggers[logger.name] = logger
    return _LogContext(logger.name, loggers)


class ContextLoggerSetter:
    """``set_context_logger(logger)`` for one logger that is set again and again (a handler's).

    ``setter.set()`` returns the token as :func:`set_context_logger` does. A handler runs in a fresh
    task (a copy of the same context) each time, so the state it sets is the same each time: it is
    made once and reused while the state it replaces stays the same, instead of copying the
    bindings per call.
    """

    __slots__ = ("_made", "_over", "logger")

    def __init__(self, logger: Logger) -> None:
        self.logger = logger
        self._over: _LogContext | None = None
        self._made = _EMPTY

    def set(self) -> contextvars.Token[Any]:
        state = _state.get()
        if state is not self._over:
            self._made = _with_logger(state, self.logger)
            self._over = state
        return _state.set(self._made)


def reset_context_logger(token: contextvars.Token[Any]) -> None:
    """Undo the :func:`set_context_logger` call that returned *token* (same context only)."""
    _state.reset(token)


def reset_context() -> None:
    """Forget every sticky binding and the context logger in the current context."""
    _state.set(_EMPTY)


def _register(logger: Logger) -> None:
    """Record *logger* as the latest bound logger for its name in the current context."""
    state = _state.get()
    loggers = state.loggers.copy()
    loggers[logger.name] = logger
    _state.set(_LogContext(state.current, loggers))

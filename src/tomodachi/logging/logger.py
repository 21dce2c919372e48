"""The :class:`Logger` and ``get_logger``.

A :class:`Logger` is an immutable pair of a logger name and a bound context, with the structlog
bound-logger interface (``bind``/``new``/``unbind``/``try_unbind``, ``_context``; it satisfies
``structlog.typing.BindableLogger``). It is not a subclass of a structlog class: importing any
part of structlog also imports ``structlog.dev`` (and ``rich`` when installed), which would cost
more than all of tomodachi's logging together.

Every call goes to the one current :class:`Pipeline` (level, processors, output), replaced as a
whole by :func:`tomodachi.logging.configure`, so loggers made before a reconfiguration follow it.
A call below the level costs one global lookup and one integer comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, Self

from tomodachi.logging import context as _context
from tomodachi.logging.levels import DISABLED, method_name, parse_level
from tomodachi.logging.outputs import Output, StreamOutput, report_error
from tomodachi.logging.processors import (
    EventDict,
    Processor,
    WrappedLogger,
    is_drop_event,
    mask_secrets,
    wrapped_logger,
)
from tomodachi.logging.renderers import ConsoleRenderer, want_colors
from tomodachi.logging.routing import explicit_level
from tomodachi.logging.stdlib_methods import StdlibLoggerMethods

__all__ = ["Logger", "LoggerProtocol", "Pipeline", "emit_at", "getLogger", "get_logger", "is_enabled_for"]


class LoggerProtocol(Protocol):
    """What code that only logs needs from a logger (tomodachi's, structlog's or stdlib's).

    The methods are read-only properties returning ``Callable[..., Any]``: the three kinds of
    logger spell their parameters differently (stdlib's ``msg`` and keyword-only ``exc_info``,
    structlog's ``event`` and ``**kw``), and a type checker accepts all of them only this way.
    """

    @property
    def debug(self) -> Callable[..., Any]: ...
    @property
    def info(self) -> Callable[..., Any]: ...
    @property
    def warning(self) -> Callable[..., Any]: ...
    @property
    def error(self) -> Callable[..., Any]: ...
    @property
    def critical(self) -> Callable[..., Any]: ...
    @property
    def exception(self) -> Callable[..., Any]: ...


class Pipeline:
    """One configuration: the level threshold, the processors and the output. Never mutated."""

    __slots__ = ("level", "output", "processors")

    def __init__(self, level: int, processors: Sequence[Processor], output: Output) -> None:
        self.level = level
        self.processors = tuple(processors)
        self.output = output

    def __repr__(self) -> str:
        return f"Pipeline(level={self.level!r}, processors={self.processors!r}, output={self.output!r})"


def _default_pipeline() -> Pipeline:
    return Pipeline(20, (mask_secrets,), StreamOutput(ConsoleRenderer(colors=want_colors(None)).render))


_pipeline: Pipeline = _default_pipeline()


def current_pipeline() -> Pipeline:
    """The pipeline every logger currently writes through."""
    return _pipeline


def set_pipeline(pipeline: Pipeline) -> None:
    """Replace the pipeline (used by ``configure``)."""
    global _pipeline
    _pipeline = pipeline


_LEVEL_NUMBERS = {
    "debug": 10,
    "info": 20,
    "warning": 30,
    "warn": 30,
    "error": 40,
    "critical": 50,
    "fatal": 50,
}


def is_enabled_for(level: int | str) -> bool:
    """True if an event at *level* (number or name) would be written. Cheap: call it before
    building expensive keyword arguments."""
    if isinstance(level, str):
        number = _LEVEL_NUMBERS.get(level)
        level = number if number is not None else parse_level(level)
    return level >= _pipeline.level


class Logger(StdlibLoggerMethods):
    """A named logger with a bound context. Methods: ``debug``, ``info``, ``warning`` (``warn``),
    ``error``, ``critical`` (``fatal``), ``exception``, ``log``; ``bind``, ``new``, ``unbind``,
    ``try_unbind``. The stdlib-logger methods (``addHandler``, ``setLevel``, ``propagate``, ...)
    act on the stdlib logger of the same name (see :mod:`tomodachi.logging.stdlib_methods`).

    ``logger.info("event", key=value)`` logs ``event`` with the bound context plus ``key``.
    Positional arguments are %-interpolated into the event, as with stdlib logging. A value of
    ``...`` leaves its key out of the output. ``exc_info=True`` (or an exception) adds the
    traceback; ``exception()`` does that by default.

    Binding is sticky per name and per context: after ``get_logger("x").bind(k=v)``, a later
    ``get_logger("x")`` in the same task (or its child tasks) includes ``k``.
    """

    __slots__ = ("_context", "_logger", "_name")

    _context: dict[str, Any]
    _logger: WrappedLogger
    _name: str

    def __init__(self, name: str, context: Mapping[str, Any] | None = None) -> None:
        self._name = name
        self._logger = wrapped_logger(name)
        self._context = dict(context) if context else {}

    @property
    def name(self) -> str:
        """The logger name shown in ``[brackets]`` / the ``logger`` key."""
        return self._name

    def __repr__(self) -> str:
        return f"<Logger(name={self._name!r}, context={self._context!r})>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Logger):
            return NotImplemented
        return self._name == other._name and self._context == other._context

    def __hash__(self) -> int:
        return hash(self._name)

    # --- binding (immutable: each returns a new logger, registered for its name) -----------------

    def _derive(self, context: dict[str, Any]) -> Self:
        logger = self.__class__.__new__(self.__class__)
        logger._name = self._name
        logger._logger = self._logger
        logger._context = context
        _context._register(logger)
        return logger

    def bind(self, **new_values: Any) -> Self:
        """A logger with *new_values* added to the context."""
        return self._derive({**self._context, **new_values})

    def new(self, **new_values: Any) -> Self:
        """A logger whose context is only *new_values*."""
        return self._derive(new_values)

    def unbind(self, *keys: str) -> Self:
        """A logger without *keys*; ``KeyError`` if one is not bound."""
        context = self._context.copy()
        for key in keys:
            del context[key]
        return self._derive(context)

    def try_unbind(self, *keys: str) -> Self:
        """Like :meth:`unbind`, ignoring keys that are not bound."""
        context = self._context.copy()
        for key in keys:
            context.pop(key, None)
        return self._derive(context)

    # --- logging ----------------------------------------------------------------------------------

    def is_enabled_for(self, level: int | str) -> bool:
        """True if an event at *level* would be written (tomodachi's configured level)."""
        return is_enabled_for(level)

    def isEnabledFor(self, level: int) -> bool:
        """Like :meth:`is_enabled_for`, also honouring a level set on the stdlib logger of this name
        (or a non-root ancestor)."""
        return is_enabled_for(level) and level >= explicit_level(self._name)

    def getEffectiveLevel(self) -> int:
        """The level set on the stdlib logger of this name (or a non-root ancestor), else
        tomodachi's configured level."""
        return explicit_level(self._name) or _pipeline.level

    def _emit(
        self,
        pipeline: Pipeline,
        method: str,
        level: int,
        event: Any,
        args: tuple[Any, ...],
        kw: EventDict,
        created: float | None = None,
    ) -> None:
        try:
            context = self._context
            event_dict = {**context, **kw} if context else kw
            if args:
                if len(args) == 1 and isinstance(args[0], dict) and args[0]:
                    event = event % args[0]
                else:
                    event = event % args
            event_dict["event"] = event
            wrapped = self._logger
            for processor in pipeline.processors:
                event_dict = processor(wrapped, method, event_dict)
            pipeline.output.emit(method, level, self._name, event_dict, created)
        except Exception:
            report_error(f"Logger: {self._name!r}, event: {event!r}")
        except BaseException as exc:  # structlog.DropEvent is a BaseException
            if not is_drop_event(exc):
                raise

    # The level numbers are literals on purpose: a constant is cheaper than a global lookup.

    def debug(self, event: Any = None, *args: Any, **kw: Any) -> None:
        """Log *event* at level debug."""
        pipeline = _pipeline
        if pipeline.level <= 10:
            self._emit(pipeline, "debug", 10, event, args, kw)

    def info(self, event: Any = None, *args: Any, **kw: Any) -> None:
        """Log *event* at level info."""
        pipeline = _pipeline
        if pipeline.level <= 20:
            self._emit(pipeline, "info", 20, event, args, kw)

    def msg(self, event: Any = None, *args: Any, **kw: Any) -> None:
        """Alias of :meth:`info` (structlog's name)."""
        pipeline = _pipeline
        if pipeline.level <= 20:
            self._emit(pipeline, "info", 20, event, args, kw)

    def warning(self, event: Any = None, *args: Any, **kw: Any) -> None:
        """Log *event* at level warning."""
        pipeline = _pipeline
        if pipeline.level <= 30:
            self._emit(pipeline, "warning", 30, event, args, kw)

    warn = warning

    def error(self, event: Any = None, *args: Any, **kw: Any) -> None:
        """Log *event* at level error."""
        pipeline = _pipeline
        if pipeline.level <= 40:
            self._emit(pipeline, "error", 40, event, args, kw)

    def exception(self, event: Any = None, *args: Any, **kw: Any) -> None:
        """Log *event* at level error with the exception being handled (``exc_info=True``)."""
        pipeline = _pipeline
        if pipeline.level <= 40:
            kw.setdefault("exc_info", True)
            self._emit(pipeline, "exception", 40, event, args, kw)

    def critical(self, event: Any = None, *args: Any, **kw: Any) -> None:
        """Log *event* at level critical."""
        pipeline = _pipeline
        if pipeline.level <= 50:
            self._emit(pipeline, "critical", 50, event, args, kw)

    fatal = critical

    def log(self, level: int | str, event: Any = None, *args: Any, **kw: Any) -> None:
        """Log *event* at *level* (a number or a level name)."""
        if isinstance(level, str):
            number = _LEVEL_NUMBERS.get(level)
            level = number if number is not None else parse_level(level)
        pipeline = _pipeline
        if pipeline.level <= level < DISABLED:
            self._emit(pipeline, method_name(level), level, event, args, kw)


def emit_at(
    logger: Logger, pipeline: Pipeline, level: int, created: float | None, event: Any, kw: EventDict
) -> None:
    """Log *event* with the keywords *kw* (consumed) through *pipeline*, as ``logger.<level>(event, **kw)``
    would, with the line's timestamp *created* (seconds since the epoch; ``None``: now).

    For lines written later than their event happened (:func:`tomodachi.logging.outputs.defer`);
    the caller checked the level.
    """
    logger._emit(pipeline, method_name(level), level, event, (), kw, created)


# Unbound loggers per name. Loggers are immutable, so one instance per name can be shared.
_base_loggers: dict[str, Logger] = {}
_BASE_LOGGERS_LIMIT = 4096


def get_logger(name: str | None = None) -> Logger:
    """The logger for *name*, or without a name the current context's logger.

    The context logger is the one the framework set for the running handler (for example
    ``tomodachi.http.handler`` bound with ``handler=...`` and ``type=...``), otherwise the logger
    named ``"tomodachi"``. For a name that was bound in this context (``get_logger(name).bind(...)``)
    the latest bound logger is returned.
    """
    state = _context._state.get()
    if name is None:
        name = state.current
    logger = state.loggers.get(name)
    if logger is None:
        logger = _base_loggers.get(name)
        if logger is None:
            if not isinstance(name, str):
                raise TypeError(f"logger name must be a str, not {type(name).__name__}")
            logger = Logger(name)
            if len(_base_loggers) < _BASE_LOGGERS_LIMIT:
                _base_loggers[name] = logger
    return logger


getLogger = get_logger  # the stdlib-style spelling the original library also offered

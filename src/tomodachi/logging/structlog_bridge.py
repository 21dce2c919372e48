"""``configure_structlog()``: make ``structlog.get_logger()`` write through tomodachi's output.

After the call, a structlog logger renders exactly like a tomodachi logger of the same name: the
output chosen by :func:`tomodachi.logging.configure` (console, json, python, disabled or custom),
the same stream, the same level, the extra processors and secret masking. Keys bound with
``structlog.contextvars.bind_contextvars`` are merged in. ``structlog.get_logger()`` without a
name uses the current context logger (inside a handler: its name and its bound keys), like
``tomodachi.get_logger()``.

Nothing here is frozen at configuration time: every call looks up the current tomodachi pipeline,
so a later ``tomodachi.logging.configure(...)`` applies to structlog loggers at once, including
loggers obtained before it.

structlog is imported only when :func:`configure_structlog` is called; importing this module
does not import it. ``tomodachi run`` calls it after importing the service files when (and only
when) they imported structlog, unless the application configured structlog itself.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from tomodachi.logging.logger import current_pipeline, get_logger
from tomodachi.logging.outputs import StreamOutput, report_error
from tomodachi.logging.processors import EventDict, is_drop_event, mask_secrets, wrapped_logger
from tomodachi.logging.renderers import ConsoleRenderer, want_colors

__all__ = ["StructlogTarget", "configure_structlog", "is_structlog_bridged", "structlog_target"]

# Method name -> level number. structlog's filtering loggers call the wrapped logger with
# "debug", "info", "warning", "error" or "critical" (``exception`` goes through ``error``).
_LEVELS: dict[str, int] = {
    "debug": 10,
    "info": 20,
    "msg": 20,
    "warning": 30,
    "warn": 30,
    "error": 40,
    "exception": 40,
    "critical": 50,
    "fatal": 50,
}

# Set while a structlog event is being handed to the output. If the output calls back into a
# structlog logger (a custom logger that is itself ``structlog.get_logger()``, a processor or a
# stdlib handler that logs with structlog), the inner event goes to a plain console output
# instead of recursing without end.
_local = threading.local()
_fallback: StreamOutput | None = None


def _fallback_output() -> StreamOutput:
    global _fallback
    if _fallback is None:
        _fallback = StreamOutput(ConsoleRenderer(colors=want_colors(None)).render)
    return _fallback


class StructlogTarget:
    """The object structlog wraps (its "logger"): hands processed events to tomodachi's output.

    structlog runs its processors (``merge_contextvars``) and then calls
    ``target.<method>(**event_dict)``; the target runs tomodachi's processors (extra ones, then
    secret masking) and the output, exactly as :class:`~tomodachi.logging.Logger` does.
    """

    __slots__ = ("_name",)

    def __init__(self, name: str | None = None) -> None:
        self._name = name

    @property
    def name(self) -> str:
        """The logger name; for an unnamed logger, the current context logger's name."""
        name = self._name
        return name if name is not None else get_logger().name

    def __repr__(self) -> str:
        return f"StructlogTarget({self._name!r})"

    def _emit(self, method: str, event_dict: EventDict) -> None:
        name = self._name
        try:
            if name is None:
                context_logger = get_logger()
                name = context_logger.name
                context = context_logger._context
                if context:
                    event_dict = {**context, **event_dict}
            pipeline = current_pipeline()
            level = _LEVELS.get(method, 20)
            if level < pipeline.level:  # only reached through a wrapper class other than ours
                return
            if getattr(_local, "active", False):
                # Called back from inside the output or a processor: write plainly, don't recurse.
                event_dict = mask_secrets(None, method, event_dict)
                _fallback_output().write(name, level, event_dict, None)
                return
            _local.active = True
            try:
                wrapped = wrapped_logger(name)
                for processor in pipeline.processors:
                    event_dict = processor(wrapped, method, event_dict)
                pipeline.output.emit(method, level, name, event_dict, None)
            finally:
                _local.active = False
        except Exception:
            report_error(f"structlog logger: {name!r}, event: {event_dict.get('event')!r}")
        except BaseException as exc:  # structlog.DropEvent is a BaseException
            if not is_drop_event(exc):
                raise

    def debug(self, **event_dict: Any) -> None:
        self._emit("debug", event_dict)

    def info(self, **event_dict: Any) -> None:
        self._emit("info", event_dict)

    msg = info

    def warning(self, **event_dict: Any) -> None:
        self._emit("warning", event_dict)

    warn = warning

    def error(self, **event_dict: Any) -> None:
        self._emit("error", event_dict)

    def exception(self, **event_dict: Any) -> None:
        event_dict.setdefault("exc_info", True)
        self._emit("error", event_dict)

    def critical(self, **event_dict: Any) -> None:
        self._emit("critical", event_dict)

    fatal = critical


_unnamed_target = StructlogTarget()
_targets: dict[str, StructlogTarget] = {}
_TARGETS_LIMIT = 4096


def structlog_target(*args: Any) -> StructlogTarget:
    """structlog's ``logger_factory``: ``structlog.get_logger("x")`` wraps the target named ``x``.

    Without a name (or with ``None``) the target follows the current context logger.
    """
    if not args or args[0] is None:
        return _unnamed_target
    name = args[0] if isinstance(args[0], str) else str(args[0])
    target = _targets.get(name)
    if target is None:
        target = StructlogTarget(name)
        if len(_targets) < _TARGETS_LIMIT:
            _targets[name] = target
    return target


_wrapper_class: type[Any] | None = None


def _make_wrapper_class() -> type[Any]:
    """structlog's filtering bound logger, with the level read from tomodachi at each call.

    Built on ``structlog.make_filtering_bound_logger`` (so ``ainfo``, ``log``, ``exception``,
    ... all exist); only the level check differs: it runs before the context is copied and the
    processors run, against the level of the current tomodachi configuration.
    """
    global _wrapper_class
    if _wrapper_class is not None:
        return _wrapper_class
    import structlog

    proxy_to_logger = structlog.BoundLoggerBase._proxy_to_logger

    def _proxy_to_logger(self: Any, method_name: str, event: str | None = None, **event_kw: Any) -> Any:
        if _LEVELS.get(method_name, 0) < current_pipeline().level:
            return None
        return proxy_to_logger(self, method_name, event, **event_kw)

    def is_enabled_for(self: Any, level: int) -> bool:
        return level >= current_pipeline().level

    def get_effective_level(self: Any) -> int:
        return current_pipeline().level

    _wrapper_class = type(
        "TomodachiBoundLogger",
        (structlog.make_filtering_bound_logger(0),),
        {
            "__module__": __name__,
            "__doc__": "A structlog filtering bound logger whose level is tomodachi's current level.",
            "_proxy_to_logger": _proxy_to_logger,
            "is_enabled_for": is_enabled_for,
            "get_effective_level": get_effective_level,
        },
    )
    return _wrapper_class


def is_structlog_bridged() -> bool:
    """True if structlog is currently configured by :func:`configure_structlog`."""
    structlog = sys.modules.get("structlog")
    if structlog is None:
        return False
    return bool(structlog.get_config().get("logger_factory") is structlog_target)


def configure_structlog(*, override: bool = True) -> bool:
    """Configure structlog so that ``structlog.get_logger(...)`` writes through tomodachi's output.

    Imports structlog and calls ``structlog.configure()`` with ``merge_contextvars`` as the only
    structlog processor, a filtering bound logger that uses tomodachi's level, and a logger
    factory whose loggers hand events to the current tomodachi output. Calling it again is
    harmless; a later :func:`tomodachi.logging.configure` needs no new call.

    With ``override=False`` a structlog configuration made by someone else
    (``structlog.is_configured()``) is left alone. Returns whether structlog is bridged now.

    Add processors with ``tomodachi.logging.configure(processors=[...])``: they then apply to
    tomodachi, structlog and stdlib events alike.
    """
    import structlog

    if not override and structlog.is_configured() and not is_structlog_bridged():
        return False
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars],
        wrapper_class=_make_wrapper_class(),
        context_class=dict,
        logger_factory=structlog_target,
        cache_logger_on_first_use=False,
    )
    return True

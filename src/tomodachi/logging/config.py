"""``configure()``: choose the logger type, level, stream and colours in one call.

Everything is validated before anything changes, so a bad call leaves the previous
configuration in place. Calling it again reconfigures; loggers obtained earlier follow.

The current settings are kept in one immutable :class:`Settings` value, so that the original
library's partial helpers (``configure(log_level=...)``, ``set_default_formatter(...)``,
``set_custom_logger_factory(...)``) can change one aspect and keep the rest.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from tomodachi.errors import ConfigurationError
from tomodachi.logging.formatters import (
    DEFAULT_FORMAT,
    NoColorConsoleFormatter,
    PythonLoggingFormatter,
    formatter_for,
)
from tomodachi.logging.handler import (
    DefaultRootLoggerHandler,
    install_root_handler,
    remove_root_handler,
    set_root_formatter,
)
from tomodachi.logging.levels import DISABLED, parse_level
from tomodachi.logging.logger import Pipeline, set_pipeline
from tomodachi.logging.outputs import (
    CustomOutput,
    DisabledOutput,
    Output,
    PythonOutput,
    StreamOutput,
    is_usable_factory,
)
from tomodachi.logging.processors import Processor, mask_secrets
from tomodachi.logging.renderers import ConsoleRenderer, JSONRenderer, want_colors

__all__ = [
    "DEFAULT_FORMAT",
    "LOGGER_TYPES",
    "Settings",
    "configure",
    "current_settings",
    "custom_output",
    "import_custom_logger",
    "invalid_type_message",
    "is_logger_type_name",
    "remove_handlers",
    "set_persistent_processor",
    "update_settings",
]

LOGGER_TYPES = ("console", "json", "python", "disabled", "custom")

# Accepted for compatibility with the original library's formatter names.
_ALIASES = {"no_color_console": "console"}


@dataclasses.dataclass(frozen=True)
class Settings:
    """The logging configuration in effect (replaced as a whole, never changed in place)."""

    #: As named by the caller, lower-cased: one of LOGGER_TYPES or "no_color_console".
    logger_type: str = "console"
    level: int = 20
    #: The custom logger as given (a path or an object); kept while another type is active.
    custom_logger: Any = None
    stream: TextIO | None = None
    color: bool | None = None
    processors: tuple[Processor, ...] = ()
    #: The formatter of the ``python`` type (``set_default_formatter(formatter=...)``).
    python_formatter: logging.Formatter | None = None


_settings = Settings()


def current_settings() -> Settings:
    """The settings in effect."""
    return _settings


def configure(
    logger_type: str | int | None = None,
    level: str | int = "info",
    *,
    custom_logger: str | object | None = None,
    stream: TextIO | None = None,
    color: bool | None = None,
    processors: Sequence[Processor] | None = None,
    log_level: str | int | None = None,
    force: bool = False,
) -> None:
    """Configure tomodachi logging and the stdlib root logger. Idempotent; call again to change.

    * *logger_type*: ``"console"``, ``"json"``, ``"python"``, ``"disabled"`` or ``"custom"``
      (which needs a custom logger). ``None``: keep the current type, custom logger, stream,
      colours and processors, except those passed explicitly.
    * *level*: a level name (any case) or number; events below it are dropped, and the root
      logger's level is set to it.
    * *custom_logger*: for ``"custom"``: a dotted path ``"pkg.mod.attr"`` or ``"pkg.mod"``, or the
      object itself (the ``logging`` module, a class, or an object with ``new``/``bind``/``get_logger``).
    * *stream*: where lines go; default ``sys.stderr``, looked up at each write.
    * *color*: force console colours on or off; default: on for a terminal unless ``NO_COLOR``.
    * *processors*: extra structlog-style processors, run before secret masking.

    The original library's call style works too: ``configure(log_level=logging.INFO,
    force=False)``, ``configure("debug")``, ``configure(logging.DEBUG, True)``. It keeps the
    current logger type (``set_default_formatter``) and output, sets the level and installs the
    root handler; ``force=True`` also removes (and closes) every other handler on the root logger,
    as ``logging.basicConfig(force=True)`` does.

    Raises :class:`~tomodachi.errors.ConfigurationError` for an unknown type or level, or a custom
    logger that cannot be imported.
    """
    logger_type, level, force = _call_style(logger_type, level, log_level, force)
    level_number = parse_level(level)
    if logger_type is None:
        base = _settings
        kind = _logger_kind(base.logger_type, None)[0]
        if custom_logger is not None and kind != "custom":
            raise ConfigurationError(f"A custom logger needs logger_type 'custom' (got {base.logger_type!r})")
        settings = dataclasses.replace(
            base,
            level=level_number,
            custom_logger=base.custom_logger if custom_logger is None else custom_logger,
            stream=base.stream if stream is None else stream,
            color=base.color if color is None else color,
            processors=base.processors if processors is None else tuple(processors),
        )
    else:
        if not isinstance(logger_type, str):
            raise ConfigurationError(invalid_type_message(logger_type))
        kind = _logger_kind(logger_type, None)[0]
        if kind == "custom" and custom_logger is None and _settings.custom_logger is None:
            raise ConfigurationError(
                "The 'custom' logger type needs a custom logger (custom_logger='pkg.module.attr')"
            )
        if custom_logger is not None and kind != "custom":
            raise ConfigurationError(f"A custom logger needs logger_type 'custom' (got {logger_type!r})")
        settings = Settings(
            logger_type=logger_type.strip().lower(),
            level=level_number,
            custom_logger=_settings.custom_logger if custom_logger is None else custom_logger,
            stream=stream,
            color=color,
            processors=tuple(processors or ()),
        )
    update_settings(settings, install_handler=True)
    if force:
        _remove_other_root_handlers()


def _call_style(
    logger_type: str | int | None, level: str | int, log_level: str | int | None, force: bool
) -> tuple[str | None, str | int, bool]:
    """Map the original's ``configure(log_level, force)`` onto (logger_type, level, force)."""
    if isinstance(logger_type, int) or (logger_type is not None and not is_logger_type_name(logger_type)):
        if not _is_level(logger_type):
            raise ConfigurationError(invalid_type_message(logger_type))
        # configure(logging.DEBUG), configure("debug"), configure("debug", True)
        if log_level is not None:
            raise TypeError("configure() got the log level twice (positionally and as log_level)")
        if isinstance(level, bool):
            force = force or level
        elif level != "info":
            raise ConfigurationError(invalid_type_message(logger_type))
        return None, logger_type, force
    if log_level is not None:
        if level != "info":
            raise TypeError("configure() takes level or log_level, not both")
        level = log_level
    return logger_type, level, force


def is_logger_type_name(value: object) -> bool:
    if not isinstance(value, str):
        return False
    name = value.strip().lower()
    return name in LOGGER_TYPES or name in _ALIASES


def _is_level(value: object) -> bool:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return False
    try:
        parse_level(value)
    except ConfigurationError:
        return False
    return True


#: Processors kept through every configure() (instrumentation's: OpenTelemetry's trace ids).
_persistent: tuple[Processor, ...] = ()


def set_persistent_processor(processor: Processor, enabled: bool = True) -> None:
    """Add (or with ``enabled=False`` remove) a processor that every later ``configure()`` keeps,
    run after the configured ones and before secret masking."""
    global _persistent
    kept = tuple(p for p in _persistent if p is not processor)
    _persistent = (*kept, processor) if enabled else kept
    update_settings(_settings)


def update_settings(settings: Settings, *, install_handler: bool = False) -> None:
    """Apply *settings*: the pipeline, the root handler's formatter, and (with *install_handler*)
    the root handler and root level. Validates first; on error nothing changes."""
    global _settings
    kind, color = _logger_kind(settings.logger_type, settings.color)
    output = _output(kind, settings, color)
    formatter = _root_formatter(kind, settings, color)
    threshold = DISABLED if kind == "disabled" else settings.level
    set_pipeline(Pipeline(threshold, (*settings.processors, *_persistent, mask_secrets), output))
    set_root_formatter(formatter)
    _settings = settings
    _publish(settings)
    if install_handler:
        install_root_handler(settings.level)


def _publish(settings: Settings) -> None:
    """Mirror the settings in the original's module attributes ``TOMODACHI_LOGGER_TYPE`` and
    ``TOMODACHI_CUSTOM_LOGGER`` of ``tomodachi.logging``."""
    package = sys.modules.get(__name__.rpartition(".")[0])
    if package is not None:
        logger_type = settings.logger_type
        if logger_type == "console" and settings.color is False:
            logger_type = "no_color_console"
        package.TOMODACHI_LOGGER_TYPE = logger_type  # type: ignore[attr-defined]
        package.TOMODACHI_CUSTOM_LOGGER = settings.custom_logger  # type: ignore[attr-defined]


def _remove_other_root_handlers() -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler is not DefaultRootLoggerHandler:
            root.removeHandler(handler)
            handler.close()


def _logger_kind(logger_type: object, color: bool | None) -> tuple[str, bool | None]:
    """The canonical logger type (aliases resolved) and the colour setting it implies."""
    if not isinstance(logger_type, str):
        raise ConfigurationError(invalid_type_message(logger_type))
    kind = logger_type.strip().lower()
    if kind in _ALIASES:
        if kind == "no_color_console" and color is None:
            color = False
        kind = _ALIASES[kind]
    if kind not in LOGGER_TYPES:
        raise ConfigurationError(invalid_type_message(logger_type))
    return kind, color


def _output(kind: str, settings: Settings, color: bool | None) -> Output:
    """Where records of logger type *kind* go."""
    stream = settings.stream
    if kind == "custom":
        return _custom_output(settings.custom_logger)
    if kind == "console":
        use_colors = want_colors(stream) if color is None else color
        return StreamOutput(ConsoleRenderer(colors=use_colors).render, stream, "console")
    if kind == "json":
        return StreamOutput(JSONRenderer().render, stream, "json")
    if kind == "python":
        return PythonOutput(settings.python_formatter or PythonLoggingFormatter, stream)
    return DisabledOutput()


def _root_formatter(kind: str, settings: Settings, color: bool | None) -> logging.Formatter:
    if kind == "python":
        return settings.python_formatter or PythonLoggingFormatter
    if kind == "console" and color is False:
        return NoColorConsoleFormatter
    return formatter_for(kind)


def _custom_output(custom_logger: Any) -> CustomOutput:
    if custom_logger is None:
        raise ConfigurationError(
            "The 'custom' logger type needs a custom logger (custom_logger='pkg.module.attr')"
        )
    factory = import_custom_logger(custom_logger) if isinstance(custom_logger, str) else custom_logger
    if not is_usable_factory(factory):
        raise ConfigurationError(
            f"Invalid custom logger {custom_logger!r}: expected the logging module, a class, "
            "or an object with new(), bind(), get_logger() or info()"
        )
    return CustomOutput(factory)


def custom_output() -> CustomOutput:
    """An output for the custom logger currently set (``CustomLoggerFormatter`` uses it when the
    custom type is not the active one). Raises ``ConfigurationError`` if none is set."""
    if _settings.custom_logger is None:
        raise ConfigurationError(
            "No custom logger set: call tomodachi.logging.set_custom_logger_factory(...) "
            "or run with --custom-logger"
        )
    return _custom_output(_settings.custom_logger)


def remove_handlers() -> None:
    """Take tomodachi's handler off the root logger (restoring the root level), remove and close
    the handlers on the ``tomodachi`` and ``tomodachi.*`` stdlib loggers (as the original did), and
    return tomodachi logging to the default (console, info, stderr, no custom logger)."""
    remove_root_handler()
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger) or name.partition(".")[0] != "tomodachi":
            continue
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            if not getattr(handler, "_tomodachi_root_handler", False):
                try:
                    handler.close()
                except (OSError, ValueError):
                    pass
    update_settings(Settings())


def invalid_type_message(value: object) -> str:
    return f"Invalid logger type: {value!r} (expected 'console', 'json', 'python', 'disabled' or 'custom')"


def import_custom_logger(path: str) -> Any:
    """Import ``"pkg.mod.attr"`` (an attribute of a module) or ``"pkg.mod"`` (the module itself).

    The path is used exactly as given (module names are case-sensitive).
    """
    path = path.strip()
    if not path or any(not part.isidentifier() for part in path.split(".")):
        raise ConfigurationError(
            f"Invalid custom logger path: {path!r} (expected 'package.module.attribute')"
        )
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as exc:
        # Only "this path is not a module" falls through to "module.attribute"; a module that
        # exists but fails to import is reported as such.
        if "." not in path or exc.name != path:
            raise ConfigurationError(_import_failed(path, exc)) from None
    except Exception as exc:
        raise ConfigurationError(_import_failed(path, exc)) from None

    module_path, _, attribute = path.rpartition(".")
    try:
        module = importlib.import_module(module_path)
    except Exception as exc:
        raise ConfigurationError(_import_failed(path, exc)) from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ConfigurationError(
            f"Unable to import custom logger {path!r}: module {module_path!r} has no attribute {attribute!r}"
        ) from None


def _import_failed(path: str, exc: BaseException) -> str:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"Unable to import custom logger {path!r}: {detail}"

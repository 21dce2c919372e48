"""``configure()``: choose the logger type, level, stream and colours in one call.

Everything is validated before anything changes, so a bad call leaves the previous
configuration in place. Calling it again reconfigures; loggers obtained earlier follow.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from typing import Any, TextIO

from tomodachi.errors import ConfigurationError
from tomodachi.logging.handler import install_root_handler, remove_root_handler
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

__all__ = ["DEFAULT_FORMAT", "LOGGER_TYPES", "configure", "import_custom_logger", "remove_handlers"]

#: The stdlib format used by the ``python`` logger type.
DEFAULT_FORMAT = "%(asctime)s [%(levelname)-9s] %(message)-30s [%(name)s]"

LOGGER_TYPES = ("console", "json", "python", "disabled", "custom")

# Accepted for compatibility with the original library's formatter names.
_ALIASES = {"no_color_console": "console"}


def configure(
    logger_type: str = "console",
    level: str | int = "info",
    *,
    custom_logger: str | object | None = None,
    stream: TextIO | None = None,
    color: bool | None = None,
    processors: Sequence[Processor] = (),
) -> None:
    """Configure tomodachi logging and the stdlib root logger. Idempotent; call again to change.

    * *logger_type*: ``"console"`` (default), ``"json"``, ``"python"``, ``"disabled"`` or
      ``"custom"`` (which needs *custom_logger*).
    * *level*: a level name (any case) or number; events below it are dropped, and the root
      logger's level is set to it.
    * *custom_logger*: for ``"custom"``: a dotted path ``"pkg.mod.attr"`` or ``"pkg.mod"``, or the
      object itself (the ``logging`` module, a class, or an object with ``new``/``bind``/``get_logger``).
    * *stream*: where lines go; default ``sys.stderr``, looked up at each write.
    * *color*: force console colours on or off; default: on for a terminal unless ``NO_COLOR``.
    * *processors*: extra structlog-style processors, run before secret masking.

    Raises :class:`~tomodachi.errors.ConfigurationError` for an unknown type or level, or a custom
    logger that cannot be imported.
    """
    kind, color = _logger_kind(logger_type, color)
    level_number = parse_level(level)
    output = _output(kind, logger_type, custom_logger, stream, color)
    threshold = DISABLED if kind == "disabled" else level_number
    set_pipeline(Pipeline(threshold, (*processors, mask_secrets), output))
    install_root_handler(level_number)


def _logger_kind(logger_type: object, color: bool | None) -> tuple[str, bool | None]:
    """The canonical logger type (aliases resolved) and the colour setting it implies."""
    if not isinstance(logger_type, str):
        raise ConfigurationError(_invalid_type_message(logger_type))
    kind = logger_type.strip().lower()
    if kind in _ALIASES:
        if kind == "no_color_console" and color is None:
            color = False
        kind = _ALIASES[kind]
    if kind not in LOGGER_TYPES:
        raise ConfigurationError(_invalid_type_message(logger_type))
    return kind, color


def _output(
    kind: str, logger_type: str, custom_logger: str | object | None, stream: TextIO | None, color: bool | None
) -> Output:
    """Where records of logger type *kind* go."""
    if kind == "custom":
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
    if custom_logger is not None:
        raise ConfigurationError(f"A custom logger needs logger_type 'custom' (got {logger_type!r})")
    if kind == "console":
        use_colors = want_colors(stream) if color is None else color
        return StreamOutput(ConsoleRenderer(colors=use_colors).render, stream, "console")
    if kind == "json":
        return StreamOutput(JSONRenderer().render, stream, "json")
    if kind == "python":
        return PythonOutput(logging.Formatter(DEFAULT_FORMAT), stream)
    return DisabledOutput()


def remove_handlers() -> None:
    """Take tomodachi's handler off the root logger, restore the root level, and return
    tomodachi loggers to the default (console, info, stderr)."""
    remove_root_handler()
    set_pipeline(
        Pipeline(
            20,
            (mask_secrets,),
            StreamOutput(ConsoleRenderer(colors=want_colors(None)).render, None, "console"),
        )
    )


def _invalid_type_message(value: object) -> str:
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

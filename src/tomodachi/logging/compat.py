"""The original library's module-level helpers: ``set_default_formatter``,
``set_custom_logger_factory`` and ``bind_logger``.

Each one changes one aspect of the current configuration (see :mod:`tomodachi.logging.config`)
and keeps the rest: the level, the stream, the processors.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Mapping
from typing import Any

from tomodachi.errors import ConfigurationError
from tomodachi.logging.config import (
    current_settings,
    import_custom_logger,
    invalid_type_message,
    is_logger_type_name,
    update_settings,
)
from tomodachi.logging.context import set_context_logger
from tomodachi.logging.formatters import PythonLoggingFormatter, TomodachiFormatter
from tomodachi.logging.logger import Logger, get_logger
from tomodachi.logging.outputs import is_usable_factory

__all__ = ["bind_logger", "set_custom_logger_factory", "set_default_formatter"]

_COMBINATION = "Invalid combination of arguments given to set_default_formatter()"


def set_default_formatter(
    _arg: str | logging.Formatter | None = None,
    /,
    *,
    logger_type: str | None = None,
    formatter: logging.Formatter | None = None,
) -> None:
    """Choose the output of tomodachi loggers and of the root handler, keeping level and stream.

    Call it with a logger type (``"console"``, ``"no_color_console"``, ``"json"``, ``"python"``,
    ``"custom"``, ``"disabled"``), positionally or as ``logger_type=``, or with a
    ``logging.Formatter``, positionally or as ``formatter=``: one of ``tomodachi.logging``'s
    formatters selects its type, any other formatter selects the ``python`` type formatted by it.
    Without arguments, the current type is applied again.

    This does not put the handler on the root logger; :func:`~tomodachi.logging.configure` does.

    Raises ``TypeError`` for both a positional and a keyword argument, for both ``logger_type`` and
    ``formatter``, or for an argument of another type; ``ConfigurationError`` (an ``Exception``)
    for an unknown logger type or a ``"custom"`` type without a custom logger.
    """
    if _arg is not None and (logger_type is not None or formatter is not None):
        raise TypeError(_COMBINATION)
    if logger_type is not None and formatter is not None:
        raise TypeError(_COMBINATION)
    if _arg is not None:
        if isinstance(_arg, logging.Formatter):
            formatter = _arg
        elif isinstance(_arg, str):
            logger_type = _arg
        else:
            raise TypeError("Invalid logger type or formatter given")

    settings = current_settings()
    python_formatter: logging.Formatter | None = None
    if formatter is not None:
        if not isinstance(formatter, logging.Formatter):
            raise TypeError("Invalid formatter given (expected an instance of logging.Formatter)")
        if isinstance(formatter, TomodachiFormatter):
            logger_type = formatter.logger_type
        else:
            logger_type = "python"
            python_formatter = None if formatter is PythonLoggingFormatter else formatter
    elif logger_type is None:
        logger_type = settings.logger_type
        python_formatter = settings.python_formatter
    if not isinstance(logger_type, str):
        raise TypeError("Invalid logger type given (expected a str)")
    if not is_logger_type_name(logger_type):
        raise ConfigurationError(invalid_type_message(logger_type))
    update_settings(
        dataclasses.replace(
            settings, logger_type=logger_type.strip().lower(), color=None, python_formatter=python_formatter
        )
    )


def set_custom_logger_factory(logger_factory: str | object | None = None) -> None:
    """Set the custom logger used by the ``custom`` logger type (``--custom-logger``).

    *logger_factory*: a dotted path (``"pkg.mod.attr"`` or ``"pkg.mod"``), the ``logging`` module,
    a class (called as ``cls(context)``), or an object with ``new``/``bind``/``get_logger``. It takes
    effect at once when the ``custom`` type is active, otherwise at the next
    ``set_default_formatter("custom")``. ``None`` clears it; if the ``custom`` type was active,
    output returns to ``console``. ``tomodachi.logging`` itself is not a custom logger: passing it
    clears the custom logger and selects ``console``, as in the original.

    Raises ``ConfigurationError`` if the path cannot be imported or the object cannot be used.
    """
    settings = current_settings()
    logger_type = settings.logger_type
    if logger_factory is not None and logger_factory != "":
        factory = import_custom_logger(logger_factory) if isinstance(logger_factory, str) else logger_factory
        if factory is sys.modules[__name__.rpartition(".")[0]]:
            logger_factory = None
            logger_type = "console"
        elif not is_usable_factory(factory):
            raise ConfigurationError(
                f"Invalid custom logger {logger_factory!r}: expected the logging module, a class, "
                "or an object with new(), bind(), get_logger() or info()"
            )
    else:
        logger_factory = None
    if logger_factory is None and logger_type == "custom":
        logger_type = "console"
    update_settings(dataclasses.replace(settings, logger_type=logger_type, custom_logger=logger_factory))


def bind_logger(logger: Logger | Mapping[str, Any] | str | Any) -> None:
    """Make *logger* the current context's logger: ``get_logger()`` returns it from now on (in this
    task and the tasks it starts).

    *logger* is a :class:`~tomodachi.logging.Logger`, a logger name (the logger bound for that name
    in this context, if any), a dict of context values whose ``"logger"`` key names the logger, or
    another bound logger with a ``name`` and a ``_context`` (a structlog one, for example).
    """
    if isinstance(logger, Logger):
        bound = logger
    elif isinstance(logger, str):
        bound = get_logger(logger)
    elif isinstance(logger, Mapping):
        context = dict(logger)
        name = context.pop("logger", None) or get_logger().name
        bound = get_logger(str(name)).new(**context)
    elif isinstance(getattr(logger, "_context", None), Mapping):
        context = dict(logger._context)
        name = context.pop("logger", None) or getattr(logger, "name", None) or get_logger().name
        bound = get_logger(str(name)).new(**context)
    else:
        raise TypeError(f"Unsupported logger type: {type(logger)}")
    set_context_logger(bound)

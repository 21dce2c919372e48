"""The stdlib-logger part of :class:`~tomodachi.logging.Logger` (as in the original, whose logger
was a ``structlog.stdlib.BoundLogger``): ``addHandler``, ``setLevel``, ``propagate``, ...

Each one acts on the stdlib logger of the same name, ``logging.getLogger(logger.name)``. Handlers
added there receive that logger's tomodachi events (see :mod:`tomodachi.logging.routing`), and a
level set there filters them::

    logger = tomodachi.logging.getLogger("my.service")
    logger.addHandler(file_handler)          # file_handler gets my.service's events
    logger.setLevel(logging.WARNING)         # info events of my.service are dropped
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tomodachi.logging.routing import stdlib_logger

__all__ = ["StdlibLoggerMethods"]


class StdlibLoggerMethods:
    """Mixin: stdlib ``logging.Logger`` methods, delegated to the stdlib logger of ``self.name``."""

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

    @property
    def stdlib_logger(self) -> logging.Logger:
        """The stdlib logger of the same name."""
        return stdlib_logger(self.name)

    @property
    def handlers(self) -> list[logging.Handler]:
        """The stdlib logger's handlers (the list itself, as stdlib exposes it)."""
        return stdlib_logger(self.name).handlers

    @property
    def propagate(self) -> bool:
        """The stdlib logger's ``propagate`` flag; settable."""
        return stdlib_logger(self.name).propagate

    @propagate.setter
    def propagate(self, value: bool) -> None:
        stdlib_logger(self.name).propagate = value

    @property
    def level(self) -> int:
        """The level set on the stdlib logger (``0``: none; see ``getEffectiveLevel``)."""
        return stdlib_logger(self.name).level

    @property
    def parent(self) -> logging.Logger | None:
        """The stdlib logger's parent."""
        return stdlib_logger(self.name).parent

    @property
    def disabled(self) -> bool:
        """The stdlib logger's ``disabled`` flag."""
        return stdlib_logger(self.name).disabled

    def setLevel(self, level: int | str) -> None:
        """Set the stdlib logger's level; tomodachi events of this name below it are dropped."""
        stdlib_logger(self.name).setLevel(level.upper() if isinstance(level, str) else level)

    def addHandler(self, hdlr: logging.Handler) -> None:
        """Add *hdlr* to the stdlib logger; it receives this name's tomodachi events too."""
        stdlib_logger(self.name).addHandler(hdlr)

    def removeHandler(self, hdlr: logging.Handler) -> None:
        stdlib_logger(self.name).removeHandler(hdlr)

    def hasHandlers(self) -> bool:
        return stdlib_logger(self.name).hasHandlers()

    def callHandlers(self, record: logging.LogRecord) -> None:
        stdlib_logger(self.name).callHandlers(record)

    def handle(self, record: logging.LogRecord) -> None:
        stdlib_logger(self.name).handle(record)

    def makeRecord(
        self,
        name: str,
        level: int,
        fn: str,
        lno: int,
        msg: object,
        args: Any,
        exc_info: Any,
        func: str | None = None,
        extra: Any = None,
        sinfo: str | None = None,
    ) -> logging.LogRecord:
        logger = stdlib_logger(self.name)
        return logger.makeRecord(name, level, fn, lno, msg, args, exc_info, func, extra, sinfo)

    def findCaller(self, stack_info: bool = False, stacklevel: int = 1) -> tuple[str, int, str, str | None]:
        return stdlib_logger(self.name).findCaller(stack_info, stacklevel)

    def getChild(self, suffix: str) -> logging.Logger:
        """The stdlib child logger (as the original returned)."""
        return stdlib_logger(self.name).getChild(suffix)

"""The bridge from stdlib ``logging``: one handler on the root logger.

Any stdlib record (``logging.getLogger("x").info(...)``, aiohttp's, asyncio's) that propagates to
the root logger is handed to the current pipeline's output, so it is rendered like a tomodachi
event: ``logging.getLogger("x").info("a")`` and ``tomodachi.get_logger("x").info("a")`` look alike.
``extra=`` fields appear under one ``extra`` key.

Only handlers carrying :data:`HANDLER_MARKER` are ever removed; handlers the application
installed stay where they are.
"""

from __future__ import annotations

import logging

from tomodachi.logging.logger import current_pipeline
from tomodachi.logging.processors import is_drop_event

__all__ = ["HANDLER_MARKER", "RootHandler", "install_root_handler", "remove_root_handler"]

#: Attribute set on handlers tomodachi installed. An attribute, not ``isinstance``, so handlers
#: installed by an earlier import of this module (hot reload) are recognised too.
HANDLER_MARKER = "_tomodachi_root_handler"


class RootHandler(logging.Handler):
    """Sends stdlib records through the current tomodachi pipeline."""

    def __init__(self) -> None:
        super().__init__()
        setattr(self, HANDLER_MARKER, True)

    def emit(self, record: logging.LogRecord) -> None:
        pipeline = current_pipeline()
        try:
            pipeline.output.emit_record(record, pipeline.processors)
        except Exception:
            self.handleError(record)
        except BaseException as exc:  # structlog.DropEvent is a BaseException
            if not is_drop_event(exc):
                raise


_handler: RootHandler | None = None
_saved_root_level: int | None = None


def install_root_handler(level: int) -> RootHandler:
    """Put one :class:`RootHandler` on the root logger (idempotent) and set the root level."""
    global _handler, _saved_root_level
    root = logging.getLogger()
    if _handler is None:
        _handler = RootHandler()
    for handler in list(root.handlers):
        if handler is not _handler and getattr(handler, HANDLER_MARKER, False):
            root.removeHandler(handler)
    if _handler not in root.handlers:
        if _saved_root_level is None:
            _saved_root_level = root.level
        root.addHandler(_handler)
    root.setLevel(level)
    return _handler


def remove_root_handler() -> None:
    """Remove the handler(s) tomodachi installed and restore the root level from before."""
    global _saved_root_level
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, HANDLER_MARKER, False):
            root.removeHandler(handler)
    if _saved_root_level is not None:
        root.setLevel(_saved_root_level)
        _saved_root_level = None

"""``RunConfig``: what ``tomodachi run`` was asked to do (stdlib only, cheap to import)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunConfig"]


@dataclass
class RunConfig:
    """Everything ``tomodachi run`` was asked to do (from flags, environment or ``tomodachi.run``)."""

    files: list[str]
    production: bool = False
    loop: str = "auto"
    log_level: str = "info"
    logger: str = "console"
    custom_logger: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    #: ``"memory"``: run every message transport on the in-process broker (``--message-broker``).
    message_broker: str | None = None
    #: Called with the resolved loop name once logging is set up (prints the banner).
    on_start: Callable[[str], None] | None = None

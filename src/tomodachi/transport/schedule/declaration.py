"""The declaration the scheduling decorators attach to a function: one frozen dataclass.

Values are kept as given; the transport turns them into a trigger at set-up
(:mod:`.triggers`), where a mistake can name the handler.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, tzinfo
from typing import Any

__all__ = ["ScheduleDeclaration"]


@dataclass(frozen=True, slots=True)
class ScheduleDeclaration:
    """The arguments of one ``@tomodachi.schedule`` (or ``@heartbeat``, ``@hourly``...) declaration."""

    interval: int | float | str | timedelta | None = None
    timestamp: str | None = None
    timezone: str | tzinfo | None = None
    immediately: Any = False  # checked at set-up: True or False
    max_concurrent: Any = 1  # checked at set-up: an int >= 1
    #: Cluster-safe: ``None`` follows the service's ``schedule.cluster`` option, ``False`` never,
    #: ``True`` the service's store, or a store by name (``"redis"``, ``"postgres"``, ``"memory"``).
    cluster: Any = None  # checked at set-up

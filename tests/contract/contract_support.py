"""What the contract tests and the backends share (a module with a unique name, unlike conftest)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Backend", "Inbox"]


@dataclass
class Backend:
    """How to run services on one backend."""

    name: str
    #: Options every service of a test gets (endpoints, unique prefixes for isolation).
    options: dict[str, Any] = field(default_factory=dict)
    #: ``"memory"`` for the in-memory broker, ``None`` to follow the options (real brokers).
    message_broker: str | None = None


class Inbox:
    """What handlers received, with waiting by deadline (no blind sleeps)."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

    def add(self, item: Any) -> None:
        self.items.append(item)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 10.0) -> list[Any]:  # noqa: ASYNC109
        async def wait() -> None:
            while not predicate(self.items):
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"condition not met within {timeout} s; received: {self.items!r}") from None
        return self.items

    async def wait_count(self, count: int, timeout: float = 10.0) -> list[Any]:  # noqa: ASYNC109
        return await self.wait_for(lambda items: len(items) >= count, timeout)

    async def stays(self, count: int, seconds: float) -> None:
        """Assert that no more than *count* items arrive within *seconds* (for "not redelivered")."""
        try:
            await asyncio.wait_for(self.wait_for(lambda items: len(items) > count, seconds + 1), seconds)
        except (TimeoutError, AssertionError):
            pass
        assert len(self.items) == count, self.items

"""A transport of your own: call handlers on a fixed tick.

Built on the same public API as tomodachi's own transports: subclass ``tomodachi.Transport``,
implement the lifecycle methods you need, and declare entrypoints with ``Transport.decorator``.

    tomodachi run examples/custom_transport/app.py
"""

from __future__ import annotations

import asyncio
from typing import Any

import tomodachi
from tomodachi.injection import compile_handler


class TickTransport(tomodachi.Transport):
    """Calls each ``@tick(seconds)`` handler every *seconds*, passing ``tick`` (a counter)."""

    kind = "tick"

    async def setup(self) -> None:
        self._calls = []
        for handler in self.handlers:
            (seconds,) = handler.args
            if not isinstance(seconds, (int, float)) or seconds <= 0:
                raise tomodachi.ConfigurationError(
                    f"@tick({seconds!r}) on {handler.name}: expected seconds > 0"
                )
            # Compiled once: each call then only fills the keywords the handler asks for.
            self._calls.append((seconds, handler.name, compile_handler(handler.func)))

    async def started(self) -> None:
        # Begin ticking only once the service's _started_service hook has returned. The loops
        # take work in: they are `intake`, which the default stop() cancels first.
        for seconds, name, call in self._calls:
            self.intake.spawn(self._run(seconds, name, call), name=f"tick:{name}")

    async def _run(self, seconds: float, name: str, call: Any) -> None:
        count = 0
        while True:
            await asyncio.sleep(seconds)
            count += 1
            # Each call is work in flight: `tasks`, which the default stop() lets finish
            # within the grace period.
            self.tasks.spawn(self._call(call, count), name=f"tick:{name}:{count}")

    async def _call(self, call: Any, count: int) -> None:
        try:
            await call({"tick": count})
        except Exception:
            tomodachi.get_logger("tick").exception("tick handler failed")


def tick(seconds: float) -> Any:
    """Declare a handler called every *seconds* seconds."""
    return TickTransport.decorator(seconds)


class Service(tomodachi.Service):
    name = "ticker"

    @tick(0.5)
    async def on_tick(self, tick: int) -> None:
        tomodachi.get_logger().info("tick", tick=tick)
        if tick == 4:
            tomodachi.exit(0)

"""``wait=False`` on publish functions returns a task; the default awaits the result."""

from __future__ import annotations

import asyncio

from tomodachi.messaging.background import background_unless_wait


@background_unless_wait(1)
async def publish(data: str, wait: bool = True) -> str:
    await asyncio.sleep(0)
    return data.upper()


async def test_wait_by_default_keyword_and_position() -> None:
    assert await publish("a") == "A"
    assert await publish("b", wait=True) == "B"
    task = await publish("c", wait=False)
    assert isinstance(task, asyncio.Task) and await task == "C"
    task = await publish("d", False)
    assert isinstance(task, asyncio.Task) and await task == "D"

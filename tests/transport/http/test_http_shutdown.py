"""Graceful termination: stop intake, drain in-flight requests within the grace period, cancel the rest."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

import tomodachi


class SlowService(tomodachi.Service):
    name = "slow"
    options = tomodachi.Options(http={"port": 0, "termination_grace_period_seconds": 5})

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.finished: list[str] = []

    @tomodachi.http("GET", r"/fast")
    async def fast(self) -> str:
        return "fast"

    @tomodachi.http("GET", r"/slow")
    async def slow(self) -> str:
        self.entered.set()
        await self.release.wait()
        self.finished.append("slow")
        return "slow done"


class StuckService(SlowService):
    name = "stuck"
    options = tomodachi.Options(http={"port": 0, "termination_grace_period_seconds": 0.2})


async def test_in_flight_request_finishes_while_intake_stops(serve: Any, wait_until: Any) -> None:
    loop = asyncio.get_running_loop()
    async with serve(SlowService, stop=False) as r:
        service = r.service
        idle = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
        busy = aiohttp.ClientSession()
        try:
            async with idle.get(r.url + "/fast") as response:  # leaves an idle keep-alive connection
                assert await response.text() == "fast"

            async def slow_request() -> tuple[int, str, str]:
                async with busy.get(r.url + "/slow") as response:
                    return response.status, await response.text(), response.headers.get("Connection", "")

            slow = asyncio.create_task(slow_request())
            await asyncio.wait_for(service.entered.wait(), 2)

            stop = asyncio.create_task(r.container.stop())
            await wait_until(lambda: not r.transport.ready)

            # New connections are refused.
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", r.port)
            # A request on the open idle keep-alive connection is answered 503 + Connection: close.
            async with idle.get(r.url + "/fast") as response:
                assert response.status == 503
                assert response.headers["Connection"] == "close"

            assert not stop.done()
            await asyncio.sleep(0.05)
            assert not stop.done()  # still draining the slow request

            released = loop.time()
            service.release.set()
            status, body, connection = await asyncio.wait_for(slow, 2)
            assert (status, body) == (200, "slow done")
            assert connection.lower() == "close"
            await asyncio.wait_for(stop, 2)
            assert loop.time() - released < 0.3
            assert service.finished == ["slow"]
        finally:
            await idle.close()
            await busy.close()


async def test_grace_period_deadline_cancels_stuck_requests(serve: Any, json_logs: Any) -> None:
    loop = asyncio.get_running_loop()
    async with serve(StuckService, stop=False) as r, aiohttp.ClientSession() as client:

        async def stuck_request() -> int:
            async with client.get(r.url + "/slow") as response:
                return response.status

        stuck = asyncio.create_task(stuck_request())
        await asyncio.wait_for(r.service.entered.wait(), 2)
        started = loop.time()
        await asyncio.wait_for(r.container.stop(), 3)
        elapsed = loop.time() - started
        assert 0.15 < elapsed < 1.0
        with pytest.raises(aiohttp.ClientError):
            await asyncio.wait_for(stuck, 2)
        assert r.service.finished == []
    warnings = [x for x in json_logs() if x["level"] == "warning" and x["logger"] == "tomodachi.http"]
    assert len(warnings) == 1
    assert warnings[0]["cancelled_requests"] == 1


async def test_stop_without_requests_is_immediate(serve: Any) -> None:
    loop = asyncio.get_running_loop()
    async with serve(SlowService, stop=False) as r:
        async with aiohttp.ClientSession() as client, client.get(r.url + "/fast") as response:
            assert await response.text() == "fast"
            started = loop.time()
            await r.container.stop()
        assert loop.time() - started < 0.1
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", r.port)


async def test_service_can_start_again_on_the_same_port(serve: Any) -> None:
    async with serve(SlowService) as first:
        port = first.port

    class Again(SlowService):
        name = "again"
        options = tomodachi.Options(http={"port": port})

    async with serve(Again) as again, aiohttp.ClientSession() as client:
        assert again.port == port
        async with client.get(again.url + "/fast") as response:
            assert response.status == 200

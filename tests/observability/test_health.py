"""Health and readiness endpoints (``ops`` options): on the service port, on an ops port, through
a broker outage and a graceful stop, read with a real HTTP client."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

import tomodachi
from tests._support import wait_until
from tomodachi.errors import ConfigurationError
from tomodachi.ops.transport import OpsTransport
from tomodachi.runtime import runtime_of
from tomodachi.testing import run_services

from ._support import CutProxy


class WithRoutes(tomodachi.Service):
    name = "with-routes"
    options = tomodachi.Options(ops={"health": True})

    @tomodachi.http("GET", r"/hello")
    async def hello(self) -> str:
        return "hello"


class QueueOnly(tomodachi.Service):
    name = "queue-only"
    options = tomodachi.Options(ops={"health": True, "port": 0})

    @tomodachi.amqp("jobs.#")
    async def job(self, message: Any) -> None:
        pass


def ops_port(service: tomodachi.Service) -> int:
    ops = runtime_of(service).transport(service, OpsTransport)
    assert ops is not None and ops.port is not None
    return ops.port


async def get(port: int, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as response:
        body = await response.json() if response.content_type == "application/json" else await response.text()
        return response.status, body


async def test_endpoints_on_the_service_port() -> None:
    async with run_services(WithRoutes) as app:
        port = ops_port(app.service)
        assert await get(port, "/health/live") == (200, {"status": "alive"})
        status, body = await get(port, "/health/ready")
        assert status == 200
        assert body == {
            "status": "ready",
            "services": {"with-routes": {"ready": True, "serving": True, "transports": {"http": True}}},
        }
        assert (await get(port, "/hello"))[0] == 200
        # Probes stay out of the access log.
        assert not [r for r in app.logs if r.get("path", "").startswith("/health")]


async def test_a_service_without_http_routes_on_the_ops_port() -> None:
    async with run_services(QueueOnly) as app:
        port = ops_port(app.service)
        status, body = await get(port, "/health/ready")
        assert status == 200 and body["services"]["queue-only"]["transports"] == {"amqp": True}
        assert (await get(port, "/health/live"))[0] == 200
        assert (await get(port, "/nothing"))[0] == 404


async def test_custom_paths_and_off_by_default() -> None:
    class Custom(tomodachi.Service):
        name = "custom"
        options = tomodachi.Options(
            ops={"health": True, "liveness_path": "/livez", "readiness_path": "/readyz"}
        )

        @tomodachi.http("GET", r"/")
        async def root(self) -> str:
            return "root"

    class Off(WithRoutes):
        name = "off"
        options = tomodachi.Options()

    async with run_services(Custom, Off) as app:
        assert (await get(ops_port(app[Custom]), "/livez"))[0] == 200
        assert (await get(ops_port(app[Custom]), "/readyz"))[0] == 200
        assert runtime_of(app[Off]).transport(app[Off], OpsTransport) is None
    with pytest.raises(ConfigurationError, match=r"ops\.readiness_path"):
        tomodachi.Options(ops={"readiness_path": "ready"})


async def test_not_ready_during_a_graceful_stop_alive_meanwhile() -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    class Slow(tomodachi.Service):
        name = "slow"
        options = tomodachi.Options(ops={"health": True, "port": 0}, termination_grace_period_seconds=10)

        @tomodachi.http("GET", r"/slow")
        async def slow(self) -> str:
            entered.set()
            await release.wait()
            return "done"

    apps: list[Any] = []
    leave = asyncio.Event()

    async def run() -> None:
        async with run_services(Slow) as running:
            apps.append(running)
            await leave.wait()  # then the block ends: the graceful stop

    stopping = asyncio.ensure_future(run())
    await wait_until(lambda: apps, within=5, what="started")
    app = apps[0]
    port, http_port = ops_port(app.service), app.service.context["_http_port"]
    async with aiohttp.ClientSession() as session:
        request = asyncio.ensure_future(session.get(f"http://127.0.0.1:{http_port}/slow"))
        await asyncio.wait_for(entered.wait(), 5)
        assert (await get(port, "/health/ready"))[0] == 200
        leave.set()
        await wait_until(lambda: not app.service.ready, within=5, what="stopping")
        status, body = await get(port, "/health/ready")
        assert status == 503 and body["status"] == "not ready"
        assert body["services"]["slow"]["serving"] is False
        assert (await get(port, "/health/live"))[0] == 200  # the drain is not a reason to restart
        release.set()
        response = await request
        assert response.status == 200 and await response.text() == "done"
        await asyncio.wait_for(stopping, 10)


@pytest.mark.rabbitmq
async def test_not_ready_while_rabbitmq_is_unreachable() -> None:
    proxy = CutProxy("127.0.0.1", 5672)
    await proxy.open()

    class Worker(tomodachi.Service):
        name = "worker"
        options = tomodachi.Options(
            ops={"health": True, "port": 0},
            amqp={"port": proxy.port, "queue_name_prefix": "test-ops-", "queue_ttl": 60},
        )

        @tomodachi.amqp("test-ops.jobs")
        async def job(self, message: Any) -> None:
            pass

    try:
        async with run_services(Worker, message_broker=None) as app:
            port = ops_port(app.service)
            assert (await get(port, "/health/ready"))[0] == 200
            await proxy.cut()
            await wait_until(lambda: not app.service.ready, within=10, what="not ready in the outage")
            status, body = await get(port, "/health/ready")
            assert status == 503
            assert body["services"]["worker"] == {
                "ready": False,
                "serving": True,
                "transports": {"amqp": False},
            }
            assert (await get(port, "/health/live"))[0] == 200
            await proxy.open()
            await wait_until(lambda: app.service.ready, within=20, what="ready again")
            assert (await get(port, "/health/ready"))[0] == 200
    finally:
        await proxy.cut()

"""Mounting an endpoint on a service's HTTP server from another transport (the public kit)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from aiohttp import web

import tomodachi
from tomodachi.errors import ConfigurationError
from tomodachi.testing import run_services
from tomodachi.transport.http import HttpTransport, mount

F = TypeVar("F", bound=Callable[..., Any])


class HealthTransport(tomodachi.Transport):
    """A custom transport that serves ``GET /health`` (and a slow check) on the service's port."""

    async def setup(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        mount(self.service, self.runtime, "GET", r"/health", self._health)
        mount(
            self.service, self.runtime, ["GET"], r"/health/(?P<part>[a-z]+)", self._part, name="health-part"
        )
        mount(self.service, self.runtime, "GET", r"/health-slow", self._slow)

    async def _health(self, request: web.BaseRequest) -> dict[str, Any]:
        self.calls += 1
        for handler in self.handlers:
            await handler.func()
        return {"status": 200, "body": "ok", "headers": {"X-Health": "1"}}

    async def _part(self, request: web.BaseRequest, part: str) -> str:
        if part == "broken":
            raise RuntimeError("broken check")
        return f"part {part}"

    async def _slow(self) -> str:
        self.entered.set()
        await self.release.wait()
        return "slow ok"


def health_check(func: F) -> F:
    return HealthTransport.decorator()(func)


class WithRoutes(tomodachi.Service):
    name = "with-routes"
    checked = 0

    @tomodachi.http("GET", r"/hello")
    async def hello(self) -> str:
        return "hello"

    @tomodachi.http_error(500)
    async def error_500(self) -> tomodachi.HttpResponse:
        return tomodachi.HttpResponse(body="custom 500", status=500)

    @health_check
    async def check(self) -> None:
        self.checked += 1


class WithoutRoutes(tomodachi.Service):
    name = "without-routes"

    @health_check
    async def check(self) -> None:
        pass


@pytest.mark.parametrize("cls", [WithRoutes, WithoutRoutes])
async def test_mounted_endpoint_is_served_on_the_service_port(cls: type[tomodachi.Service]) -> None:
    async with run_services(cls) as app:
        http = app.runtime.transport(app.service, HttpTransport)
        assert http is not None and http.port
        assert ("GET", "^/health$") in http.routes()
        client = app.client()
        async with client.get("/health") as response:
            assert (response.status, await response.text()) == (200, "ok")
            assert response.headers["X-Health"] == "1"
            assert response.headers["Server"] == "tomodachi"
        async with client.get("/health/db") as response:
            assert (response.status, await response.text()) == (200, "part db")
        async with client.post("/health") as response:
            assert response.status == 405 and response.headers["Allow"] == "GET, HEAD"
        if cls is WithRoutes:
            assert isinstance(app.service, WithRoutes) and app.service.checked == 1
            async with client.get("/hello") as response:
                assert await response.text() == "hello"
    access = [r for r in app.logs if r["logger"] == "tomodachi.http.response"]
    assert {(r["request_path"], r["status_code"]) for r in access} >= {("/health", 200), ("/health/db", 200)}


async def test_mounted_endpoint_errors_use_the_service_error_handlers() -> None:
    async with run_services(WithRoutes) as app:
        async with app.client().get("/health/broken") as response:
            assert (response.status, await response.text()) == (500, "custom 500")
    [error] = [r for r in app.logs if r["message"] == "uncaught exception in handler"]
    assert error["handler"] == "health-part"


async def test_mounted_endpoint_drains_on_stop() -> None:
    async with run_services(WithoutRoutes) as app:
        [health] = [t for t in app.runtime.transports(app.service) if isinstance(t, HealthTransport)]
        request = asyncio.ensure_future(app.client().get("/health-slow"))
        await asyncio.wait_for(health.entered.wait(), 5)
        stopping = asyncio.ensure_future(app.container.stop())
        await asyncio.sleep(0.05)
        assert not stopping.done()
        health.release.set()
        response = await request
        assert (response.status, await response.text()) == (200, "slow ok")
        await stopping
        http = app.runtime.transport(app.service, HttpTransport)
        assert http is not None and not http.ready


class Late(tomodachi.Transport):
    async def start(self) -> None:
        mount(self.service, self.runtime, "GET", r"/late", self._late)

    async def _late(self) -> str:
        return "late"


class LateService(tomodachi.Service):
    name = "late"

    @Late.decorator()
    async def noop(self) -> None:
        pass


class LateWithRoutes(LateService):
    name = "late-with-routes"

    @tomodachi.http("GET", r"/hello")
    async def hello(self) -> str:
        return "hello"


@pytest.mark.parametrize("cls", [LateService, LateWithRoutes])
async def test_mount_after_set_up_is_a_start_error(cls: type[tomodachi.Service]) -> None:
    with pytest.raises(Exception, match="already set up: ask for its http transport"):
        async with run_services(cls):
            pass


class Clash(tomodachi.Transport):
    async def setup(self) -> None:
        mount(self.service, self.runtime, "GET", r"/hello", self._hello)

    async def _hello(self) -> str:
        return "clash"


class ClashService(WithRoutes):
    name = "clash"

    @Clash.decorator()
    async def noop(self) -> None:
        pass


async def test_mount_on_a_declared_route_is_a_configuration_error() -> None:
    with pytest.raises(Exception, match="duplicate route"):
        async with run_services(ClashService):
            pass


async def test_mount_on_an_object_outside_the_run() -> None:
    async with run_services(WithoutRoutes) as app:
        with pytest.raises(ConfigurationError, match="not a service of this run"):
            mount(object(), app.runtime, "GET", r"/x", lambda: "x")

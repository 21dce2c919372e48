"""The run-scoped part of the transport kit: Runtime.resource, the service records, runtime_of."""

from __future__ import annotations

from typing import Any

import pytest

import tomodachi
from tomodachi.errors import TomodachiError
from tomodachi.runtime import Runtime
from tomodachi.testing import run_services
from tomodachi.transport.http import HttpTransport


class _Client:
    def __init__(self, name: str, closed: list[str]) -> None:
        self.name, self._closed = name, closed

    async def close(self) -> None:
        self._closed.append(self.name)


async def test_resource_is_created_once_and_closed_once_last_created_first() -> None:
    runtime = Runtime()
    closed: list[str] = []
    made: list[str] = []

    def factory(name: str) -> Any:
        def make() -> _Client:
            made.append(name)
            return _Client(name, closed)

        return make

    first = runtime.resource(("test.kit", "a"), factory("a"), _Client.close)
    assert runtime.resource(("test.kit", "a"), factory("again"), _Client.close) is first
    runtime.resource(("test.kit", "b"), factory("b"), _Client.close)
    runtime.resource(("test.kit", "no-close"), factory("c"))
    assert made == ["a", "b", "c"]
    await runtime.aclose()
    assert closed == ["b", "a"]
    await runtime.aclose()
    assert closed == ["b", "a"]  # once
    # The key was forgotten when it closed: a later use makes a new one.
    assert runtime.resource(("test.kit", "a"), factory("a2"), _Client.close) is not first


async def test_a_failing_close_is_logged_and_the_others_still_run() -> None:
    runtime = Runtime()
    closed: list[str] = []

    async def broken(_: object) -> None:
        raise RuntimeError("boom")

    runtime.resource("test.kit.ok", lambda: _Client("ok", closed), _Client.close)
    runtime.resource("test.kit.broken", object, broken)
    await runtime.aclose()
    assert closed == ["ok"]


class _Web(tomodachi.Service):
    name = "kit-web"
    options = tomodachi.Options(http={"port": 0})

    @tomodachi.http("GET", r"/")
    async def index(self, request: Any) -> str:
        return "ok"


async def test_records_runtime_of_and_transport_lookup() -> None:
    async with run_services(_Web) as app:
        service = app.service
        assert tomodachi.runtime_of(service) is app.runtime
        record = app.runtime.record(service)
        assert record is not None and record.serving and record.service is service
        transport = app.runtime.transport(service, HttpTransport)
        assert transport is not None and transport in app.runtime.transports(service)
        assert transport.port == service.context["_http_port"]  # the compatibility copy
        assert app.url("/") == f"http://127.0.0.1:{transport.port}/"
        assert service.ready and service.readiness == {"http": True}
        # Nothing of the container's is written onto the instance.
        assert not [name for name in vars(service) if name.startswith("_tomodachi")]
    assert not record.serving and not service.ready


async def test_runtime_of_finds_a_service_of_another_run() -> None:
    async with run_services(_Web) as outer, run_services(_Web) as inner:
        assert tomodachi.runtime_of(outer.service) is outer.runtime
        assert tomodachi.runtime_of(inner.service) is inner.runtime
        assert inner.runtime.transport(outer.service, HttpTransport) is None  # not one of its services


def test_runtime_of_outside_any_run_raises() -> None:
    with pytest.raises(TomodachiError, match="no tomodachi run is active"):
        tomodachi.runtime_of(object())

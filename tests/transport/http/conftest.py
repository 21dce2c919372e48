"""Run HTTP services in-process through the real container, and read their JSON log lines."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest

import tomodachi
import tomodachi.logging as tlog
from tomodachi.container import ServiceContainer
from tomodachi.runtime import Runtime
from tomodachi.transport.http import HttpTransport


class Running:
    """A started container with its first service, that service's HTTP transport and base URL."""

    def __init__(self, container: ServiceContainer) -> None:
        self.container = container
        self.service = container.instances[0]
        self.transport = next(
            t for t in container.transports[id(self.service)] if isinstance(t, HttpTransport)
        )
        self.port = int(self.service.context["_http_port"])
        self.url = f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def serve_classes(
    *classes: type[tomodachi.Service], stop: bool = True, source: str = ""
) -> AsyncIterator[Running]:
    runtime = Runtime()
    runtime.activate()
    container = ServiceContainer(classes, runtime, source=source)
    try:
        await container.setup()
        await container.start()
        yield Running(container)
    finally:
        if stop:
            await container.stop()


@pytest.fixture
def serve() -> Callable[..., contextlib.AbstractAsyncContextManager[Running]]:
    """``async with serve(ServiceClass) as running:`` runs the class in a real container."""
    return serve_classes


async def _wait_until(predicate: Callable[[], bool], within: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.002)


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """``await wait_until(lambda: condition, within=2.0)``: poll with a deadline."""
    return _wait_until


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Switch tomodachi logging to JSON on stderr; call the fixture to get the lines so far."""
    tlog.configure("json", "info")
    seen: list[dict[str, Any]] = []

    def read() -> list[dict[str, Any]]:
        for line in capsys.readouterr().err.splitlines():
            line = line.strip()
            if line.startswith("{"):
                seen.append(json.loads(line))
        return list(seen)

    yield read
    tlog.remove_handlers()
    tlog.reset_context()

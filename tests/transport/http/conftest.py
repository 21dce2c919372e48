"""Run HTTP services in-process through the real container.

``wait_until`` and ``json_logs`` (read the JSON log lines) are the shared ones of ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

import tomodachi
from tomodachi.container import ServiceContainer
from tomodachi.runtime import Runtime
from tomodachi.transport.http import HttpTransport


class Running:
    """A started container with its first service, that service's HTTP transport and base URL."""

    def __init__(self, container: ServiceContainer) -> None:
        self.container = container
        self.service = container.instances[0]
        transport = container.runtime.transport(self.service, HttpTransport)
        assert transport is not None and transport.port is not None
        self.transport = transport
        self.port = transport.port
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


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session

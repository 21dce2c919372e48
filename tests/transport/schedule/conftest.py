"""Run scheduled services in-process on a ManualClock, and read their JSON log lines."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import settings

import tomodachi
import tomodachi.logging as tlog
from tomodachi.container import ServiceContainer
from tomodachi.runtime import Runtime
from tomodachi.transport.schedule import ManualClock, ScheduleTransport, use_clock

START = datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC)

# Property tests: no example database in the work tree; HYPOTHESIS_PROFILE=stress for a long run.
settings.register_profile("schedule", max_examples=250, database=None)
settings.register_profile("stress", max_examples=5000, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "schedule"))


class Running:
    """A started container on a manual clock."""

    def __init__(self, container: ServiceContainer, runtime: Runtime, clock: ManualClock) -> None:
        self.container = container
        self.runtime = runtime
        self.clock = clock
        self.service = container.instances[0]
        transport = runtime.transport(self.service, ScheduleTransport)
        assert transport is not None
        self.transport = transport


@contextlib.asynccontextmanager
async def run_on_clock(
    *classes: type[tomodachi.Service], start: datetime = START, stop: bool = True
) -> AsyncIterator[Running]:
    """Set up and start *classes* with a ManualClock at *start*; stop them afterwards."""
    runtime = Runtime()
    runtime.activate()
    clock = ManualClock(start)
    use_clock(runtime, clock)
    container = ServiceContainer(classes, runtime)
    try:
        await container.setup()
        await container.start()
        await clock.settle()
        yield Running(container, runtime, clock)
    finally:
        if stop:
            await container.stop()


@pytest.fixture
def on_clock() -> Callable[..., contextlib.AbstractAsyncContextManager[Running]]:
    """``async with on_clock(Service, start=...) as running``: see :func:`run_on_clock`."""
    return run_on_clock


@pytest.fixture
def logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Switch tomodachi logging to JSON into a buffer; call the fixture to get the records."""
    buffer = io.StringIO()
    tlog.configure("json", "debug", stream=buffer)

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]

    yield read
    tlog.remove_handlers()
    tlog.reset_context()

"""Lifecycle order, registry, exit codes and start-up failures, run in-process on a real loop.

The transport used here is the custom-transport example (``examples/custom_transport``), so
these tests also prove that a user-made transport works through the public API alone.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import warnings
from typing import Any

import pytest

import tomodachi
from tomodachi.container import ServiceContainer, StartupError
from tomodachi.runner import run_files
from tomodachi.runtime import Runtime

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load_example() -> Any:
    spec = importlib.util.spec_from_file_location(
        "custom_transport_example", os.path.join(ROOT, "examples", "custom_transport", "app.py")
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = _load_example()
events: list[str] = []


class Ordered(tomodachi.Service):
    name = "ordered"

    async def _start_service(self) -> None:
        events.append("_start_service")

    async def _started_service(self) -> None:
        events.append("_started_service")

    @example.tick(0.01)  # type: ignore[untyped-decorator]  # the example module is loaded from its file
    async def ticked(self, tick: int) -> None:
        events.append("tick")
        if tick == 2:
            tomodachi.exit(7)

    async def _stopping_service(self) -> None:
        events.append("_stopping_service")

    async def _stop_service(self) -> None:
        events.append("_stop_service")


async def _run(*classes: type[tomodachi.Service]) -> tuple[Runtime, ServiceContainer]:
    runtime = Runtime()
    runtime.activate()
    container = ServiceContainer(classes, runtime)
    await container.setup()
    return runtime, container


async def test_lifecycle_order_and_exit_code() -> None:
    events.clear()
    runtime, container = await _run(Ordered)
    await container.start()
    assert tomodachi.get_service("ordered") is container.instances[0]
    assert tomodachi.get_service() is container.instances[0]
    await asyncio.wait_for(runtime.stop_requested.wait(), 5)
    await container.stop()
    assert runtime.exit_code == 7
    assert events[:2] == ["_start_service", "_started_service"]
    assert events[2] == "tick"
    # _stopping_service runs as soon as the stop begins; _stop_service only after the drain.
    assert events.index("_stopping_service") < events.index("_stop_service")
    assert events[-1] == "_stop_service"
    assert events.count("tick") == 2  # the loop awaits each call, so nothing ticks after exit()
    assert tomodachi.get_services() == {}


async def test_uuid_is_honoured_or_generated() -> None:
    class Fixed(tomodachi.Service):
        name = "fixed"
        uuid = "5d0b530f-5c44-4981-b01f-342801bd48f5"

        async def _start_service(self) -> None:
            pass

    class Random(tomodachi.Service):
        name = "random"

        async def _start_service(self) -> None:
            pass

    _, container = await _run(Fixed, Random)
    fixed, rnd = container.instances
    assert fixed.uuid == "5d0b530f-5c44-4981-b01f-342801bd48f5"
    assert rnd.uuid and len(str(rnd.uuid)) == 36
    await container.stop()


async def test_no_handlers_defined_fails_setup() -> None:
    class Empty(tomodachi.Service):
        name = "empty"

    runtime = Runtime()
    runtime.activate()
    with pytest.raises(StartupError, match="no transport handlers defined"):
        await ServiceContainer([Empty], runtime).setup()


async def test_exception_in_start_service_is_one_line_and_stops_cleanly() -> None:
    stopped: list[str] = []

    class Broken(tomodachi.Service):
        name = "broken"

        async def _start_service(self) -> None:
            raise RuntimeError("database is down")

        async def _stop_service(self) -> None:
            stopped.append("stop")

    _runtime, container = await _run(Broken)
    with pytest.raises(StartupError) as info:
        await container.start()
    message = str(info.value)
    assert "\n" not in message
    assert "_start_service" in message and "RuntimeError: database is down" in message
    await container.stop()
    assert stopped == ["stop"]


async def test_bad_transport_argument_fails_setup_with_handler_name() -> None:
    class BadTick(tomodachi.Service):
        name = "bad-tick"

        @example.tick(-1)  # type: ignore[untyped-decorator]  # as above
        async def never(self) -> None:
            pass

    runtime = Runtime()
    runtime.activate()
    with pytest.raises(StartupError, match=r"@tick\(-1\) on never"):
        await ServiceContainer([BadTick], runtime).setup()


def test_deprecated_service_decorator_and_dict_options_still_work() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @tomodachi.service
        class Legacy:
            name = "legacy"
            options = {"http.port": 0}

            async def _start_service(self) -> None:
                pass

    assert issubclass(Legacy, tomodachi.Service)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)

    async def main() -> None:
        _runtime, container = await _run(Legacy)  # type: ignore[arg-type]  # made a Service by the decorator
        assert container.instances[0].options.http.port == 0
        await container.stop()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.run(main())


async def test_run_files_returns_exit_code_of_tomodachi_exit(tmp_path: Any) -> None:
    service_file = tmp_path / "quits.py"
    service_file.write_text(
        "import tomodachi\n\n"
        "class Quits(tomodachi.Service):\n"
        "    name = 'quits'\n\n"
        "    async def _started_service(self):\n"
        "        tomodachi.exit(3)\n"
    )
    assert await run_files([str(service_file)], install_signal_handlers=False) == 3

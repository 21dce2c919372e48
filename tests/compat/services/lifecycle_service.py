"""Lifecycle hooks and their order, the way the original's test services check them: a schedule
with ``immediately=True``, an HTTP route the service calls on its own port
(``self.context["_http_port"]``), ``tomodachi.get_service()``, and a ``closer`` future that
``_started_service`` awaits in a task before calling ``tomodachi.exit()``."""

import asyncio
import json
from typing import Any, List

import aiohttp

import tomodachi
from tomodachi import Options, http, schedule


def report(event: str, **values: Any) -> None:
    print("COMPAT " + json.dumps({"event": event, **values}, default=repr), flush=True)


class LifecycleService(tomodachi.Service):
    name = "compat_lifecycle"
    options = Options(http=Options.HTTP(port=0))
    closer: asyncio.Future
    function_order: List[str] = []
    scheduled_calls = 0

    @schedule(interval=1, immediately=True)
    async def every_second(self, invocation_time: str = "", interval: Any = None) -> None:
        self.scheduled_calls += 1
        self.function_order.append("every_second")
        if self.scheduled_calls == 1:
            report("scheduled", invocation_time=invocation_time, interval=interval)
        if self.scheduled_calls >= 2 and not self.closer.done():
            self.closer.set_result(None)

    @http("GET", r"/hello/?")
    async def hello(self, request: Any) -> str:
        self.logger.info("hello called")
        return "hello {}".format(tomodachi.get_service().name)

    async def _start_service(self) -> None:
        self.closer = asyncio.Future()
        await asyncio.sleep(0.2)
        self.function_order.append("_start_service")

    async def _started_service(self) -> None:
        self.function_order.append("_started_service")
        port = self.context["_http_port"]
        async with aiohttp.ClientSession() as client:
            async with client.get("http://127.0.0.1:{}/hello".format(port)) as response:
                body = await response.text()
        await asyncio.sleep(0.3)  # the schedule (immediately=True) must wait until this hook returns
        report(
            "started",
            port_is_int=isinstance(port, int) and port > 0,
            body=body,
            get_service=tomodachi.get_service() is self,
            get_service_by_name=tomodachi.get_service("compat_lifecycle") is self,
            get_instance=tomodachi.get_instance() is self,
            get_services=sorted(tomodachi.get_services()),
            unknown_service=tomodachi.get_service("no-such-service"),
            uuid_is_str=isinstance(self.uuid, str) and len(self.uuid) == 36,
            options_type=type(self.options).__name__,
            schedule_ran_during_started=self.scheduled_calls > 0,
        )
        self.log("the deprecated self.log still logs")
        self.log_setup()

        async def _async() -> None:
            async def sleep_and_kill() -> None:
                await asyncio.sleep(10.0)
                if not self.closer.done():
                    self.closer.set_result(None)

            task = asyncio.ensure_future(sleep_and_kill())
            await self.closer
            if not task.done():
                task.cancel()
            tomodachi.exit()

        asyncio.ensure_future(_async())

    def stop_service(self) -> None:
        if not self.closer.done():
            self.closer.set_result(None)

    async def _stopping_service(self) -> None:
        self.function_order.append("_stopping_service")

    async def _stop_service(self) -> None:
        self.function_order.append("_stop_service")
        report("order", order=self.function_order)

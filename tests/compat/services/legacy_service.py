"""The oldest style the original still runs: the deprecated ``@tomodachi.service`` decorator on
a plain class, a dict ``options`` with ``port: None``, ``message_protocol`` from the deprecated
``tomodachi.protocol`` package, a ``closer`` future created at import, ``@tomodachi.decorator``
in all its forms, and a stop by sending itself SIGINT."""

import asyncio
import json
import os
import signal
from typing import Any

import aiohttp
from aiohttp import web

import tomodachi
from tomodachi.protocol import JsonBase
from tomodachi.transport.http import http


def report(event: str, **values: Any) -> None:
    print("COMPAT " + json.dumps({"event": event, **values}, default=repr), flush=True)


@tomodachi.decorator
async def count_invocations_1(self: Any, *args: Any, **kwargs: Any) -> None:
    self.invocation_count += 1


@tomodachi.decorator()
async def count_invocations_2(self: Any, *args: Any, **kwargs: Any) -> None:
    self.invocation_count += 1


@tomodachi.decorator(include_function=True)
async def count_invocations_3(func: Any, self: Any, *args: Any, **kwargs: Any) -> None:
    self.invocation_count += 1
    self.wrapped_names.append(func.__name__)


@tomodachi.decorator
def count_invocations_4(self: Any, *args: Any, **kwargs: Any) -> None:
    self.invocation_count += 1


@tomodachi.decorator
def count_invocations_0(self: Any, *args: Any, **kwargs: Any) -> str:
    self.invocation_count += 1
    return "0"


@tomodachi.decorator
async def require_token(self: Any, request: web.Request) -> Any:
    if request.headers.get("X-Token") != "secret":
        return {"body": "Invalid token", "status": 403}


@tomodachi.service
class HttpService(object):
    name = "compat_legacy"
    log_level = "INFO"
    message_protocol = JsonBase
    options = {"http": {"port": None, "access_log": True, "real_ip_from": "127.0.0.1"}}
    invocation_count = 0
    wrapped_names = []
    uuid = None
    closer = asyncio.Future()  # type: Any

    @http("GET", r"/count/1/?")
    @count_invocations_1
    async def count_1(self, request: web.Request) -> str:
        return str(self.invocation_count)

    @http("GET", r"/count/2/?")
    @count_invocations_2
    async def count_2(self, request: web.Request) -> str:
        return str(self.invocation_count)

    @http("GET", r"/count/3/?")
    @count_invocations_3
    async def count_3(self, request: web.Request) -> str:
        return str(self.invocation_count)

    @http("GET", r"/count/4/?")
    @count_invocations_4
    def count_4(self, request: web.Request) -> str:
        return str(self.invocation_count)

    @http("GET", r"/count/0/?")
    @count_invocations_0
    async def count_0(self, request: web.Request) -> str:
        return str(self.invocation_count)

    @http("POST", r"/create/?")
    @require_token
    async def create(self, request: web.Request) -> str:
        return "created"

    async def _started_service(self) -> None:
        async def _async() -> None:
            async def sleep_and_kill() -> None:
                await asyncio.sleep(10.0)
                if not self.closer.done():
                    self.closer.set_result(None)

            asyncio.ensure_future(sleep_and_kill())
            await self.closer
            os.kill(os.getpid(), signal.SIGINT)

        asyncio.ensure_future(_async())

        async def _requests() -> None:
            port = self.context.get("_http_port")
            responses = {}
            async with aiohttp.ClientSession() as client:
                for path in ("/count/1", "/count/2", "/count/3", "/count/4", "/count/0"):
                    async with client.get("http://127.0.0.1:{}{}".format(port, path)) as response:
                        responses[path] = [response.status, await response.text()]
                for token in ("wrong", "secret"):
                    url = "http://127.0.0.1:{}/create".format(port)
                    async with client.post(url, headers={"X-Token": token}) as response:
                        responses["create with " + token] = [response.status, await response.text()]
            report(
                "responses",
                responses=responses,
                invocation_count=self.invocation_count,
                wrapped_names=self.wrapped_names,
                is_service=isinstance(self, tomodachi.Service),
                options_type=type(self.options).__name__,
                port_option=self.options.http.port,
            )
            self.stop_service()

        asyncio.ensure_future(_requests())

    def stop_service(self) -> None:
        if not self.closer.done():
            self.closer.set_result(None)

    async def _stop_service(self) -> None:
        report("stopped")

"""``http_middleware`` chains and ``@tomodachi.decorator`` on HTTP handlers."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

import tomodachi

calls: list[str] = []


async def middleware_outer(func: Any, service: Any, request: web.BaseRequest, context: dict[str, Any]) -> Any:
    calls.append("outer-before")
    context["seen_by_outer"] = True
    if request.path == "/short-circuit":
        return 403, "stopped by middleware"
    result = await func(kwarg_abc=4711, a_value=5)
    calls.append("outer-after")
    return result


class Inner:
    async def __call__(
        self, func: Any, service: Any, request: web.BaseRequest, context: dict[str, Any]
    ) -> Any:
        calls.append(f"inner:{context.get('seen_by_outer')}")
        return await func(kwarg_xyz=4712)


async def middleware_kwargs(func: Any, *, a_value: int, request: web.BaseRequest, **kwargs: Any) -> Any:
    calls.append(f"kwargs:{a_value}:{sorted(kwargs)}")
    # A middleware cannot replace the transport's own values (request).
    return await func(a_value=a_value * 6, request="not a request")


async def middleware_status(func: Any, status_code: int | None = None) -> Any:
    calls.append(f"status:{status_code}")
    return await func()


class MiddlewareService(tomodachi.Service):
    name = "middleware"
    options = tomodachi.Options(http={"port": 0})
    http_middleware = [middleware_outer, Inner(), middleware_kwargs, middleware_status]

    @tomodachi.http("GET", r"/chain")
    async def chain(
        self,
        request: web.BaseRequest,
        kwarg_abc: int,
        kwarg_xyz: int,
        a_value: int,
        another_value: int = 42,
    ) -> str:
        assert isinstance(request, web.BaseRequest)
        return f"{kwarg_abc},{kwarg_xyz},{a_value},{another_value}"

    @tomodachi.http("GET", r"/short-circuit")
    async def short_circuit(self) -> str:
        calls.append("handler-should-not-run")
        return "never"

    @tomodachi.http_error(404)
    async def not_found(self, status_code: int, kwarg_abc: int = 0) -> str:
        return f"404 handler {status_code} {kwarg_abc}"


async def test_middleware_chain_order_kwargs_and_short_circuit(
    serve: Any, client: aiohttp.ClientSession
) -> None:
    calls.clear()
    async with serve(MiddlewareService) as r:
        async with client.get(r.url + "/chain") as response:
            assert response.status == 200
            assert await response.text() == "4711,4712,30,42"
        assert calls == [
            "outer-before",
            "inner:True",
            "kwargs:5:['kwarg_abc', 'kwarg_xyz']",
            "status:None",
            "outer-after",
        ]
        calls.clear()
        async with client.get(r.url + "/short-circuit") as response:
            assert response.status == 403
            assert await response.text() == "stopped by middleware"
        assert calls == ["outer-before"]
        calls.clear()
        async with client.get(r.url + "/missing") as response:
            assert response.status == 404
            assert await response.text() == "404 handler 404 4711"
        assert calls[-2:] == ["status:404", "outer-after"]


@tomodachi.decorator
async def require_token(self: Any, request: web.BaseRequest, **kwargs: Any) -> Any:
    # The check is called with the handler's arguments, named groups included.
    if request.headers.get("X-Token") != "secret":
        return {"body": "Invalid token", "status": 403}
    return None


@tomodachi.decorator(include_function=True)
def count_calls(func: Any, self: Any, *args: Any, **kwargs: Any) -> bool:
    self.counted.append(func.__name__)
    return True


class DecoratedService(tomodachi.Service):
    name = "decorated"
    options = tomodachi.Options(http={"port": 0})

    def __init__(self) -> None:
        self.counted: list[str] = []

    @tomodachi.http("POST", r"/create/(?P<item>\w+)")
    @require_token
    @count_calls
    async def create(self, request: web.BaseRequest, item: str) -> str:
        return f"created {item}"


async def test_tomodachi_decorator_on_http_handler(serve: Any, client: aiohttp.ClientSession) -> None:
    async with serve(DecoratedService) as r:
        async with client.post(r.url + "/create/thing") as response:
            assert (response.status, await response.text()) == (403, "Invalid token")
        async with client.post(r.url + "/create/thing", headers={"X-Token": "secret"}) as response:
            assert (response.status, await response.text()) == (200, "created thing")
        assert r.service.counted == ["create"]

"""Handler context: the context logger, pre-handler functions, disconnects, shared ports."""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import tomodachi
from tomodachi.transport.http.handler import HttpState
from tomodachi.transport.http.responses import ResponseDefaults
from tomodachi.transport.http.static import StaticEndpoint, static_root


async def pre_handler(service: Any, request: web.BaseRequest) -> None:
    service.pre_calls.append(request.path)


class ContextService(tomodachi.Service):
    name = "context"
    options = tomodachi.Options(http={"port": 0})

    def __init__(self) -> None:
        self.pre_calls: list[str] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    @tomodachi.http("GET", r"/log/(?P<word>\w+)", pre_handler_func=pre_handler)
    async def logs(self, request: web.BaseRequest, word: str) -> str:
        tomodachi.get_logger().info("inside handler", word=word)
        return word

    @tomodachi.http("GET", r"/bind")
    async def bind(self, request: web.BaseRequest) -> str:
        tomodachi.get_logger("context.sticky").bind(leaked="yes")
        return repr(tomodachi.get_logger().name)

    @tomodachi.http("GET", r"/bindings")
    async def bindings(self, request: web.BaseRequest) -> str:
        return repr(sorted(tomodachi.get_logger("context.sticky")._context))

    @tomodachi.http("GET", r"/slow")
    async def slow(self) -> str:
        self.entered.set()
        await self.release.wait()
        return "too late"


async def test_context_logger_and_pre_handler(
    serve: Any, client: aiohttp.ClientSession, json_logs: Any
) -> None:
    async with serve(ContextService) as r, client.get(r.url + "/log/hello") as response:
        assert await response.text() == "hello"
        assert r.service.pre_calls == ["/log/hello"]
    line = next(x for x in json_logs() if x["message"] == "inside handler")
    assert line["logger"] == "tomodachi.http.handler"
    assert (line["handler"], line["type"], line["word"]) == ("logs", "tomodachi.http", "hello")


async def test_a_request_sees_neither_the_context_logger_nor_the_bindings_of_the_one_before(
    serve: Any, json_logs: Any
) -> None:
    async with serve(ContextService) as r, aiohttp.ClientSession() as one_connection:
        # Same keep-alive connection for both requests (one connector, sequential requests).
        async with one_connection.get(r.url + "/bind") as response:
            assert await response.text() == repr("tomodachi.http.handler")
        async with one_connection.get(r.url + "/bindings") as response:
            assert await response.text() == "[]"
    assert tomodachi.get_logger().name == "tomodachi"


async def test_client_gone_before_the_response_is_logged_as_499(
    serve: Any, json_logs: Any, wait_until: Any
) -> None:
    async with serve(ContextService) as r:
        _reader, writer = await asyncio.open_connection("127.0.0.1", r.port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        await asyncio.wait_for(r.service.entered.wait(), 2)
        writer.transport.abort()
        await asyncio.sleep(0.01)
        r.service.release.set()

        def logged() -> bool:
            return any(x.get("request_path") == "/slow" for x in json_logs())

        await wait_until(logged)
    line = next(x for x in json_logs() if x.get("request_path") == "/slow")
    assert line["status_code"] == 499
    assert line["replaced_status_code"] == 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT sharing is Linux behaviour")
async def test_two_services_share_a_port_with_reuse_port(serve: Any, client: aiohttp.ClientSession) -> None:
    port = free_port()

    class One(tomodachi.Service):
        name = "one"
        options = tomodachi.Options(http={"port": port, "host": "127.0.0.1", "reuse_port": True})

        @tomodachi.http("GET", r"/who")
        async def who(self) -> str:
            return "one"

    class Two(One):
        name = "two"

        @tomodachi.http("GET", r"/who")
        async def who(self) -> str:
            return "two"

    async with serve(One, Two) as r:
        ports = {s.context["_http_port"] for s in r.container.instances}
        assert ports == {port}
        answers = set()
        for _ in range(40):
            async with (
                aiohttp.ClientSession() as fresh,
                fresh.get(f"http://127.0.0.1:{port}/who") as response,
            ):
                answers.add(await response.text())
        assert answers <= {"one", "two"} and answers


def test_static_locate_rejects_escapes(tmp_path: Any) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    (tmp_path / "secret.txt").write_text("secret")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    state = HttpState(
        tomodachi.Service(),
        ResponseDefaults(),
        client_max_size=1024,
        access_log=None,
        real_ip=None,
        server_header="x",
    )
    endpoint = StaticEndpoint(state, "files", static_root(str(root), None))
    assert endpoint.locate("a.txt") == (root / "a.txt").resolve()
    assert endpoint.locate("sub/b.txt") == (root / "sub" / "b.txt").resolve()
    assert endpoint.locate("/a.txt") == (root / "a.txt").resolve()
    for bad in (
        "../secret.txt",
        "sub/../../secret.txt",
        str(tmp_path / "secret.txt"),
        "link.txt",
        "sub",
        "",
        "a\x00",
    ):
        assert endpoint.locate(bad) is None, bad

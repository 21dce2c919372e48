"""Websocket handlers and static files."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import tomodachi

STATIC = Path(__file__).resolve().parent / "static_files"

events: list[Any] = []


class WebSocketService(tomodachi.Service):
    name = "websockets"
    options = tomodachi.Options(http={"port": 0})

    @tomodachi.websocket(r"/echo")
    async def echo(self, websocket: web.WebSocketResponse, request: web.BaseRequest) -> Any:
        events.append(("open", request.path))

        async def receive(data: str | bytes) -> None:
            if isinstance(data, bytes):
                await websocket.send_bytes(b"bin:" + data)
            else:
                await websocket.send_str(f"echo:{data}")

        def closed() -> None:
            events.append(("closed", request.path))

        return receive, closed

    @tomodachi.ws(r"/room/(?P<room>\w+)")
    async def room(self, ws: Any, req: Any, room: str) -> Any:
        await ws.send_str(f"welcome to {room} via {req.path}")
        return lambda data: ws.send_str(f"{room}:{data}")

    @tomodachi.websocket(r"/silent")
    async def silent(self, websocket: web.WebSocketResponse) -> None:
        events.append(("silent-open", None))

    @tomodachi.websocket(r"/broken")
    async def broken(self, websocket: Any) -> Any:
        def receive(data: str) -> None:
            raise RuntimeError("callback failed")

        return receive


async def test_websocket_echo_text_and_binary(
    serve: Any, client: aiohttp.ClientSession, wait_until: Any
) -> None:
    events.clear()
    async with serve(WebSocketService) as r:
        async with client.ws_connect(r.url + "/echo") as ws:
            await ws.send_str("hello")
            assert await ws.receive_str() == "echo:hello"
            await ws.send_bytes(b"\x00\x01")
            assert await ws.receive_bytes() == b"bin:\x00\x01"
        await wait_until(lambda: ("closed", "/echo") in events)
        assert events == [("open", "/echo"), ("closed", "/echo")]


async def test_websocket_positional_names_and_groups(serve: Any, client: aiohttp.ClientSession) -> None:
    async with serve(WebSocketService) as r, client.ws_connect(r.url + "/room/blue") as ws:
        assert await ws.receive_str() == "welcome to blue via /room/blue"
        await ws.send_str("hi")
        assert await ws.receive_str() == "blue:hi"


async def test_websocket_callback_error_closes_with_1011(
    serve: Any, client: aiohttp.ClientSession, json_logs: Any
) -> None:
    async with serve(WebSocketService) as r, client.ws_connect(r.url + "/broken") as ws:
        await ws.send_str("x")
        message = await ws.receive()
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1011
    errors = [x for x in json_logs() if x["level"] == "error"]
    assert [(e["message"], e["handler"]) for e in errors] == [("uncaught exception in handler", "broken")]


async def test_websockets_are_closed_with_1001_on_stop(serve: Any, client: aiohttp.ClientSession) -> None:
    events.clear()
    async with serve(WebSocketService, stop=False) as r:
        ws = await client.ws_connect(r.url + "/silent")
        await ws.send_str("ignored")
        started = asyncio.get_running_loop().time()
        stop = asyncio.create_task(r.container.stop())
        message = await asyncio.wait_for(ws.receive(), 2)
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1001
        await ws.close()
        await asyncio.wait_for(stop, 2)
        assert asyncio.get_running_loop().time() - started < 1.0


async def test_plain_get_on_websocket_url_is_400(serve: Any, client: aiohttp.ClientSession) -> None:
    async with serve(WebSocketService) as r, client.get(r.url + "/echo") as response:
        assert response.status == 400


class StaticService(tomodachi.Service):
    name = "static"
    options = tomodachi.Options(http={"port": 0})

    @tomodachi.http_static(str(STATIC), r"/static/")
    async def files(self) -> None:
        raise AssertionError("never called")

    @tomodachi.http_static("static_files", r"/images/(?P<filename>[^/]+\.png)")
    async def images(self) -> None:
        raise AssertionError("never called")


class StaticWith404(StaticService):
    name = "static-404"

    @tomodachi.http_error(404)
    async def not_found(self) -> str:
        return "custom not found"


async def raw_get(port: int, path: str) -> bytes:
    """A request with a path the aiohttp client would normalise (``..``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data


async def test_static_files(
    serve: Any, client: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve(StaticService) as r:
        async with client.get(r.url + "/static/hello.txt") as response:
            assert (response.status, await response.text()) == (200, "hello static\n")
            assert response.headers["Server"] == "tomodachi"
        async with client.get(r.url + "/static/sub/nested.txt") as response:
            assert (response.status, await response.text()) == (200, "nested\n")
        async with client.head(r.url + "/static/hello.txt") as response:
            assert response.status == 200
        for missing in ("/static/nope.txt", "/static/sub", "/static/sub/", "/images/hello.txt"):
            async with client.get(r.url + missing) as response:
                assert response.status == 404, missing


async def test_static_relative_to_the_service_file(
    serve: Any, client: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Relative paths start at the service file's directory, whatever the working directory.
    monkeypatch.chdir(tmp_path)
    async with (
        serve(StaticService, source=__file__) as r,
        client.get(r.url + "/images/image.png") as response,
    ):
        assert (response.status, await response.read()) == (200, b"PNGDATA")


@pytest.mark.parametrize(
    "path",
    [
        "/static/../test_http_websocket_static.py",
        "/static/%2e%2e/test_http_websocket_static.py",
        "/static/sub/../../conftest.py",
        "/static/%2e%2e%2fconftest.py",
        "/static//etc/passwd",
        "/static/..%5cconftest.py",
    ],
)
async def test_static_path_traversal_is_404(serve: Any, path: str) -> None:
    async with serve(StaticWith404) as r:
        response = await raw_get(r.port, path)
    assert response.startswith(b"HTTP/1.1 404"), response[:100]
    assert response.endswith(b"custom not found")


async def test_static_directory_missing_at_start_answers_404_until_it_exists(
    serve: Any, client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    public = tmp_path / "public"

    class LateStatic(tomodachi.Service):
        name = "late-static"
        options = tomodachi.Options(http={"port": 0})

        @tomodachi.http_static(str(public), r"/static/")
        async def files(self) -> None:
            raise AssertionError("never called")

    async with serve(LateStatic) as r:  # starts, as the original does
        async with client.get(r.url + "/static/app.js") as response:
            assert response.status == 404
        public.mkdir()
        (public / "app.js").write_text("built later")
        async with client.get(r.url + "/static/app.js") as response:
            assert (response.status, await response.text()) == (200, "built later")

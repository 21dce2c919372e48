"""Every return convention of an HTTP handler, over a real socket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import tomodachi
from tomodachi.transport.http import (
    HttpException,
    HttpResponse,
    get_http_response_status,
    get_http_response_status_sync,
    resolve_response_sync,
)
from tomodachi.transport.http.responses import InvalidResponseError, ResponseDefaults

HERE = Path(__file__).resolve()


class ReturnsService(tomodachi.Service):
    name = "returns"
    options = tomodachi.Options(http={"port": 0})

    @tomodachi.http("GET", r"/str")
    async def as_str(self, request: web.BaseRequest) -> str:
        return "友達"

    @tomodachi.http("GET", r"/bytes")
    async def as_bytes(self, request: web.BaseRequest) -> bytes:
        return b"\x00\x01raw"

    @tomodachi.http("GET", r"/none")
    async def as_none(self, request: web.BaseRequest) -> None:
        return None

    @tomodachi.http("GET", r"/tuple")
    async def as_tuple(self, request: web.BaseRequest) -> Any:
        return 201, "created"

    @tomodachi.http("GET", r"/tuple-headers")
    async def as_tuple_headers(self, request: web.BaseRequest) -> Any:
        return "202", "accepted", {"X-Extra": "yes"}

    @tomodachi.http("GET", r"/list")
    async def as_list(self, request: web.BaseRequest) -> Any:
        return [201, "b", {"X-List": "1"}]

    @tomodachi.http("GET", r"/dict")
    async def as_dict(self, request: web.BaseRequest) -> Any:
        return {"body": "dict body", "status": 203, "headers": {"X-Dict": "d"}}

    @tomodachi.http("GET", r"/dict-no-body")
    async def as_dict_no_body(self, request: web.BaseRequest) -> Any:
        return {"status": 200, "data": [1, 2]}

    @tomodachi.http("GET", r"/response")
    async def as_response(self, request: web.BaseRequest) -> Any:
        return HttpResponse(body="tomodachi response", status=418, headers={"X-R": "r"})

    @tomodachi.http("GET", r"/response-json")
    async def as_response_json(self, request: web.BaseRequest) -> Any:
        return HttpResponse(body='{"a": 1}', content_type="application/json")

    @tomodachi.http("GET", r"/response-latin1")
    async def as_response_latin1(self, request: web.BaseRequest) -> Any:
        return HttpResponse(body="åäö", charset="iso-8859-1")

    @tomodachi.http("GET", r"/response-header-charset")
    async def as_response_header_charset(self, request: web.BaseRequest) -> Any:
        return HttpResponse(
            body="åäö", charset="utf-8", headers={"content-type": "text/html; charset=iso-8859-1"}
        )

    @tomodachi.http("GET", r"/response-unencodable")
    async def as_response_unencodable(self, request: web.BaseRequest) -> Any:
        return HttpResponse(body="友達", charset="iso-8859-1")

    @tomodachi.http("GET", r"/response-unknown-charset")
    async def as_response_unknown_charset(self, request: web.BaseRequest) -> Any:
        return HttpResponse(body="x", charset="no-such-charset")

    @tomodachi.http("GET", r"/aiohttp")
    async def as_aiohttp(self, request: web.BaseRequest) -> Any:
        return web.Response(text="from aiohttp", status=200, headers={"X-Aiohttp": "1"})

    @tomodachi.http("GET", r"/file")
    async def as_file(self, request: web.BaseRequest) -> Any:
        return web.FileResponse(HERE)

    @tomodachi.http("GET", r"/stream")
    async def as_stream(self, request: web.BaseRequest) -> Any:
        response = web.StreamResponse(status=200)
        await response.prepare(request)
        for chunk in (b"one,", b"two,", b"three"):
            await response.write(chunk)
        await response.write_eof()
        return response

    @tomodachi.http("GET", r"/int")
    async def as_int(self, request: web.BaseRequest) -> Any:
        return 4711

    @tomodachi.http("GET", r"/raise-aiohttp")
    async def raise_aiohttp(self, request: web.BaseRequest) -> Any:
        raise web.HTTPBadRequest(text="bad input, friend")

    @tomodachi.http("GET", r"/raise-redirect")
    async def raise_redirect(self, request: web.BaseRequest) -> Any:
        raise web.HTTPFound("/str")

    @tomodachi.http("GET", r"/raise-http-exception")
    async def raise_http_exception(self, request: web.BaseRequest) -> Any:
        raise HttpException(status=409, body="taken")

    @tomodachi.http("GET", r"/raise-http-exception-bare")
    async def raise_http_exception_bare(self, request: web.BaseRequest) -> Any:
        raise HttpException(status=409)

    @tomodachi.http("GET", r"/raise-http-exception-message")
    async def raise_http_exception_message(self, request: web.BaseRequest) -> Any:
        # The message is for the logs; it must never reach the client.
        raise HttpException("db password rejected for user admin", log_level="ERROR")

    @tomodachi.http("GET", r"/sync")
    def sync_handler(self, request: web.BaseRequest) -> str:
        return "sync works"

    @tomodachi.http("POST", r"/echo")
    async def echo(self, request: web.BaseRequest) -> Any:
        return 200, await request.read()


@pytest.fixture
async def running(serve: Any) -> Any:
    async with serve(ReturnsService) as r:
        yield r


async def fetch(client: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, bytes, Any]:
    async with client.get(url, allow_redirects=False, **kw) as response:
        return response.status, await response.read(), response.headers


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/str", 200, "友達".encode()),
        ("/bytes", 200, b"\x00\x01raw"),
        ("/none", 200, b""),
        ("/tuple", 201, b"created"),
        ("/tuple-headers", 202, b"accepted"),
        ("/list", 201, b"b"),
        ("/dict", 203, b"dict body"),
        ("/dict-no-body", 200, b""),
        ("/response", 418, b"tomodachi response"),
        ("/aiohttp", 200, b"from aiohttp"),
        ("/stream", 200, b"one,two,three"),
        ("/sync", 200, b"sync works"),
        ("/raise-aiohttp", 400, b"bad input, friend"),
        ("/raise-http-exception", 409, b"taken"),
        ("/raise-http-exception-bare", 409, b"409: Conflict"),
        ("/raise-http-exception-message", 500, b"500: Internal Server Error"),
    ],
)
async def test_return_conventions(
    running: Any, client: aiohttp.ClientSession, path: str, status: int, body: bytes
) -> None:
    got_status, got_body, headers = await fetch(client, running.url + path)
    assert (got_status, got_body) == (status, body)
    if path != "/stream":  # a response the handler prepared itself keeps its own headers
        assert headers["Server"] == "tomodachi"


async def test_headers_of_tuples_dicts_and_responses(running: Any, client: aiohttp.ClientSession) -> None:
    _, _, headers = await fetch(client, running.url + "/tuple-headers")
    assert headers["X-Extra"] == "yes"
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    _, _, headers = await fetch(client, running.url + "/list")
    assert headers["X-List"] == "1"
    _, _, headers = await fetch(client, running.url + "/dict")
    assert headers["X-Dict"] == "d"
    _, _, headers = await fetch(client, running.url + "/response")
    assert headers["X-R"] == "r"
    _, _, headers = await fetch(client, running.url + "/aiohttp")
    assert headers["X-Aiohttp"] == "1"


async def test_content_type_and_charset(running: Any, client: aiohttp.ClientSession) -> None:
    _, body, headers = await fetch(client, running.url + "/response-json")
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert body == b'{"a": 1}'
    _, body, headers = await fetch(client, running.url + "/response-latin1")
    assert headers["Content-Type"] == "text/plain; charset=iso-8859-1"
    assert body == "åäö".encode("iso-8859-1")
    # A charset in an explicit Content-Type header wins over the charset argument.
    _, body, headers = await fetch(client, running.url + "/response-header-charset")
    assert headers["Content-Type"] == "text/html; charset=iso-8859-1"
    assert body == "åäö".encode("iso-8859-1")


@pytest.mark.parametrize("path", ["/response-unencodable", "/response-unknown-charset", "/int"])
async def test_unencodable_bodies_are_a_500(running: Any, client: aiohttp.ClientSession, path: str) -> None:
    status, body, _ = await fetch(client, running.url + path)
    assert status == 500
    assert b"Traceback" not in body


async def test_file_response_passes_through(running: Any, client: aiohttp.ClientSession) -> None:
    status, body, headers = await fetch(client, running.url + "/file")
    assert status == 200
    assert body == HERE.read_bytes()
    assert headers["Server"] == "tomodachi"


async def test_raised_redirect_keeps_location(running: Any, client: aiohttp.ClientSession) -> None:
    status, _, headers = await fetch(client, running.url + "/raise-redirect")
    assert status == 302
    assert headers["Location"] == "/str"


async def test_request_body_can_be_read(running: Any, client: aiohttp.ClientSession) -> None:
    async with client.post(running.url + "/echo", data=b"payload" * 1000) as response:
        assert response.status == 200
        assert await response.read() == b"payload" * 1000


def test_resolve_response_sync_without_a_server() -> None:
    response = resolve_response_sync((201, "x", {"X-A": "1"}))
    assert isinstance(response, web.Response)
    assert (response.status, response.body, response.headers["X-A"]) == (201, b"x", "1")
    assert resolve_response_sync(None, status=404).status == 404
    with pytest.raises(TypeError):
        resolve_response_sync(3.14)


async def test_get_http_response_status() -> None:
    assert get_http_response_status_sync("ok") == 200
    assert get_http_response_status_sync((201, "x")) == 201
    assert get_http_response_status_sync({"status": 204}) == 204
    assert get_http_response_status_sync(HttpResponse(status=418)) == 418
    assert get_http_response_status_sync(web.HTTPNotFound()) == 404
    assert get_http_response_status_sync(HttpException(status=409)) == 409
    assert get_http_response_status_sync(ValueError("x")) == 500
    assert get_http_response_status_sync(4711) == 500

    async def later() -> Any:
        return 202, "later"

    async def failing() -> Any:
        raise web.HTTPForbidden()

    assert await get_http_response_status(later()) == 202
    assert await get_http_response_status(failing()) == 403
    assert await get_http_response_status("x") == 200


def test_the_same_headers_again_give_the_same_response_and_stay_checked() -> None:
    # A handler's header dict is merged and checked once, then remembered (a hot path).
    defaults = ResponseDefaults("text/plain; charset=utf-8", "utf-8", {"Server": "s"})
    headers = {"Content-Type": "application/json; charset=latin-1", "X-Id": "1"}
    first = resolve_response_sync((201, "é", headers), defaults=defaults)
    first.headers["X-Added-Later"] = "by a middleware"
    second = resolve_response_sync((201, "é", dict(headers)), defaults=defaults)
    assert dict(second.headers) == {
        "Content-Type": "application/json; charset=latin-1",
        "Server": "s",
        "X-Id": "1",
    }
    assert isinstance(first, web.Response) and isinstance(second, web.Response)
    assert second.body == first.body == "é".encode("latin-1")
    for _ in range(2):
        with pytest.raises(InvalidResponseError):
            resolve_response_sync((200, "x", {"X-Bad": "a\r\nInjected: 1"}), defaults=defaults)
    unhashable = resolve_response_sync((200, "x", {"X-List": ["a"]}), defaults=defaults)
    assert unhashable.status == 200


def test_a_lone_content_type_is_remembered_by_its_value_and_other_header_sets_by_their_items() -> None:
    defaults = ResponseDefaults("text/plain; charset=utf-8", "utf-8", {"Server": "s"})
    cases: list[tuple[dict[str, Any], dict[str, str]]] = [
        ({"Content-Type": "application/json"}, {"Content-Type": "application/json", "Server": "s"}),
        ({"content-type": "text/csv"}, {"Content-Type": "text/csv", "Server": "s"}),
        ({"X-Id": "1"}, {"Content-Type": "text/plain; charset=utf-8", "Server": "s", "X-Id": "1"}),
        ({"Content-Type": "application/json", "X-Id": "2"},
         {"Content-Type": "application/json", "Server": "s", "X-Id": "2"}),
    ]  # fmt: skip
    for _ in range(2):  # the second time from what was remembered
        for headers, expected in cases:
            response = resolve_response_sync((200, "{}", dict(headers)), defaults=defaults)
            assert {k.lower(): v for k, v in response.headers.items()} == {
                k.lower(): v for k, v in expected.items()
            }
            assert isinstance(response, web.Response) and response.body == b"{}"

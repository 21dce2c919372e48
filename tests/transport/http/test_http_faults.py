"""The fault suite of the HTTP server: malformed and hostile clients, over raw sockets.

Each case checks what the client gets (status, framing, whether the connection is closed) and
what the service logs (the right level, no traceback for a client's mistake, an access line).
Timeouts are set to fractions of a second through the ``http.*`` options so the suite is fast.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import tomodachi

STATIC = Path(__file__).resolve().parent / "static_files"


async def _header_adding_middleware(func: Any, service: Any, request: web.BaseRequest) -> Any:
    response = await func()
    if request.path == "/mw-header":  # a header added after the handler returned
        response.headers["X-Injected"] = "a\r\nSet-Cookie: evil=1"
    return response


def make_service(**http: Any) -> type[tomodachi.Service]:
    class Faults(tomodachi.Service):
        name = "faults"
        options = tomodachi.Options(http={"port": 0, **http})
        http_middleware = [_header_adding_middleware]

        @tomodachi.http("POST", r"/upload")
        async def upload(self, request: web.BaseRequest) -> str:
            return f"got {len(await request.read())} bytes"

        @tomodachi.http("GET", r"/stream")
        async def stream(self, request: web.BaseRequest) -> web.StreamResponse:
            response = web.StreamResponse()
            await response.prepare(request)
            await response.write(b"partial")
            raise RuntimeError("failed half-way")

        @tomodachi.http("GET", r"/stream-prepared")
        async def stream_prepared(self, request: web.BaseRequest) -> web.StreamResponse:
            response = web.StreamResponse()
            await response.prepare(request)
            raise web.HTTPBadRequest()

        @tomodachi.http("GET", r"/download")
        async def download(self, request: web.BaseRequest) -> web.StreamResponse:
            response = web.StreamResponse()
            await response.prepare(request)
            for _ in range(200):
                await response.write(b"x" * 1024)
                await asyncio.sleep(0.01)
            return response

        @tomodachi.http("GET", r"/bad-header")
        async def bad_header(self) -> web.Response:
            return web.Response(text="x", headers={"X-Injected": "a\r\nSet-Cookie: evil=1"})

        @tomodachi.http("GET", r"/bad-tuple")
        async def bad_tuple(self) -> tuple[int, str, dict[str, str]]:
            return 200, "x", {"X-Injected": "a\nSet-Cookie: evil=1"}

        @tomodachi.http("GET", r"/mw-header")
        async def mw_header(self) -> web.Response:
            return web.Response(text="x")

        @tomodachi.http("GET", r"/ok")
        async def ok(self) -> str:
            return "ok"

        @tomodachi.http_static(str(STATIC), r"/static/")
        async def files(self) -> None:
            pass

        @tomodachi.http_error(status_code=400)
        async def error_400(self) -> tuple[int, str]:
            return 400, "custom 400"

        @tomodachi.http_error(status_code=404)
        async def error_404(self) -> tuple[int, str]:
            return 404, "custom 404"

        @tomodachi.http_error(status_code=408)
        async def error_408(self) -> tuple[int, str]:
            return 408, "custom 408"

        @tomodachi.http_error(status_code=503)
        async def error_503(self) -> tuple[int, str]:
            return 503, "custom 503"

    return Faults


async def exchange(
    port: int, data: bytes, *, within: float = 3.0, close_after: float | None = None, until: bytes = b""
) -> bytes:
    """Send *data*, then read until the server closes, or up to *until* (fails after *within* s).

    With *close_after*, the client closes its side that many seconds after sending instead.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        if close_after is not None:
            await asyncio.sleep(close_after)
            return b""
        if until:
            return await asyncio.wait_for(reader.readuntil(until), within)
        return await asyncio.wait_for(reader.read(), within)
    finally:
        writer.close()


def errors_and_tracebacks(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("level") in ("error", "critical") or "exception" in r]


def access(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("logger") == "tomodachi.http.response"]


# -- malformed and smuggling requests, rejected before a handler runs ------------------------
POST = b"POST /upload HTTP/1.1\r\nHost: x\r\n"
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n"
MALFORMED = {
    "content-length and transfer-encoding": CHUNKED + b"Content-Length: 5\r\n\r\n0\r\n\r\n",
    "two different content-lengths": POST + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "bad chunk size": CHUNKED + b"\r\nzz\r\nhello\r\n0\r\n\r\n",
    "negative chunk size": CHUNKED + b"\r\n-5\r\nhello\r\n0\r\n\r\n",
    "transfer-encoding not ending in chunked": POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    "obs-fold header": b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
    "space before colon": b"GET /ok HTTP/1.1\r\nHost: x\r\nContent-Length : 0\r\n\r\n",
    "huge header": b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
    "bare LF in header": b"GET /ok HTTP/1.1\r\nHost: x\r\nX-A: a\nb\r\n\r\n",
    "bad method": b"G(T /ok HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad version": b"GET /ok HTTP/9.x\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("data", list(MALFORMED.values()), ids=list(MALFORMED))
async def test_malformed_requests_are_a_400_without_traceback(
    serve: Any, json_logs: Any, data: bytes
) -> None:
    async with serve(make_service()) as running:
        answer = await exchange(running.port, data)
        assert answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.0 400 ")), answer[:200]
        assert answer.count(b"HTTP/1.") == 1
        assert b"\r\nServer: tomodachi\r\n" in answer  # our response, not aiohttp's echo
        assert answer.endswith(b"custom 400")  # through the service's @http_error(400)
        await asyncio.sleep(0.05)
        ok = await exchange(running.port, b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 ") and ok.endswith(b"ok")
    records = json_logs()
    assert not errors_and_tracebacks(records), errors_and_tracebacks(records)
    assert any(r.get("message") == "malformed http request: 400" for r in records)
    assert [r["status_code"] for r in access(records)] == [400, 200]


async def test_malformed_request_without_an_error_handler_is_a_plain_400(serve: Any, json_logs: Any) -> None:
    class Plain(tomodachi.Service):
        name = "plain"
        options = tomodachi.Options(http={"port": 0})

        @tomodachi.http("GET", r"/ok")
        async def ok(self) -> str:
            return "ok"

    async with serve(Plain) as running:
        answer = await exchange(running.port, MALFORMED["bad chunk size"])
    assert answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.0 400 ")), answer
    assert answer.endswith(b"400: Bad Request")
    assert not errors_and_tracebacks(json_logs())


async def test_pipelined_smuggling_attempt_does_not_reach_a_second_handler(
    serve: Any, json_logs: Any
) -> None:
    smuggled = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
    data = CHUNKED + b"Content-Length: 4\r\n\r\n0\r\n\r\n" + smuggled
    async with serve(make_service()) as running:
        answer = await exchange(running.port, data)
    assert answer.count(b"HTTP/1.") == 1 and b" 400 " in answer.split(b"\r\n", 1)[0]
    assert [r["status_code"] for r in access(json_logs())] == [400]


# -- body and encoding abuse, seen by the handler -------------------------------------------
@pytest.mark.parametrize(
    "encoding, body",
    [("gzip", b"not gzip at all"), ("deflate", b"\x00\x01garbage"), ("deflate", b"x\x9c\x00\x00garbage")],
)
async def test_undecodable_content_encoding_is_a_400_through_http_error(
    serve: Any, json_logs: Any, encoding: str, body: bytes
) -> None:
    request = (
        f"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Encoding: {encoding}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    async with serve(make_service()) as running:
        answer = await exchange(running.port, request)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert answer.endswith(b"custom 400")
    assert b"\r\nConnection: close\r\n" in answer
    records = json_logs()
    assert not errors_and_tracebacks(records), errors_and_tracebacks(records)
    warning = [r for r in records if r.get("message") == "unreadable request body"]
    assert len(warning) == 1 and warning[0]["level"] == "warning"
    assert [r["status_code"] for r in access(records)] == [400]


@pytest.mark.parametrize("encoding", ["bogus", "gzip, br", "compress", "x-custom"])
async def test_body_in_an_unsupported_content_coding_is_a_415(
    serve: Any, json_logs: Any, encoding: str
) -> None:
    body = b"some bytes"
    request = (
        f"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Encoding: {encoding}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    async with serve(make_service()) as running:
        answer = await exchange(running.port, request)
    head = answer.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 415 "), answer
    assert b"\r\nAccept-Encoding: deflate, gzip" in head  # what the server can decode
    assert b"\r\nConnection: close" in head
    assert b"got " not in answer  # the handler never ran on undecoded bytes
    records = json_logs()
    assert not errors_and_tracebacks(records), errors_and_tracebacks(records)
    assert [r["status_code"] for r in access(records)] == [415]


async def test_valid_gzip_body_still_decodes(serve: Any) -> None:
    body = gzip.compress(b"x" * 1000)
    request = (
        f"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body
    async with serve(make_service()) as running:
        answer = await exchange(running.port, request)
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"got 1000 bytes")


async def test_bad_chunk_after_the_handler_started_reading_is_a_4xx(serve: Any, json_logs: Any) -> None:
    # aiohttp's parser does not fail the body being read, only the next message: the body
    # then stalls and http.body_timeout answers.
    async with serve(make_service(body_timeout=0.3)) as running:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        writer.write(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)  # the handler is reading the body now
        writer.write(b"zz\r\n")
        answer = await asyncio.wait_for(reader.read(), 3.0)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ") and answer.endswith(b"custom 408"), answer
    assert not errors_and_tracebacks(json_logs())


async def test_client_disconnecting_mid_upload_is_a_499_line_not_an_error(
    serve: Any, json_logs: Any, wait_until: Any
) -> None:
    async with serve(make_service()) as running:
        await exchange(
            running.port,
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"a" * 1000,
            close_after=0.1,
        )
        await wait_until(lambda: access(json_logs()), within=3.0, what="the access line")
    records = json_logs()
    assert not errors_and_tracebacks(records), errors_and_tracebacks(records)
    assert [r["status_code"] for r in access(records)] == [499]
    assert any(r.get("message") == "client disconnected before the response" for r in records)


# -- streamed-response failures and invalid responses ----------------------------------------
@pytest.mark.parametrize("path", ["/stream", "/stream-prepared"])
async def test_exception_after_the_response_started_aborts_the_connection(
    serve: Any, json_logs: Any, wait_until: Any, path: str
) -> None:
    async with serve(make_service()) as running:
        # keep-alive, and a second request pipelined behind: it must not be answered
        answer = await exchange(
            running.port,
            f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        )
        await wait_until(lambda: access(json_logs()), within=3.0, what="the access line")
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.count(b"HTTP/1.1") == 1  # no second status line written into the body
    assert not answer.endswith(b"0\r\n\r\n")  # the chunked body was never terminated
    assert b"500" not in answer
    records = json_logs()
    line = access(records)
    assert len(line) == 1 and line[0]["status_code"] == 500 and line[0]["response_aborted"] is True
    errors = [r for r in records if r.get("level") == "error"]
    assert (
        len(errors) == 1
        and errors[0]["message"] == "exception after the response had started: connection aborted"
    )


async def test_client_leaving_a_streamed_download_is_not_an_error(
    serve: Any, json_logs: Any, wait_until: Any
) -> None:
    async with serve(make_service()) as running:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        writer.write(b"GET /download HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(reader.readuntil(b"xxxx"), 3.0)
        writer.transport.abort()
        await wait_until(lambda: access(json_logs()), within=5.0, what="the access line")
    records = json_logs()
    assert not errors_and_tracebacks(records), errors_and_tracebacks(records)
    assert any(r.get("message") == "client disconnected before the response" for r in records)
    assert [r["status_code"] for r in access(records)] == [499]


@pytest.mark.parametrize("path", ["/bad-header", "/bad-tuple", "/mw-header"])
async def test_invalid_header_value_is_a_500_with_one_log_line(serve: Any, json_logs: Any, path: str) -> None:
    async with serve(make_service()) as running:
        answer = await exchange(running.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 500 "), answer
    assert b"evil" not in answer and b"X-Injected" not in answer
    records = json_logs()
    errors = [r for r in records if r.get("level") == "error"]
    assert [r["message"] for r in errors] == ["invalid response from handler: 500 sent instead"]
    assert "exception" not in errors[0]
    assert [(r["status_code"], r["request_path"]) for r in access(records)] == [(500, path)]


# -- static paths ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/static/" + "a" * 300,
        "/static/" + "a" * 300 + "/hello.txt",
        "/static/%2e%2e/test_http_faults.py",
        "/static/..%2ftest_http_faults.py",
        "/static/..%5ctest_http_faults.py",
        "/static/%00hello.txt",
        "/static/sub/%2e%2e/%2e%2e/conftest.py",
    ],
)
async def test_hostile_static_names_are_404_through_http_error(serve: Any, json_logs: Any, path: str) -> None:
    async with serve(make_service()) as running:
        answer = await exchange(
            running.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
    assert answer.startswith(b"HTTP/1.1 404 ") and answer.endswith(b"custom 404"), answer[:300]
    records = json_logs()
    assert not errors_and_tracebacks(records), errors_and_tracebacks(records)
    assert str(STATIC) not in "".join(str(r) for r in records)


# -- slow clients ------------------------------------------------------------------------------
async def test_headers_not_received_in_time_are_a_408_then_closed(serve: Any, json_logs: Any) -> None:
    async with serve(make_service(header_timeout=0.3)) as running:
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = await exchange(running.port, b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        elapsed = loop.time() - started
        # a connection that sends nothing at all is closed the same way
        silent = await exchange(running.port, b"")
    assert answer.startswith(b"HTTP/1.1 408 ") and b"Connection: close" in answer
    assert silent.startswith(b"HTTP/1.1 408 ")
    assert 0.25 <= elapsed < 2.0
    records = json_logs()
    assert (
        sum(r.get("message") == "http request headers timed out: 408, connection closed" for r in records)
        == 2
    )


async def test_header_timeout_applies_to_every_request_on_a_keep_alive_connection(
    serve: Any, json_logs: Any
) -> None:
    async with serve(make_service(header_timeout=0.3, keepalive_timeout=60)) as running:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        try:
            writer.write(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await asyncio.wait_for(reader.readuntil(b"ok"), 3.0)).startswith(b"HTTP/1.1 200 ")
            await asyncio.sleep(0.5)  # idle past header_timeout: fine
            writer.write(b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # the next request stalls
            loop = asyncio.get_running_loop()
            started = loop.time()
            answer = await asyncio.wait_for(reader.read(), 3.0)
            elapsed = loop.time() - started
        finally:
            writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ") and b"Connection: close" in answer
    assert 0.25 <= elapsed < 2.0  # header_timeout, not keepalive_timeout
    assert any(
        r.get("message") == "http request headers timed out: 408, connection closed" for r in json_logs()
    )


async def test_header_timeout_does_not_cut_a_pipelined_request_behind_a_slow_handler(serve: Any) -> None:
    async with serve(make_service(header_timeout=0.2)) as running:
        first = b"GET /download HTTP/1.1\r\nHost: x\r\n\r\n"  # streams for about 2 s
        second = b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        answer = await exchange(running.port, first + second, within=10.0)
    assert answer.count(b"HTTP/1.1 200 ") == 2 and answer.endswith(b"ok")


async def test_header_timeout_does_not_close_an_idle_keep_alive_connection(serve: Any) -> None:
    async with serve(make_service(header_timeout=0.2)) as running:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        for _ in range(2):
            writer.write(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            assert (await asyncio.wait_for(reader.readuntil(b"ok"), 3.0)).startswith(b"HTTP/1.1 200 ")
            await asyncio.sleep(0.5)  # idle past header_timeout: keepalive_timeout applies now
        writer.close()


async def test_stalled_body_is_a_408_then_closed(serve: Any, json_logs: Any) -> None:
    async with serve(make_service(body_timeout=0.3)) as running:
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = await exchange(
            running.port, b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"a" * 10
        )
        elapsed = loop.time() - started
    assert answer.startswith(b"HTTP/1.1 408 ") and answer.endswith(b"custom 408"), answer
    assert b"Connection: close" in answer
    assert 0.25 <= elapsed < 2.0
    records = json_logs()
    assert not errors_and_tracebacks(records), errors_and_tracebacks(records)
    assert [r["status_code"] for r in access(records)] == [408]


async def test_trickling_body_is_not_a_stall(serve: Any) -> None:
    async with serve(make_service(body_timeout=0.4)) as running:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        writer.write(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nConnection: close\r\n\r\n")
        for _ in range(8):  # 0.8 s in all, a byte every 0.1 s
            writer.write(b"a")
            await writer.drain()
            await asyncio.sleep(0.1)
        answer = await asyncio.wait_for(reader.read(), 3.0)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"got 8 bytes")


async def test_graceful_stop_does_not_wait_for_a_stalled_upload(serve: Any) -> None:
    service = make_service(body_timeout=0.3, termination_grace_period_seconds=10)
    async with serve(service, stop=False) as running:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        writer.write(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        await writer.drain()
        await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await running.container.stop()
        elapsed = loop.time() - started
        answer = await asyncio.wait_for(reader.read(), 3.0)
        writer.close()
    assert elapsed < 2.0
    assert answer.startswith(b"HTTP/1.1 408 ")


# -- the request-body budget -------------------------------------------------------------------
async def test_bodies_over_the_in_flight_budget_are_a_503(serve: Any, json_logs: Any) -> None:
    async with serve(make_service(max_body_buffer=100_000)) as running:
        holder_reader, holder = await asyncio.open_connection("127.0.0.1", running.port)
        holder.write(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 80000\r\n\r\n" + b"a" * 100)
        await holder.drain()
        await asyncio.sleep(0.1)  # its handler runs, holding 80000 bytes of the budget
        # (the body is never sent: aiohttp lingers for it after the answer, as for a 413)
        refused = await exchange(
            running.port,
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 30000\r\n\r\n",
            until=b"custom 503",
        )
        small = await exchange(
            running.port,
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        )
        holder.write(b"a" * 79_900)
        await holder.drain()
        held = await asyncio.wait_for(holder_reader.readuntil(b"bytes"), 3.0)
        holder.close()
        # released: the same upload fits now
        again = await exchange(
            running.port,
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 30000\r\nConnection: close\r\n\r\n"
            + b"b" * 30000,
        )
    assert refused.startswith(b"HTTP/1.1 503 ") and refused.endswith(b"custom 503"), refused
    assert small.endswith(b"got 5 bytes")
    assert held.endswith(b"got 80000 bytes")
    assert again.endswith(b"got 30000 bytes")
    assert any(r.get("message") == "request body budget exhausted: 503" for r in json_logs())
    assert running.transport._state is not None and running.transport._state.budget is not None
    assert running.transport._state.budget.used == 0


# -- SystemExit / KeyboardInterrupt in a handler, through a real `tomodachi run` ----------------
EXITING = """
    import tomodachi


    class Exiting(tomodachi.Service):
        name = "exiting"
        options = tomodachi.Options(http={"port": 0})

        @tomodachi.http("GET", r"/exit/(?P<code>\\d+)")
        async def exit(self, code: str) -> str:
            raise SystemExit(int(code))

        @tomodachi.http("GET", r"/interrupt")
        async def interrupt(self) -> str:
            raise KeyboardInterrupt

        async def _stop_service(self) -> None:
            print("stop hook ran", flush=True)
"""


@pytest.mark.parametrize("path, code", [("/exit/4", 4), ("/exit/0", 0), ("/interrupt", 0)])
def test_system_exit_in_a_handler_stops_gracefully(spawn: Any, write: Any, path: str, code: int) -> None:
    write("app.py", EXITING)
    process = spawn("run", "--production", "app.py")
    line = process.wait_for_stderr("accepting http requests")
    port = int(re.search(r"listen_port=(\d+)", line).group(1))  # type: ignore[union-attr]
    process.wait_for_stderr("started service successfully")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)
    answer.value.close()
    assert answer.value.code == 503
    assert process.wait() == code, process.stderr
    assert "stop hook ran" in process.stdout
    assert "raised in handler: stopping the service" in process.stderr
    assert "Traceback" not in process.stderr


async def test_system_exit_in_an_http_error_handler_stops_the_run_gracefully() -> None:
    from tomodachi.testing import run_services

    class ErrorExit(tomodachi.Service):
        name = "error-exit"

        @tomodachi.http("GET", r"/ok")
        async def ok(self) -> str:
            return "ok"

        @tomodachi.http_error(404)
        async def not_found(self) -> str:
            raise SystemExit(3)

    async with run_services(ErrorExit) as app:
        async with app.client() as client, client.get("/missing") as response:
            assert response.status == 503
        assert await app.wait_for_exit(timeout=5) == 3


async def test_system_exit_in_a_websocket_callback_stops_the_run_gracefully() -> None:
    import aiohttp

    from tomodachi.testing import run_services

    class SocketExit(tomodachi.Service):
        name = "socket-exit"

        @tomodachi.websocket(r"/ws")
        async def ws(self, websocket: Any) -> Any:
            async def receive(data: Any) -> None:
                raise SystemExit(5)

            return receive

    async with run_services(SocketExit) as app:
        async with aiohttp.ClientSession() as client, client.ws_connect(app.url("/ws")) as socket:
            await socket.send_str("stop")
            message = await socket.receive(timeout=5)
            assert message.type is aiohttp.WSMsgType.CLOSE
            assert message.data == aiohttp.WSCloseCode.GOING_AWAY
        assert await app.wait_for_exit(timeout=5) == 5

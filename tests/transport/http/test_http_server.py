"""Server behaviour: ports, headers, keep-alive, body limits, real IP and the access log."""

from __future__ import annotations

import io
import json
from base64 import b64encode
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import tomodachi
from tomodachi.container import StartupError
from tomodachi.transport.http import get_forwarded_remote_ip

ACCESS_KEYS = [
    "status_code",
    "remote_ip",
    "request_method",
    "request_path",
    "http_version",
    "response_content_length",
    "user_agent",
    "handler_elapsed_time",
    "request_time",
]


def make_service(**http: Any) -> type[tomodachi.Service]:
    class Service(tomodachi.Service):
        name = "server"
        options = tomodachi.Options(http={"port": 0, **http})

        @tomodachi.http("GET", r"/")
        async def index(self) -> str:
            return "index"

        @tomodachi.http("POST", r"/upload")
        async def upload(self, request: web.BaseRequest) -> str:
            return f"got {len(await request.read())} bytes"

        @tomodachi.http("GET", r"/ip")
        async def ip(self, request: web.BaseRequest) -> str:
            return get_forwarded_remote_ip(request)

        @tomodachi.http("POST", r"/created")
        async def created(self, request: web.BaseRequest) -> Any:
            await request.read()
            return 201, "created!"

        @tomodachi.http("GET", r"/quiet", ignore_logging=True)
        async def quiet(self) -> str:
            return "quiet"

        @tomodachi.http("GET", r"/quiet-(?P<status>\d+)", ignore_logging=[201, 204])
        async def quiet_some(self, status: str) -> Any:
            return int(status), ""

        @tomodachi.http("GET", r"/empty")
        async def empty(self) -> Any:
            return 204, ""

        @tomodachi.http("GET", r"/streamed")
        async def streamed(self, request: web.BaseRequest) -> web.StreamResponse:
            response = web.StreamResponse()
            await response.prepare(request)
            await response.write(b"part one, ")
            await response.write(b"part two")
            return response

    return Service


async def test_random_port_is_published_and_ready(serve: Any) -> None:
    async with serve(make_service()) as r:
        assert r.port > 0
        assert r.transport.port == r.port
        assert r.service.context["_http_port"] == r.port
        assert r.transport.ready is True
        async with aiohttp.ClientSession() as client, client.get(r.url + "/") as response:
            assert await response.text() == "index"
    assert r.transport.ready is False


async def test_accepting_log_line(serve: Any, json_logs: Any) -> None:
    async with serve(make_service()) as r:
        pass
    line = next(x for x in json_logs() if x["message"] == "accepting http requests")
    assert line["listen_url"] == f"http://localhost:{r.port}/"
    assert (line["listen_host"], line["listen_port"]) == ("localhost", r.port)


async def test_port_in_use_is_a_start_error(serve: Any, json_logs: Any) -> None:
    async with serve(make_service()) as first:
        with pytest.raises(StartupError) as info:
            # reuse_port is off by default: a second copy on the same port is an error.
            async with serve(make_service(port=first.port)):
                pass
        message = str(info.value)
        assert f"unable to bind service [http] to http://localhost:{first.port}/" in message
        assert "(" in message and "\n" not in message
        # The first service is unaffected.
        async with aiohttp.ClientSession() as client, client.get(first.url + "/") as response:
            assert response.status == 200


async def test_server_header_and_keep_alive(serve: Any, client: aiohttp.ClientSession) -> None:
    async with serve(make_service(server_header="my-server")) as r:
        async with client.get(r.url + "/") as response:
            assert response.headers["Server"] == "my-server"
            assert response.headers.get("Connection", "").lower() != "close"


async def test_keepalive_off_sends_connection_close(serve: Any, client: aiohttp.ClientSession) -> None:
    async with serve(make_service(keepalive_timeout=0)) as r:
        for path in ("/", "/missing"):
            async with client.get(r.url + path) as response:
                assert response.headers["Connection"] == "close"


async def test_max_keepalive_requests_rotates_the_connection(serve: Any) -> None:
    async with serve(make_service(max_keepalive_requests=2)) as r:
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as client:
            seen = []
            for _ in range(4):
                async with client.get(r.url + "/") as response:
                    seen.append(response.headers.get("Connection", "keep-alive").lower())
            assert seen == ["keep-alive", "close", "keep-alive", "close"]


async def test_max_keepalive_time_rotates_the_connection(serve: Any) -> None:
    async with serve(make_service(max_keepalive_time=0.05)) as r:
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as client:
            async with client.get(r.url + "/") as response:
                assert response.headers.get("Connection", "").lower() != "close"
            import asyncio

            await asyncio.sleep(0.06)
            async with client.get(r.url + "/") as response:
                assert response.headers["Connection"] == "close"


async def _chunks(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // 1000):
        yield b"x" * 1000


async def test_client_max_size_413_then_service_still_answers(
    serve: Any, client: aiohttp.ClientSession
) -> None:
    async with serve(make_service(client_max_size=2048)) as r:
        async with client.post(r.url + "/upload", data=b"x" * 1000) as response:
            assert (response.status, await response.text()) == (200, "got 1000 bytes")
        async with client.post(r.url + "/upload", data=b"x" * 5000) as response:
            assert response.status == 413
            assert response.headers["Connection"] == "close"
        # Without Content-Length (chunked), the limit applies while reading.
        async with client.post(r.url + "/upload", data=_chunks(10_000)) as response:
            assert response.status == 413
        async with client.get(r.url + "/") as response:
            assert (response.status, await response.text()) == (200, "index")


async def test_large_bodies_within_the_default_limit(serve: Any, client: aiohttp.ClientSession) -> None:
    async with serve(make_service()) as r:
        async with client.post(r.url + "/upload", data=io.BytesIO(b"y" * 3_000_000)) as response:
            assert (response.status, await response.text()) == (200, "got 3000000 bytes")


async def test_real_ip_from_trusted_proxy(serve: Any, client: aiohttp.ClientSession) -> None:
    headers = {"X-Forwarded-For": "10.1.2.3, 192.168.0.1"}
    async with serve(make_service(real_ip_from=["127.0.0.0/8"])) as r:
        async with client.get(r.url + "/ip", headers=headers) as response:
            assert await response.text() == "10.1.2.3"
        async with client.get(r.url + "/ip") as response:
            assert await response.text() == "127.0.0.1"
    async with serve(make_service(real_ip_from=["10.0.0.0/8"])) as r:
        async with client.get(r.url + "/ip", headers=headers) as response:
            assert await response.text() == "127.0.0.1"
    async with serve(make_service(real_ip_from="127.0.0.1", real_ip_header="X-Real-IP")) as r:
        async with client.get(r.url + "/ip", headers={"X-Real-IP": "8.8.8.8", **headers}) as response:
            assert await response.text() == "8.8.8.8"
    async with serve(make_service()) as r:
        async with client.get(r.url + "/ip", headers=headers) as response:
            assert await response.text() == "127.0.0.1"


async def test_access_log_masks_secret_query_parameters(
    serve: Any, json_logs: Any, client: aiohttp.ClientSession
) -> None:
    query = "user=ann&access_token=SECRETtoken&API_KEY=SECRETapikey&key=SECRETkey&monkey=banana"
    query += "&X-Amz-Signature=SECRETsig&code=SECRETcode&country_code=SE"
    async with serve(make_service()) as r:
        async with client.get(r.url + "/?" + query) as response:
            await response.read()
    [line] = access_lines(json_logs())
    logged = line["request_query_string"]
    assert logged == (
        "user=ann&access_token=***&API_KEY=***&key=***&monkey=banana&X-Amz-Signature=***&code=***&country_code=SE"
    )
    assert "SECRET" not in str(json_logs())


def access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "tomodachi.http.response"]


async def test_access_log_lines(serve: Any, json_logs: Any, client: aiohttp.ClientSession) -> None:
    async with serve(make_service(real_ip_from=["127.0.0.1"])) as r:
        async with client.get(r.url + "/?a=1", headers={"User-Agent": "test-agent"}) as response:
            await response.read()
        async with client.post(
            r.url + "/created",
            data=b"0123456789",
            headers={
                "X-Forwarded-For": "1.2.3.4",
                "Authorization": "Basic " + b64encode(b"someone:pw").decode(),
            },
        ) as response:
            await response.read()
    first, second = access_lines(json_logs())
    assert list(first)[:4] == ["timestamp", "logger", "level", "message"]
    assert first["message"] == "" and first["level"] == "info"
    assert [k for k in first if k in ACCESS_KEYS] == ACCESS_KEYS
    assert first["status_code"] == 200
    assert first["request_path"] == "/"
    assert first["request_query_string"] == "a=1"
    assert first["http_version"] == "HTTP/1.1"
    assert first["response_content_length"] == 5
    assert first["user_agent"] == "test-agent"
    assert first["request_time"].endswith("s") and float(first["request_time"][:-1]) >= 0
    assert float(first["handler_elapsed_time"][:-1]) <= float(first["request_time"][:-1])
    assert second["status_code"] == 201
    assert second["remote_ip"] == "1.2.3.4"
    assert second["auth_user"] == "someone"
    assert second["request_content_length"] == 10
    keys = list(second)
    assert (
        keys.index("response_content_length")
        < keys.index("request_content_length")
        < keys.index("user_agent")
    )


async def test_response_content_length_is_the_content_length_sent(
    serve: Any, json_logs: Any, client: aiohttp.ClientSession
) -> None:
    async with serve(make_service()) as r:
        for method, path in (("GET", "/"), ("HEAD", "/"), ("GET", "/empty"), ("GET", "/streamed")):
            async with client.request(method, r.url + path) as response:
                await response.read()
                sent = response.headers.get("Content-Length")
                assert (path, sent is None) == (path, path in ("/empty", "/streamed"))
    lines = access_lines(json_logs())
    assert [(line["request_method"], line["response_content_length"]) for line in lines] == [
        ("GET", 5),
        ("HEAD", 5),  # the length of the body a GET would get, as sent in the header
        ("GET", None),  # 204: no Content-Length is sent
        ("GET", None),  # streamed (chunked)
    ]


async def test_ignore_logging(serve: Any, json_logs: Any, client: aiohttp.ClientSession) -> None:
    async with serve(make_service()) as r:
        for path in ("/quiet", "/quiet-201", "/quiet-204", "/quiet-202", "/"):
            async with client.get(r.url + path) as response:
                await response.read()
    paths = [line["request_path"] for line in access_lines(json_logs())]
    assert paths == ["/quiet-202", "/"]


async def test_access_log_off(serve: Any, json_logs: Any, client: aiohttp.ClientSession) -> None:
    async with serve(make_service(access_log=False)) as r:
        async with client.get(r.url + "/") as response:
            await response.read()
    assert access_lines(json_logs()) == []


async def test_access_log_file_gets_json_lines(
    serve: Any, tmp_path: Path, client: aiohttp.ClientSession
) -> None:
    path = tmp_path / "access.log"
    path.write_text('{"existing": "line"}\n')
    async with serve(make_service(access_log=str(path))) as r:
        for p in ("/", "/quiet", "/missing"):
            async with client.get(r.url + p) as response:
                await response.read()
        async with client.post(r.url + "/created", data=b"0123456789") as response:
            await response.read()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0] == {"existing": "line"}
    records = lines[1:]
    assert [x["status_code"] for x in records] == [200, 404, 201]
    assert all(x["logger"] == "tomodachi.http.response" for x in records)
    assert records[2]["request_content_length"] == 10
    assert [k for k in records[2] if k in ACCESS_KEYS] == ACCESS_KEYS

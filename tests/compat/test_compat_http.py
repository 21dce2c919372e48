"""An original-style HTTP service (http_service.py) run by ``tomodachi run``, driven over real sockets."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.compat._compat_support import LiveService, run


@pytest.fixture(scope="module")
def http_service() -> Iterator[tuple[LiveService, str]]:
    service = LiveService.start("http_service.py")
    try:
        [event] = service.wait_event("port")
        yield service, f"http://127.0.0.1:{event['port']}"
    finally:
        service.stop()
        service.process.kill()


@pytest.fixture
def base(http_service: tuple[LiveService, str]) -> str:
    return http_service[1]


async def fetch(method: str, url: str, **kwargs: Any) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.request(method, url, **kwargs) as response:
        return response.status, await response.text(), dict(response.headers)


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/test", 200, "test"),
        ("/test/", 200, "test"),
        ("/test/123", 200, "test 123"),
        ("/order/B/A", 200, "a=A b=B"),  # named groups by name, whatever their order
        ("/dict", 200, "test dict"),
        ("/tuple", 200, "test tuple"),
        ("/list", 201, "test list"),  # a list is treated like a tuple
        ("/aiohttp", 200, "test aiohttp"),
        ("/response", 200, "test tomodachi response"),
        ("/empty-data", 200, ""),
        ("/none-data", 200, ""),
        ("/byte-data", 200, "test åäö"),
        ("/x/4711", 200, "/x/4711 4711 "),  # stacked routes, defaults for missing groups
        ("/ytest/0", 200, "/ytest/0 test 0"),
        ("/z", 200, "/z  "),
        ("/no-request", 200, "no request"),
        ("/keyword-request", 200, "keyword request /keyword-request"),
        ("/sync", 200, "sync"),
        ("/quiet", 200, "quiet"),
        ("/service-lookup", 200, "same instance: True, instance: True"),
        ("/static/hello.txt", 200, "hello from static\n"),  # relative to the service file
    ],
)
async def test_routes_and_return_values(base: str, path: str, status: int, body: str) -> None:
    got_status, got_body, _ = await fetch("GET", base + path)
    assert (got_status, got_body) == (status, body)


async def test_headers_from_return_values(base: str) -> None:
    assert (await fetch("GET", base + "/dict"))[2]["X-Dict"] == "test"
    assert (await fetch("GET", base + "/tuple"))[2]["X-Tuple"] == "test"
    assert (await fetch("GET", base + "/list"))[2]["X-List"] == "test"
    assert (await fetch("GET", base + "/aiohttp"))[2]["X-Aiohttp"] == "test"
    assert (await fetch("GET", base + "/response"))[2]["X-Tomodachi-Response"] == "test"
    status, body, headers = await fetch("GET", base + "/dict-without-body")
    assert (status, body, headers["X-Dict"]) == (202, "", "no body")  # no JSON serialisation of dicts
    status, body, headers = await fetch("GET", base + "/charset")
    assert (status, body) == (200, "test åäö") and "iso-8859-1" in headers["Content-Type"]
    assert (await fetch("GET", base + "/test"))[2]["Server"] == "tomodachi"


async def test_error_handlers(base: str) -> None:
    assert (await fetch("GET", base + "/not-a-route"))[:2] == (404, "not found 404")
    assert (await fetch("GET", base + "/exception"))[:2] == (500, "error 500")
    # docs/http.md: a raised HTTPException keeps its text (the original answered "Bad Request")
    assert (await fetch("GET", base + "/bad-request"))[:2] == (400, "bad input")
    assert (await fetch("DELETE", base + "/test"))[0] == 405


async def test_methods_head_and_pre_handler(base: str) -> None:
    assert (await fetch("POST", base + "/body", data="abc"))[:2] == (200, "POST abc")
    assert (await fetch("PUT", base + "/body", data="def"))[:2] == (200, "PUT def")
    status, body, _ = await fetch("HEAD", base + "/test")
    assert (status, body) == (200, "")
    first = (await fetch("GET", base + "/pre-handler"))[1]
    second = (await fetch("GET", base + "/pre-handler"))[1]
    assert int(second.rsplit(" ", 1)[1]) == int(first.rsplit(" ", 1)[1]) + 1 >= 2


async def test_forwarded_ip_from_a_trusted_proxy(base: str) -> None:
    status, body, _ = await fetch(
        "GET", base + "/forwarded-for", headers={"X-Forwarded-For": "10.1.2.3, 127.0.0.1"}
    )
    assert (status, body) == (200, "10.1.2.3")


async def test_websockets(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(base.replace("http", "ws") + "/websocket") as socket:
            await socket.send_str("hello")
            assert (await socket.receive()).data == "echo hello"
        async with session.ws_connect(base.replace("http", "ws") + "/ws/lobby") as socket:
            assert (await socket.receive()).data == "room lobby /ws/lobby"


def test_ignore_logging_and_clean_stop(http_service: tuple[LiveService, str]) -> None:
    """Runs last in this module: SIGTERM stops the service with exit code 0 after _stop_service."""
    service, _ = http_service
    result = service.stop(signal.SIGTERM)
    assert result.returncode == 0, result.describe()
    assert result.has("stopped")
    assert result.has("websocket_closed") and result.event("websocket_closed")["messages"] == ["hello"]
    # the access log has the request lines, but none for the ignore_logging=True route (the
    # start-up list of handlers names the route: only the access log's lines count here)
    assert result.logged(r"tomodachi\.http\.response.*/test")
    assert not result.logged(r"tomodachi\.http\.response.*/quiet")


@pytest.fixture(scope="module")
def middleware_service() -> Iterator[dict[str, str]]:
    service = LiveService.start("http_middleware_service.py")
    try:
        events = service.wait_event("port", count=6)
        yield {e["service"]: f"http://127.0.0.1:{e['port']}" for e in events}
    finally:
        result = service.stop()
        service.process.kill()
        assert result.returncode == 0, result.describe()


async def test_readme_http_middleware(middleware_service: dict[str, str]) -> None:
    base = middleware_service["readme"]
    assert (await fetch("GET", base + "/example/17"))[:2] == (200, "id: 17")
    assert (await fetch("GET", base + "/kwargs"))[:2] == (200, "kwargs: []")
    assert (await fetch("GET", base + "/missing"))[:2] == (404, "error 404")


async def test_older_example_http_middleware_passing_args_on(middleware_service: dict[str, str]) -> None:
    assert (await fetch("GET", middleware_service["old_example"] + "/example"))[:2] == (200, "old example")


async def test_middleware_short_circuit_and_result_replacement(middleware_service: dict[str, str]) -> None:
    base = middleware_service["before_after"]
    assert (await fetch("GET", base + "/middleware-before"))[:2] == (200, "before")
    assert (await fetch("GET", base + "/middleware-after"))[:2] == (200, "after")
    assert (await fetch("GET", base + "/middleware-through"))[:2] == (200, "handler")


async def test_middleware_overrides_a_named_group(middleware_service: dict[str, str]) -> None:
    assert (await fetch("GET", middleware_service["override_group"] + "/item/1"))[:2] == (
        200,
        "id: overridden",
    )


async def test_bound_callable_sync_and_keyword_only_http_middlewares(
    middleware_service: dict[str, str],
) -> None:
    status, body, _ = await fetch("GET", middleware_service["objects"] + "/objects")
    assert (status, body) == (200, '[true, true, true, "/objects"]')


async def test_middleware_around_an_error_handler_gets_status_code(
    middleware_service: dict[str, str],
) -> None:
    status, body, _ = await fetch("GET", middleware_service["error_handler_middleware"] + "/nothing-here")
    assert (status, body) == (404, "error 404 (middleware saw 404)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_two_classes_on_one_port_with_reuse_port() -> None:
    result = await run(
        "same_port_service.py", env={"COMPAT_PORT": str(free_port()), "COMPAT_REUSE_PORT": "1"}
    )
    assert result.returncode == 0, result.describe()
    assert result.has("started")


async def test_two_classes_on_one_port_without_reuse_port_fail_to_start() -> None:
    """docs/compatibility.md: SO_REUSEPORT is opt-in; a port in use is reported, exit 1."""
    result = await run("same_port_service.py", env={"COMPAT_PORT": str(free_port())})
    assert result.returncode == 1, result.describe()
    assert result.logged(r"unable to bind service \[http\]") and result.logged(r"address already in use")

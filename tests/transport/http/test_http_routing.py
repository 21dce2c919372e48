"""Routing: regex URLs, named groups, stacked routes, HEAD, 404/405, error handlers, validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import tomodachi
from tomodachi.container import StartupError
from tomodachi.transport.http.routes import Router, normalise_url


class RoutesService(tomodachi.Service):
    name = "routes"
    options = tomodachi.Options(http={"port": 0})

    @tomodachi.http("GET", r"/exact")
    async def exact(self, request: web.BaseRequest) -> str:
        return "exact"

    @tomodachi.http("GET", r"^/anchored/?$")
    async def anchored(self, request: web.BaseRequest) -> str:
        return "anchored"

    @tomodachi.http("GET", r"/user/(?P<user_id>\d+)/post/(?P<post_id>[a-z]+)")
    async def post(self, request: web.BaseRequest, post_id: str, user_id: str) -> str:
        return f"user={user_id} post={post_id}"

    @tomodachi.http("GET", r"/group-first/(?P<id>[^/]+)")
    async def group_first(self, id: str) -> str:
        return f"id={id}"

    @tomodachi.http("GET", r"/optional(?:/(?P<page>\d+))?")
    async def optional(self, request: web.BaseRequest, page: str = "1") -> str:
        return f"page={page}"

    @tomodachi.http("GET", r"/same-response")
    @tomodachi.http("GET", r"/response")
    async def stacked(self, request: web.BaseRequest) -> str:
        return f"stacked:{request.path}"

    @tomodachi.http(["POST", "put"], r"/multi")
    async def multi(self, request: web.BaseRequest) -> str:
        return f"multi:{request.method}"

    @tomodachi.http("GET", r"/no-request")
    async def no_request(self) -> str:
        return "no request parameter"

    @tomodachi.http("GET", r"/renamed-request")
    async def renamed_request(self, req: web.BaseRequest) -> str:
        return f"renamed:{req.method}"

    @tomodachi.http("GET", r"/kwargs/(?P<a>\w+)")
    async def kwargs(self, request: web.BaseRequest, **kwargs: Any) -> str:
        return ",".join(sorted(kwargs))

    @tomodachi.http("GET", r"/crash")
    async def crash(self, request: web.BaseRequest) -> str:
        raise RuntimeError("secret internals")

    @tomodachi.http("GET", r"/teapot")
    async def teapot(self, request: web.BaseRequest) -> str:
        raise web.HTTPNotFound()

    @tomodachi.http("GET", r"/raise-404-with-text")
    async def raise_404_text(self, request: web.BaseRequest) -> str:
        raise web.HTTPNotFound(text="special")

    @tomodachi.http("GET", r"/.*")
    async def catch_all_get(self, request: web.BaseRequest) -> str:
        return "catch-all"


class ErrorHandlersService(tomodachi.Service):
    name = "error-handlers"
    options = tomodachi.Options(http={"port": 0})

    @tomodachi.http("GET", r"/ok")
    async def ok(self, request: web.BaseRequest) -> str:
        return "ok"

    @tomodachi.http("GET", r"/crash")
    async def crash(self, request: web.BaseRequest) -> str:
        raise ValueError("boom")

    @tomodachi.http("GET", r"/not-found")
    async def not_found(self, request: web.BaseRequest) -> str:
        raise web.HTTPNotFound()

    @tomodachi.http("GET", r"/forbidden")
    async def forbidden(self, request: web.BaseRequest) -> str:
        raise web.HTTPForbidden()

    @tomodachi.http_error(status_code=404)
    async def error_404(self, request: web.BaseRequest, status_code: int) -> Any:
        return f"custom {status_code} for {request.path}"

    @tomodachi.http_error(status_code=405)
    async def error_405(self, request: web.BaseRequest) -> Any:
        return {"body": "custom 405"}

    @tomodachi.http_error(500)
    async def error_500(self, request: web.BaseRequest) -> Any:
        return 500, "custom 500"

    @tomodachi.http_error(403)
    async def error_403(self, request: web.BaseRequest) -> Any:
        raise RuntimeError("the error handler itself fails")


async def get(client: aiohttp.ClientSession, url: str, method: str = "GET") -> tuple[int, str, Any]:
    async with client.request(method, url) as response:
        return response.status, await response.text(), response.headers


@pytest.fixture
async def routes(serve: Any) -> Any:
    async with serve(RoutesService) as r:
        yield r


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/exact", "exact"),
        ("/anchored", "anchored"),
        ("/anchored/", "anchored"),
        ("/user/42/post/abc", "user=42 post=abc"),
        ("/group-first/x1", "id=x1"),
        ("/optional", "page=1"),
        ("/optional/7", "page=7"),
        ("/same-response", "stacked:/same-response"),
        ("/response", "stacked:/response"),
        ("/no-request", "no request parameter"),
        ("/renamed-request", "renamed:GET"),
        ("/kwargs/x", "a"),
        ("/exact/more", "catch-all"),
        ("/user/abc/post/abc", "catch-all"),
    ],
)
async def test_routes_and_injection(
    routes: Any, client: aiohttp.ClientSession, path: str, expected: str
) -> None:
    status, body, _ = await get(client, routes.url + path)
    assert (status, body) == (200, expected)


async def test_multiple_methods_and_405_with_allow(routes: Any, client: aiohttp.ClientSession) -> None:
    assert (await get(client, routes.url + "/multi", "POST"))[:2] == (200, "multi:POST")
    status, body, _ = await get(client, routes.url + "/multi", "PUT")
    assert (status, body) == (200, "multi:PUT")
    status, _, headers = await get(client, routes.url + "/exact", "DELETE")
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"


async def test_head_is_answered_by_get_routes(routes: Any, client: aiohttp.ClientSession) -> None:
    async with client.head(routes.url + "/exact") as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == "5"
        assert await response.read() == b""


async def test_unknown_path_is_404_without_error_handler(serve: Any) -> None:
    class Small(tomodachi.Service):
        name = "small"
        options = tomodachi.Options(http={"port": 0})

        @tomodachi.http("GET", r"/only")
        async def only(self) -> str:
            return "only"

    async with serve(Small) as r, aiohttp.ClientSession() as client:
        status, body, headers = await get(client, r.url + "/other")
        assert (status, body) == (404, "404: Not Found")
        assert headers["Server"] == "tomodachi"


async def test_uncaught_exception_is_500_without_traceback_and_logged_once(
    serve: Any, json_logs: Any, client: aiohttp.ClientSession
) -> None:
    async with serve(RoutesService) as r:
        status, body, _ = await get(client, r.url + "/crash")
    assert status == 500
    assert "secret internals" not in body and "Traceback" not in body
    errors = [line for line in json_logs() if line["level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["logger"] == "tomodachi.http"
    assert errors[0]["message"] == "uncaught exception in handler"
    assert errors[0]["handler"] == "crash"
    assert "secret internals" in errors[0]["exc_message"]


async def test_raised_aiohttp_exceptions(routes: Any, client: aiohttp.ClientSession) -> None:
    assert (await get(client, routes.url + "/teapot"))[:2] == (404, "404: Not Found")
    assert (await get(client, routes.url + "/raise-404-with-text"))[:2] == (404, "special")


async def test_error_handlers(serve: Any, client: aiohttp.ClientSession, json_logs: Any) -> None:
    async with serve(ErrorHandlersService) as r:
        assert (await get(client, r.url + "/ok"))[:2] == (200, "ok")
        assert (await get(client, r.url + "/unknown"))[:2] == (404, "custom 404 for /unknown")
        assert (await get(client, r.url + "/not-found"))[:2] == (404, "custom 404 for /not-found")
        status, body, headers = await get(client, r.url + "/ok", "POST")
        assert (status, body) == (405, "custom 405")
        assert headers["Allow"] == "GET, HEAD"
        assert (await get(client, r.url + "/crash"))[:2] == (500, "custom 500")
        # The 403 handler raises: the 500 handler answers instead.
        assert (await get(client, r.url + "/forbidden"))[:2] == (500, "custom 500")
    errors = [line for line in json_logs() if line["level"] == "error"]
    assert [e["handler"] for e in errors] == ["crash", "error_403"]


async def test_failing_error_handlers_fall_back_to_a_bare_response(
    serve: Any, client: aiohttp.ClientSession
) -> None:
    class Fragile(tomodachi.Service):
        name = "fragile"
        options = tomodachi.Options(http={"port": 0})

        @tomodachi.http("GET", r"/crash")
        async def crash(self) -> str:
            raise ValueError("x")

        @tomodachi.http_error(404)
        async def error_404(self) -> str:
            raise ValueError("y")

        @tomodachi.http_error(500)
        async def error_500(self) -> str:
            raise ValueError("z")

    async with serve(Fragile) as r:
        assert (await get(client, r.url + "/nothing"))[:2] == (500, "500: Internal Server Error")
        assert (await get(client, r.url + "/crash"))[:2] == (500, "500: Internal Server Error")


@pytest.mark.parametrize(
    ("decorator", "fragment"),
    [
        (tomodachi.http("GET", r"/broken(["), "invalid URL pattern '/broken(['"),
        (tomodachi.http("GE T", r"/x"), "invalid HTTP method 'GE T'"),
        (tomodachi.http(42, r"/x"), "invalid HTTP method 42"),  # type: ignore[arg-type]  # invalid on purpose
        (tomodachi.http_error(99), "invalid status code 99"),
        (tomodachi.http_error("404"), "invalid status code '404'"),  # type: ignore[arg-type]  # on purpose
        (tomodachi.websocket(r"/ws(?P<"), "invalid URL pattern"),
        (tomodachi.http_static("/", r"/static/"), "serving the file system root is refused"),
        (tomodachi.http("GET", r"/x", ignore_logging="yes"), "invalid ignore_logging"),  # type: ignore[arg-type]
    ],
)
async def test_invalid_declarations_fail_setup_naming_handler(
    serve: Any, decorator: Callable[[Callable[..., Any]], Callable[..., Any]], fragment: str
) -> None:
    class Invalid(tomodachi.Service):
        name = "invalid"
        options = tomodachi.Options(http={"port": 0})

        @decorator
        async def the_handler(self) -> str:
            return "never"

    with pytest.raises(StartupError) as info:
        async with serve(Invalid):
            pass
    message = str(info.value)
    assert fragment in message
    assert "the_handler" in message
    assert "\n" not in message


async def test_duplicate_route_fails_setup(serve: Any) -> None:
    class Duplicate(tomodachi.Service):
        name = "duplicate"
        options = tomodachi.Options(http={"port": 0})

        @tomodachi.http("GET", r"/a")
        async def one(self) -> str:
            return "1"

        @tomodachi.http("GET", r"^/a$")
        async def two(self) -> str:
            return "2"

    with pytest.raises(StartupError, match="duplicate route"):
        async with serve(Duplicate):
            pass


def test_decorated_methods_stay_callable() -> None:
    class Plain(tomodachi.Service):
        @tomodachi.http("GET", r"/x")
        async def handler(self, request: Any) -> str:
            return f"called with {request}"

    import asyncio

    assert asyncio.run(Plain().handler("r")) == "called with r"


def test_router_unit() -> None:
    router: Router[str] = Router()
    router.add(["GET"], "/a", "exact-a")
    router.add(["POST"], r"/a", "post-a")
    router.add(["GET"], r"/items/(?P<id>\d+)", "item")
    router.add(["DELETE"], r"/.*", "delete-any")
    assert router.resolve("GET", "/a")[0] == "exact-a"
    assert router.resolve("HEAD", "/a")[0] == "exact-a"
    assert router.resolve("POST", "/a")[0] == "post-a"
    assert router.resolve("DELETE", "/a")[0] == "delete-any"
    endpoint, groups, _ = router.resolve("GET", "/items/12")
    assert (endpoint, dict(groups)) == ("item", {"id": "12"})
    assert router.resolve("GET", "/items/12\n")[0] is None
    endpoint, _, allowed = router.resolve("PUT", "/a")
    assert endpoint is None and allowed == {"GET", "HEAD", "POST", "DELETE"}
    assert router.resolve("GET", "/nothing") == (None, {}, frozenset({"DELETE"}))
    empty: Router[str] = Router()
    assert empty.resolve("GET", "/nothing") == (None, {}, frozenset())
    assert normalise_url("/x") == normalise_url("^/x$") == "^/x$"
    assert normalise_url(r"/price\$") == r"^/price\$$"

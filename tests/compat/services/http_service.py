"""An HTTP service in the original's style: legacy ``options`` dict with ``port: None`` (a free
port, found in ``self.context["_http_port"]``), every return convention, named groups, stacked
routes, error handlers, static files, websockets. The test talks to it and then stops it."""

import json
from typing import Any, Callable, Dict, Tuple

from aiohttp import web

import tomodachi
from tomodachi.transport.http import Response, http, http_error, http_static, websocket, ws


def report(event: str, **values: Any) -> None:
    print("COMPAT " + json.dumps({"event": event, **values}, default=repr), flush=True)


async def count_pre_handler(service: Any, request: web.Request) -> None:
    service.pre_handler_calls += 1


class HttpService(tomodachi.Service):
    name = "compat_http"
    options = {
        "http": {
            "port": None,
            "access_log": True,
            "real_ip_from": "127.0.0.1",
        }
    }
    uuid = None
    pre_handler_calls = 0
    websocket_messages = []

    @http("GET", r"/test/?")
    async def test(self, request: web.Request) -> str:
        return "test"

    @http("GET", r"/test/(?P<id>[^/]+?)/?")
    async def test_with_id(self, request: web.Request, id: str) -> str:
        return "test {}".format(id)

    @http("GET", r"/order/(?P<b>[^/]+)/(?P<a>[^/]+)/?")
    async def named_groups_in_any_order(self, request: web.Request, a: str, b: str) -> str:
        return "a={} b={}".format(a, b)

    @http(["GET"], r"/dict/?")
    async def test_dict(self, request: web.Request) -> Dict:
        return {"status": 200, "body": "test dict", "headers": {"X-Dict": "test"}}

    @http("GET", r"/dict-without-body/?")
    async def test_dict_without_body(self, request: web.Request) -> Dict:
        return {"status": 202, "headers": {"X-Dict": "no body"}}

    @http("GET", r"/tuple/?")
    async def test_tuple(self, request: web.Request) -> Tuple:
        return (200, "test tuple", {"X-Tuple": "test"})

    @http("GET", r"/list/?")
    async def test_list(self, request: web.Request) -> Any:
        return [201, "test list", {"X-List": "test"}]

    @http("GET", r"/aiohttp/?")
    async def test_aiohttp(self, request: web.Request) -> web.Response:
        return web.Response(body="test aiohttp", status=200, headers={"X-Aiohttp": "test"})

    @http("GET", r"/response/?")
    async def test_response_object(self, request: web.Request) -> Response:
        return Response(body="test tomodachi response", status=200, headers={"X-Tomodachi-Response": "test"})

    @http("GET", r"/charset/?")
    async def test_charset(self, request: web.Request) -> Response:
        return Response(
            body="test \xe5\xe4\xf6", status=200, headers={"Content-Type": "text/plain; charset=iso-8859-1"}
        )

    @http("GET", r"/exception/?")
    async def test_exception(self, request: web.Request) -> None:
        raise Exception("test")

    @http("GET", r"/bad-request/?")
    async def test_bad_request(self, request: web.Request) -> None:
        raise web.HTTPBadRequest(text="bad input")

    @http("GET", r"/empty-data/?")
    async def empty_data(self, request: web.Request) -> str:
        return ""

    @http("GET", r"/byte-data/?")
    async def byte_data(self, request: web.Request) -> bytes:
        return b"test \xc3\xa5\xc3\xa4\xc3\xb6"

    @http("GET", r"/none-data/?")
    async def none_data(self, request: web.Request) -> None:
        return None

    @http("GET", r"/forwarded-for/?")
    async def forwarded_for(self, request: web.Request) -> str:
        return tomodachi.get_forwarded_remote_ip(request)

    @http("GET", r"/x/(?P<value1>[^/]+)/?")
    @http("GET", r"/y(?P<value1>[^/]+)/(?P<value2>[^/]+)/?")
    @http("GET", r"/z/?")
    async def multi_http_request_handler(
        self, request: web.Request, value1: str = "", value2: str = ""
    ) -> str:
        return "{} {} {}".format(request.path, value1, value2)

    @http("GET", r"/no-request/?")
    async def no_request(self) -> str:
        return "no request"

    @http("GET", r"/keyword-request/?")
    async def keyword_request(self, *, request: web.Request) -> str:
        return "keyword request {}".format(request.path)

    @http("GET", r"/sync/?")
    def sync_handler(self, request: web.Request) -> str:
        return "sync"

    @http(["POST", "PUT"], r"/body/?")
    async def body(self, request: web.Request) -> str:
        return "{} {}".format(request.method, await request.text())

    @http("GET", r"/pre-handler/?", pre_handler_func=count_pre_handler)
    async def with_pre_handler(self, request: web.Request) -> str:
        return "pre handler calls: {}".format(self.pre_handler_calls)

    @http("GET", r"/quiet/?", ignore_logging=True)
    async def quiet(self, request: web.Request) -> str:
        return "quiet"

    @http("GET", r"/service-lookup/?")
    async def service_lookup(self, request: web.Request) -> str:
        same = tomodachi.get_service() is self and tomodachi.get_service("compat_http") is self
        return "same instance: {}, instance: {}".format(same, tomodachi.get_instance("compat_http") is self)

    @http_static("static/", r"/static/")
    async def static_files(self) -> None:
        pass

    @websocket(r"/websocket/?")
    async def websocket_handler(self, websocket: web.WebSocketResponse) -> Tuple[Callable, Callable]:
        async def _receive(data: Any) -> None:
            self.websocket_messages.append(data)
            await websocket.send_str("echo {}".format(data))

        async def _close() -> None:
            report("websocket_closed", messages=self.websocket_messages)

        return _receive, _close

    @ws(r"/ws/(?P<room>[^/]+)/?")
    async def ws_alias(self, websocket: web.WebSocketResponse, request: web.Request, room: str) -> None:
        await websocket.send_str("room {} {}".format(room, request.path))

    @http_error(status_code=404)
    async def error_404(self, request: web.Request, status_code: int) -> str:
        return "not found {}".format(status_code)

    @http_error(status_code=500)
    async def error_500(self, request: web.Request, **kwargs: Any) -> str:
        return "error 500"

    async def _started_service(self) -> None:
        report("port", port=self.context["_http_port"])

    async def _stop_service(self) -> None:
        report("stopped")

"""The HTTP transport: decorators, response helpers and the server (aiohttp's low-level server).

Handlers receive an ``aiohttp.web.BaseRequest``. Named URL groups are passed as keyword
arguments; ``request.match_info`` is not available (there is no aiohttp ``Application``).
"""

from __future__ import annotations

from aiohttp.web import BaseRequest as Request

from tomodachi.transport.http.declaration import HttpErrorRoute, HttpRoute, HttpStaticRoute, WebSocketRoute
from tomodachi.transport.http.decorators import http, http_error, http_static, websocket, ws
from tomodachi.transport.http.handler import BodyTimeoutError
from tomodachi.transport.http.mount import mount
from tomodachi.transport.http.real_ip import get_forwarded_remote_ip
from tomodachi.transport.http.request_handler import RequestHandler
from tomodachi.transport.http.responses import (
    HttpException,
    Response,
    get_http_response_status,
    get_http_response_status_sync,
    resolve_response,
    resolve_response_sync,
)
from tomodachi.transport.http.transport import HttpTransport

HttpResponse = Response

__all__ = [
    "BodyTimeoutError",
    "HttpErrorRoute",
    "HttpException",
    "HttpResponse",
    "HttpRoute",
    "HttpStaticRoute",
    "HttpTransport",
    "Request",
    "RequestHandler",
    "Response",
    "WebSocketRoute",
    "get_forwarded_remote_ip",
    "get_http_response_status",
    "get_http_response_status_sync",
    "http",
    "http_error",
    "http_static",
    "mount",
    "resolve_response",
    "resolve_response_sync",
    "websocket",
    "ws",
]

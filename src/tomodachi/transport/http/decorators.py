"""The HTTP decorators. They only declare: nothing is validated or bound until the service starts.

``url`` (and ``base_url``) are regular expressions matched against the whole request path
(normalised to ``^...$``). Named groups (``(?P<id>[^/]+)``) are passed to the handler as keyword
arguments (``request.match_info`` is not available: requests are ``aiohttp.web.BaseRequest``
objects served by aiohttp's low-level server, without an ``Application`` router). Invalid values
are reported when the service is set up, naming the handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tomodachi._keywords import suggest_keywords
from tomodachi.transport.http.declaration import HttpErrorRoute, HttpRoute, HttpStaticRoute, WebSocketRoute
from tomodachi.transport.http.transport import HttpTransport

__all__ = ["http", "http_error", "http_static", "websocket", "ws"]

F = TypeVar("F", bound=Callable[..., Any])


@suggest_keywords
def http(
    method: str | list[str] | tuple[str, ...],
    url: str,
    *,
    ignore_logging: bool | list[int] | tuple[int, ...] = False,
    pre_handler_func: Callable[..., Any] | None = None,
    custom_method: bool = False,
) -> Callable[[F], F]:
    """Route requests with *method* (or any of a list of methods) on the regex *url* to the handler.

    ``GET`` routes also answer ``HEAD``. ``ignore_logging=True`` leaves the requests out of the
    access log; a list of status codes leaves out only responses with those statuses.
    ``pre_handler_func(service, request)`` is called (and awaited) before the handler.
    A method that is not a standard one (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE,
    CONNECT or a WebDAV method) is a start-up error ("did you mean 'GET'?") unless
    ``custom_method=True`` declares it on purpose (``@http("PURGE", r"/cache", custom_method=True)``).
    """
    return HttpTransport.decorator(HttpRoute(method, url, ignore_logging, pre_handler_func, custom_method))


@suggest_keywords
def http_error(status_code: int) -> Callable[[F], F]:
    """Answer errors with *status_code* (e.g. 404 for unknown URLs, 500 for handler errors)."""
    return HttpTransport.decorator(HttpErrorRoute(status_code))


@suggest_keywords
def http_static(
    path: str, base_url: str, *, ignore_logging: bool | list[int] | tuple[int, ...] = False
) -> Callable[[F], F]:
    """Serve the files of directory *path* below the regex *base_url* (see :mod:`.static`)."""
    return HttpTransport.decorator(HttpStaticRoute(path, base_url, ignore_logging))


@suggest_keywords
def websocket(url: str) -> Callable[[F], F]:
    """Accept websocket connections on the regex *url* (see :mod:`.websocket`)."""
    return HttpTransport.decorator(WebSocketRoute(url))


ws = websocket

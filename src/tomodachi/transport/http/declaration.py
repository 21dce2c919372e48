"""The declarations the HTTP decorators attach to a handler: one frozen dataclass per kind.

Values are kept as given; they are validated when the service is set up
(:mod:`.route_builder`), where a mistake can name the handler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["HttpDeclaration", "HttpErrorRoute", "HttpRoute", "HttpStaticRoute", "WebSocketRoute"]

#: ``ignore_logging``: ``True`` leaves every request out of the access log, a list of status
#: codes only the responses with those statuses.
IgnoreLogging = bool | list[int] | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class HttpRoute:
    """``@tomodachi.http(method, url)``: requests with *method* on the regex *url*."""

    method: Any  # a method name or a list of them
    url: Any  # a regex matched against the whole path
    ignore_logging: IgnoreLogging = False
    pre_handler_func: Callable[..., Any] | None = None
    custom_method: bool = False  # methods outside STANDARD_METHODS are meant (not typos)


@dataclass(frozen=True, slots=True)
class HttpErrorRoute:
    """``@tomodachi.http_error(status_code)``: the response for an error status."""

    status_code: Any


@dataclass(frozen=True, slots=True)
class HttpStaticRoute:
    """``@tomodachi.http_static(path, base_url)``: the files of directory *path*."""

    path: Any
    base_url: Any
    ignore_logging: IgnoreLogging = False


@dataclass(frozen=True, slots=True)
class WebSocketRoute:
    """``@tomodachi.websocket(url)``: websocket connections on the regex *url*."""

    url: Any


HttpDeclaration = HttpRoute | HttpErrorRoute | HttpStaticRoute | WebSocketRoute

"""Set-up of the routes: each declaration (and each mount) validated once, compiled into an endpoint.

Every mistake in a declaration (a bad method, URL regex or status code, a missing static
directory) raises :class:`~tomodachi.errors.ConfigurationError` naming the handler and the
value, which the runner shows as one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tomodachi._keywords import nearest
from tomodachi.errors import ConfigurationError
from tomodachi.transport.base import Handler
from tomodachi.transport.http.declaration import (
    HttpErrorRoute,
    HttpRoute,
    HttpStaticRoute,
    IgnoreLogging,
    WebSocketRoute,
)
from tomodachi.transport.http.handler import Endpoint, ErrorEndpoint, HttpEndpoint, HttpState
from tomodachi.transport.http.routes import Router, compile_url
from tomodachi.transport.http.static import StaticEndpoint, static_root, static_url_pattern
from tomodachi.transport.http.websocket import WebSocketEndpoint

__all__ = ["STANDARD_METHODS", "add_mount", "build_routes"]

# RFC 9110 token characters; methods are case-sensitive, we upper-case them like the original.
_METHOD = re.compile(r"^[A-Z0-9!#$%&'*+.^_`|~-]+$")

_Middlewares = Sequence[Callable[..., Any]]


#: Methods an ``@http`` route may use without ``custom_method=True``: RFC 9110 and RFC 5789
#: (PATCH), and WebDAV's (RFC 4918, 3253, 5323).
STANDARD_METHODS = frozenset(
    {
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT",
        "CHECKOUT", "CHECKIN", "MERGE", "SEARCH", "MKACTIVITY", "VERSION-CONTROL", "UNCHECKOUT",
    }
)  # fmt: skip
_COMMON_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _unknown_method(name: str, method: str) -> ConfigurationError:
    close = nearest(method, _COMMON_METHODS) or nearest(method, STANDARD_METHODS)
    hint = f"did you mean {close!r}? " if close else ""
    return ConfigurationError(
        f"unknown HTTP method {method!r} for handler {name!r}: {hint}"
        f"(a custom method is declared with @tomodachi.http({method!r}, ..., custom_method=True))"
    )


def _methods(name: str, method: Any, custom: bool = False) -> list[str]:
    items = [method] if isinstance(method, str) else method
    if not isinstance(items, (list, tuple)) or not items:
        raise ConfigurationError(
            f"invalid HTTP method {method!r} for handler {name!r}: expected a method name or a list of them"
        )
    result: list[str] = []
    for item in items:
        upper = item.strip().upper() if isinstance(item, str) else None
        if not upper or not _METHOD.match(upper):
            raise ConfigurationError(f"invalid HTTP method {item!r} for handler {name!r}")
        if not custom and upper not in STANDARD_METHODS:
            raise _unknown_method(name, upper)
        if upper not in result:
            result.append(upper)
    return result


def _url(name: str, url: Any, what: str = "URL pattern") -> re.Pattern[str]:
    if not isinstance(url, str):
        raise ConfigurationError(f"invalid {what} {url!r} for handler {name!r}: expected a str (a regex)")
    try:
        return compile_url(url)
    except re.error as exc:
        raise ConfigurationError(f"invalid {what} {url!r} for handler {name!r}: {exc}") from None


def _ignore_logging(name: str, value: Any) -> IgnoreLogging:
    if isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple, set, frozenset)) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return tuple(value)
    raise ConfigurationError(
        f"invalid ignore_logging {value!r} for handler {name!r}: expected a bool or a list of status codes"
    )


def _status(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise ConfigurationError(
            f"invalid status code {value!r} for http_error handler {name!r}: expected an int 100-599"
        )
    return value


def _add(router: Router[Endpoint], name: str, methods: Iterable[str], url: str, endpoint: Endpoint) -> None:
    try:
        router.add(methods, url, endpoint)
    except ValueError as exc:
        raise ConfigurationError(f"{exc} (handler {name!r})") from None


def _http_route(
    name: str,
    func: Callable[..., Any],
    route: HttpRoute,
    state: HttpState,
    router: Router[Endpoint],
    middlewares: _Middlewares,
) -> None:
    methods = _methods(name, route.method, route.custom_method is True)
    pattern = _url(name, route.url)
    pre = route.pre_handler_func
    if pre is not None and not callable(pre):
        raise ConfigurationError(
            f"invalid pre_handler_func {pre!r} for handler {name!r}: expected a callable"
        )
    endpoint = HttpEndpoint(
        state,
        name,
        func,
        list(pattern.groupindex),
        middlewares,
        ignore_logging=_ignore_logging(name, route.ignore_logging),
        pre_handler_func=pre,
    )
    _add(router, name, methods, route.url, endpoint)


def _error_route(
    name: str, func: Callable[..., Any], route: HttpErrorRoute, state: HttpState, middlewares: _Middlewares
) -> None:
    status = _status(name, route.status_code)
    if status in state.errors.handlers:
        raise ConfigurationError(f"duplicate http_error handler for status {status} (handler {name!r})")
    state.errors.handlers[status] = ErrorEndpoint(state, name, func, status, middlewares)


def _static_route(
    name: str, route: HttpStaticRoute, state: HttpState, router: Router[Endpoint], service_file: str | None
) -> None:
    path, base_url = route.path, route.base_url
    if not isinstance(path, str):
        raise ConfigurationError(f"invalid path {path!r} for http_static handler {name!r}: expected a str")
    url = static_url_pattern(base_url) if isinstance(base_url, str) else base_url
    pattern = _url(name, url, "base_url")
    if "filename" not in pattern.groupindex:  # pragma: no cover - static_url_pattern adds it
        raise ConfigurationError(f"invalid base_url {base_url!r} for handler {name!r}: no filename group")
    endpoint = StaticEndpoint(
        state,
        name,
        static_root(path, service_file),
        ignore_logging=_ignore_logging(name, route.ignore_logging),
    )
    _add(router, name, ("GET",), url, endpoint)


def _websocket_route(
    name: str, func: Callable[..., Any], route: WebSocketRoute, state: HttpState, router: Router[Endpoint]
) -> None:
    pattern = _url(name, route.url)
    _add(router, name, ("GET",), route.url, WebSocketEndpoint(state, name, func, list(pattern.groupindex)))


def build_routes(
    handlers: Sequence[Handler],
    state: HttpState,
    router: Router[Endpoint],
    middlewares: Sequence[Callable[..., Any]],
    service_file: str | None,
) -> None:
    """Validate the declarations of *handlers* and register their endpoints."""
    for handler in handlers:
        name, func = handler.name, handler.func
        declaration = handler.args[0] if len(handler.args) == 1 else None
        if isinstance(declaration, HttpRoute):
            _http_route(name, func, declaration, state, router, middlewares)
        elif isinstance(declaration, HttpErrorRoute):
            _error_route(name, func, declaration, state, middlewares)
        elif isinstance(declaration, HttpStaticRoute):
            _static_route(name, declaration, state, router, service_file)
        elif isinstance(declaration, WebSocketRoute):
            _websocket_route(name, func, declaration, state, router)
        else:
            raise ConfigurationError(f"unknown http declaration {handler.args!r} on handler {name!r}")


def add_mount(
    name: str, func: Callable[..., Any], route: HttpRoute, state: HttpState, router: Router[Endpoint]
) -> None:
    """Register an endpoint mounted by another transport: an ``@http`` route without the
    service's ``http_middleware`` (that wraps the service's own handlers)."""
    _http_route(name, func, route, state, router, ())

"""Setup of the HTTP transport: the ``http.*`` options and the declarations, validated once.

Every mistake in a declaration (a bad method, URL regex or status code, a missing static
directory) raises :class:`~tomodachi.errors.ConfigurationError` naming the handler and the
value, which the runner shows as one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tomodachi.errors import ConfigurationError
from tomodachi.transport.base import Handler
from tomodachi.transport.http.handler import Endpoint, ErrorEndpoint, HttpEndpoint, HttpState
from tomodachi.transport.http.routes import Router, compile_url
from tomodachi.transport.http.static import StaticEndpoint, static_root, static_url_pattern
from tomodachi.transport.http.websocket import WebSocketEndpoint

__all__ = ["KIND_ERROR", "KIND_HTTP", "KIND_STATIC", "KIND_WEBSOCKET", "HttpConfig", "build_routes"]

KIND_HTTP = "http"
KIND_ERROR = "http_error"
KIND_STATIC = "http_static"
KIND_WEBSOCKET = "websocket"

# RFC 9110 token characters; methods are case-sensitive, we upper-case them like the original.
_METHOD = re.compile(r"^[A-Z0-9!#$%&'*+.^_`|~-]+$")


@dataclass
class HttpConfig:
    """The ``http.*`` options as the transport uses them."""

    port: int | None = 9700
    host: str | None = "0.0.0.0"
    reuse_port: bool = False
    content_type: str = "text/plain; charset=utf-8"
    charset: str = "utf-8"
    client_max_size: int = 100 * 1024 * 1024
    termination_grace_period_seconds: float = 30.0
    access_log: bool = True
    access_log_path: str | None = None
    real_ip_from: list[str] = field(default_factory=list)
    real_ip_header: str = "X-Forwarded-For"
    keepalive_timeout: float = 75.0
    max_keepalive_time: float | None = None
    max_keepalive_requests: int | None = None
    server_header: str = "tomodachi"

    @classmethod
    def from_options(cls, options: Any) -> HttpConfig:
        http = getattr(options, "http", None)
        defaults = cls()

        def get(name: str) -> Any:
            return getattr(http, name, getattr(defaults, name, None))

        access_log = get("access_log")
        real_ip_from = get("real_ip_from") or []
        if isinstance(real_ip_from, str):
            real_ip_from = [real_ip_from]
        return cls(
            port=get("port"),
            host=get("host"),
            reuse_port=bool(get("reuse_port")),
            content_type=str(get("content_type") or defaults.content_type),
            charset=str(get("charset") or defaults.charset),
            client_max_size=int(get("client_max_size")),
            termination_grace_period_seconds=float(get("termination_grace_period_seconds")),
            access_log=bool(access_log),
            access_log_path=access_log if isinstance(access_log, str) and access_log else None,
            real_ip_from=[str(x) for x in real_ip_from],
            real_ip_header=str(get("real_ip_header") or defaults.real_ip_header),
            keepalive_timeout=float(get("keepalive_timeout") or 0),
            max_keepalive_time=get("max_keepalive_time"),
            max_keepalive_requests=get("max_keepalive_requests"),
            server_header=str(get("server_header") or defaults.server_header),
        )


def _methods(name: str, method: Any) -> list[str]:
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


def _ignore_logging(name: str, value: Any) -> bool | list[int] | tuple[int, ...]:
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


_Middlewares = Sequence[Callable[..., Any]]


def _http_route(
    handler: Handler, state: HttpState, router: Router[Endpoint], middlewares: _Middlewares, _: str | None
) -> None:
    name, (_kind, method, url), kwargs = handler.name, handler.args, handler.kwargs
    methods = _methods(name, method)
    pattern = _url(name, url)
    pre = kwargs.get("pre_handler_func")
    if pre is not None and not callable(pre):
        raise ConfigurationError(
            f"invalid pre_handler_func {pre!r} for handler {name!r}: expected a callable"
        )
    endpoint = HttpEndpoint(
        state,
        name,
        handler.func,
        list(pattern.groupindex),
        middlewares,
        ignore_logging=_ignore_logging(name, kwargs.get("ignore_logging", False)),
        pre_handler_func=pre,
    )
    _add(router, name, methods, url, endpoint)


def _error_route(
    handler: Handler, state: HttpState, router: Router[Endpoint], middlewares: _Middlewares, _: str | None
) -> None:
    name = handler.name
    status = _status(name, handler.args[1])
    if status in state.errors.handlers:
        raise ConfigurationError(f"duplicate http_error handler for status {status} (handler {name!r})")
    state.errors.handlers[status] = ErrorEndpoint(state, name, handler.func, status, middlewares)


def _static_route(
    handler: Handler,
    state: HttpState,
    router: Router[Endpoint],
    middlewares: _Middlewares,
    service_file: str | None,
) -> None:
    name, (_kind, path, base_url), kwargs = handler.name, handler.args, handler.kwargs
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
        ignore_logging=_ignore_logging(name, kwargs.get("ignore_logging", False)),
    )
    _add(router, name, ("GET",), url, endpoint)


def _websocket_route(
    handler: Handler, state: HttpState, router: Router[Endpoint], middlewares: _Middlewares, _: str | None
) -> None:
    name, url = handler.name, handler.args[1]
    pattern = _url(name, url)
    _add(router, name, ("GET",), url, WebSocketEndpoint(state, name, handler.func, list(pattern.groupindex)))


_ROUTE_BUILDERS: dict[str, Callable[..., None]] = {
    KIND_HTTP: _http_route,
    KIND_ERROR: _error_route,
    KIND_STATIC: _static_route,
    KIND_WEBSOCKET: _websocket_route,
}


def build_routes(
    handlers: Sequence[Handler],
    state: HttpState,
    router: Router[Endpoint],
    middlewares: Sequence[Callable[..., Any]],
    service_file: str | None,
) -> None:
    """Validate the declarations of *handlers* and register their endpoints."""
    for handler in handlers:
        builder = _ROUTE_BUILDERS.get(handler.args[0] if handler.args else "")
        if builder is None:
            raise ConfigurationError(f"unknown http declaration {handler.args!r} on handler {handler.name!r}")
        builder(handler, state, router, middlewares, service_file)

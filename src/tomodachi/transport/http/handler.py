"""Endpoints: what runs for a matched route, and how errors become responses.

Everything a request needs is compiled at setup: the keyword plan of the handler and its
middleware chain (:mod:`tomodachi.injection`), the bound context logger, the access-log info.
A request then builds one small ``values`` dict and makes one call (a handler that takes only
the request, without middleware, is called with it alone).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from tomodachi.injection import (
    HandlerCall,
    Invoke,
    compile_handler,
    compile_middleware_chain,
    takes_first_only,
)
from tomodachi.logging import Logger, get_logger, reset_context_logger
from tomodachi.logging import logger as _logger_state
from tomodachi.logging.context import ContextLoggerSetter
from tomodachi.observability import hooks as _hooks
from tomodachi.transport.http._keys import REAL_IP_RESOLVER_KEY, ROUTE_INFO_KEY
from tomodachi.transport.http.access_log import AbortedResponse, AccessLog, RouteLogInfo, now
from tomodachi.transport.http.real_ip import RealIpResolver
from tomodachi.transport.http.responses import (
    HttpException,
    InvalidResponseError,
    ResponseDefaults,
    bare_response,
    check_headers,
    exception_response,
    resolve_response_sync,
)

if TYPE_CHECKING:
    from tomodachi.service import Service

__all__ = [
    "AbortedResponse",
    "BodyBudget",
    "BodyTimeoutError",
    "Endpoint",
    "ErrorHandlers",
    "HttpEndpoint",
    "HttpState",
]

#: aiohttp's own default for ``BaseRequest.client_max_size``; no clone is needed for it.
_AIOHTTP_CLIENT_MAX_SIZE = 1024**2


def _decodable_codings() -> frozenset[str]:
    from aiohttp.compression_utils import HAS_BROTLI, HAS_ZSTD

    return frozenset(
        ["identity", "gzip", "deflate"] + (["br"] if HAS_BROTLI else []) + (["zstd"] if HAS_ZSTD else [])
    )


#: The request ``Content-Encoding`` values a body may arrive in (others are answered 415).
DECODABLE_CODINGS = _decodable_codings()
_ACCEPT_ENCODING = {"Accept-Encoding": ", ".join(sorted(DECODABLE_CODINGS - {"identity"}))}


class Endpoint(Protocol):
    """What the router maps a route to."""

    async def __call__(
        self, request: web.BaseRequest, groups: Mapping[str, str | None]
    ) -> web.StreamResponse: ...


class BodyTimeoutError(Exception):
    """Set on a request body that stalled longer than ``http.body_timeout`` (answered 408)."""


class BodyBudget:
    """The request-body bytes the handlers of one transport may hold at once (``http.max_body_buffer``).

    A request with a body reserves its ``Content-Length`` (``client_max_size`` when chunked)
    while its handler runs; a request that does not fit is answered 503.
    """

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0


class HttpState:
    """Per-transport facts every endpoint of the transport shares (computed at setup)."""

    def __init__(
        self,
        service: Service,
        defaults: ResponseDefaults,
        *,
        client_max_size: int,
        access_log: AccessLog | None,
        real_ip: RealIpResolver | None,
        server_header: str,
        body_budget: int = 0,
    ) -> None:
        self.service = service
        #: ``None`` when ``http.max_body_buffer`` is 0 (unbounded).
        self.budget: BodyBudget | None = BodyBudget(body_budget) if body_budget > 0 else None
        self.defaults = defaults
        self.client_max_size = client_max_size
        self.access_log = access_log
        self.real_ip = real_ip
        self.server_header = server_header
        self.errors = ErrorHandlers(self)
        self.websockets: set[web.WebSocketResponse] = set()
        self.log = get_logger("tomodachi.http")

    def access_enabled(self) -> bool:
        access = self.access_log
        return access is not None and access.enabled

    def finish(self, response: web.StreamResponse) -> web.StreamResponse:
        """Add the ``Server`` header to a response we did not build (pass-through, exceptions);
        raise :class:`InvalidResponseError` for a header aiohttp would refuse to write."""
        if not response.prepared:
            headers = response.headers
            check_headers(headers)
            headers.setdefault("Server", self.server_header)
        return response

    def log_uncaught(self, handler: str, exc: BaseException) -> None:
        self.log.error("uncaught exception in handler", handler=handler, exc_info=exc)

    async def failure(self, handler: str, request: web.BaseRequest, exc: BaseException) -> web.StreamResponse:
        """The response for an exception a handler raised; only runs off the happy path.

        - the response had already started: the connection is aborted (nothing more is written);
        - the client sent a body that cannot be read (bad ``Content-Encoding``, bad chunking) or
          stalled: 400 / 408 through ``@http_error``, logged at WARNING without a traceback;
        - the client went away: logged at INFO (the access line says 499);
        - ``SystemExit`` / ``KeyboardInterrupt``: a graceful stop, as ``tomodachi.exit``;
        - else a server error: 500 (``@http_error(500)``) and one ERROR line with the traceback.
        """
        active = _hooks.active
        if active is not None:  # the request's span records it
            active.exception(exc)
        if isinstance(exc, ConnectionError) and request.transport is None:
            # The client went away (mid-upload, or during a streamed download): not our bug.
            self.log.info("client disconnected before the response", handler=handler)
            gone = bare_response(400, self.defaults)
            gone.force_close()
            return gone
        if response_started(request):
            transport = request.transport
            if transport is not None:
                transport.abort()
            self.log.error(
                "exception after the response had started: connection aborted",
                handler=handler,
                exc_info=exc,
            )
            return AbortedResponse(status=500)
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            return self.exit_requested(handler, exc)
        if isinstance(exc, (web.HTTPException, HttpException)):
            if isinstance(exc, HttpException) and exc.status >= 500:
                self.log_uncaught(handler, exc)
            return await self.errors.for_exception(request, exc)
        if isinstance(exc, InvalidResponseError):
            self.log.error("invalid response from handler: 500 sent instead", handler=handler, error=str(exc))
            invalid = await self.errors.respond(request, 500)
            invalid.force_close()
            return invalid
        client_error: int | None = None
        if isinstance(exc, web.RequestPayloadError):
            client_error = 400
            self.log.warning("unreadable request body", handler=handler, error=_one_line(exc))
        elif isinstance(exc, BodyTimeoutError):
            client_error = 408
            self.log.warning("request body timed out", handler=handler, error=str(exc))
        if client_error is not None:
            # The rest of the body is not read (aiohttp would re-raise the error while draining
            # it); the connection closes after the answer.
            request.content.feed_eof()
            response = await self.errors.respond(request, client_error)
            response.force_close()
            return response
        self.log_uncaught(handler, exc)
        return await self.errors.respond(request, 500)

    async def unsupported_coding(
        self, handler: str, request: web.BaseRequest, coding: str
    ) -> web.StreamResponse:
        """A body in a content coding the server cannot decode: 415 (``Accept-Encoding`` lists the
        ones it can), through ``@http_error(415)``; the body is not read, the connection closes."""
        self.log.info(
            "unsupported request content-encoding: 415", handler=handler, content_encoding=coding[:100]
        )
        response = await self.errors.respond(request, 415, _ACCEPT_ENCODING)
        response.force_close()
        return response

    def exit_requested(self, handler: str, exc: SystemExit | KeyboardInterrupt) -> web.StreamResponse:
        """A handler raised ``SystemExit`` / ``KeyboardInterrupt``: stop gracefully, as ``tomodachi.exit``."""
        from tomodachi.service import exit as tomodachi_exit

        code: int | None = None
        if isinstance(exc, SystemExit):
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        self.log.warning(f"{type(exc).__name__} raised in handler: stopping the service", handler=handler)
        tomodachi_exit(code)
        response = bare_response(503, self.defaults)
        response.force_close()
        return response


def response_started(request: web.BaseRequest) -> bool:
    """Whether a response to *request* has begun to be written (its status line is out).

    ``send_headers()`` first flushes headers that aiohttp buffers until the first body write, so
    a response that was only ``prepare()``-d also counts as started.
    """
    writer = request.writer
    writer.send_headers()
    return writer.output_size > 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def handler_logger(name: str, kind: str) -> Logger:
    """The context logger of one handler (``tomodachi.get_logger()`` inside it)."""
    # new(), not bind(): bind() would also register this handler's context as the name's default.
    return get_logger("tomodachi.http.handler").new(handler=name, type=kind)


def groups_with_defaults(func: Callable[..., Any], groups: Sequence[str]) -> frozenset[str]:
    """Named groups that must not be passed as ``None`` (the handler has a default for them)."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(g for g in groups if g not in params or params[g].default is not inspect.Parameter.empty)


def group_values(groups: Mapping[str, str | None], drop_none: frozenset[str]) -> dict[str, Any]:
    """Groups to inject; a group that did not take part in the match keeps the handler's default."""
    if None in groups.values():
        return {k: v for k, v in groups.items() if v is not None or k not in drop_none}
    return dict(groups)


class HttpEndpoint:
    """An ``@http`` handler compiled for the router."""

    __slots__ = (
        "call",
        "direct",
        "drop_none",
        "invoke",
        "log_info",
        "logger",
        "name",
        "pre_handler",
        "set_logger",
        "state",
    )

    def __init__(
        self,
        state: HttpState,
        name: str,
        func: Callable[..., Any],
        group_names: Sequence[str],
        middlewares: Sequence[Callable[..., Any]],
        *,
        ignore_logging: bool | list[int] | tuple[int, ...] = False,
        pre_handler_func: Callable[..., Any] | None = None,
    ) -> None:
        self.state = state
        self.name = name
        call = compile_handler(func, first="request", first_unless_named=tuple(group_names))
        self.call: HandlerCall = call
        # Without middlewares the handler is called directly (one coroutine less per request).
        self.invoke: Invoke | None = (
            compile_middleware_chain(middlewares, call, 2, protected=PROTECTED) if middlewares else None
        )
        #: The handler itself when ``handler(request)`` is the whole call (no middlewares, no
        #: other parameters): called without building the values to inject.
        self.direct: Callable[[web.BaseRequest], Awaitable[Any]] | None = (
            None if middlewares or not takes_first_only(func, first_unless_named=group_names) else func
        )
        self.logger = handler_logger(name, "tomodachi.http")
        self.set_logger = ContextLoggerSetter(self.logger)
        self.log_info = RouteLogInfo(name, ignore_logging)
        self.drop_none = groups_with_defaults(func, group_names)
        self.pre_handler = pre_handler_func

    async def __call__(
        self, request: web.BaseRequest, groups: Mapping[str, str | None]
    ) -> web.StreamResponse:
        state = self.state
        original = request
        if state.real_ip is not None:
            request[REAL_IP_RESOLVER_KEY] = state.real_ip  # before clone(): the clone copies the mapping
        reserved = 0
        if request.body_exists:  # refused, or admitted with bytes reserved of the body budget
            refusal, request, reserved = await self._admit_body(request)
            if refusal is not None:
                return refusal
        access = state.access_log
        # state.access_enabled() with AccessLog.enabled's usual answer inlined (two calls less per
        # request): the access lines batch under the current logging pipeline.
        timed = access is not None and (_logger_state._pipeline is access.batching or access.enabled)
        started = now() if timed else 0.0
        # Not reset afterwards: aiohttp runs each request in a task of its own, on a copy of the
        # connection's context (aiohttp#3406), so what is set here ends with the request.
        self.set_logger.set()
        try:
            if self.pre_handler is not None:
                outcome = self.pre_handler(state.service, request)
                if inspect.isawaitable(outcome):
                    await outcome
            direct = self.direct
            if direct is not None:
                result = await direct(request)
            else:
                values = (
                    {"request": request, **group_values(groups, self.drop_none)}
                    if groups
                    else {"request": request}
                )
                invoke = self.invoke
                if invoke is None:
                    result = await self.call(values)
                else:
                    result = await invoke((state.service, request), values)
            response = resolve_response_sync(result, defaults=state.defaults)
            if response is result:
                state.finish(response)
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            response = await state.failure(self.name, request, exc)
        finally:
            if reserved:
                budget = state.budget
                assert budget is not None
                budget.used -= reserved
        if timed:
            original[ROUTE_INFO_KEY] = (self.log_info, now() - started, started)
        return response

    async def _admit_body(
        self, request: web.BaseRequest
    ) -> tuple[web.StreamResponse | None, web.BaseRequest, int]:
        """(the refusal or None, the request to read it from, bytes reserved of the body budget)."""
        state = self.state
        coding = request.headers.get("Content-Encoding")
        if coding is not None and coding.lower() not in DECODABLE_CODINGS:
            return await state.unsupported_coding(self.name, request, coding), request, 0
        limit = state.client_max_size
        length = request.content_length
        if length is not None and length > limit:
            # Refuse without reading the body; the connection is not reused.
            response = await state.errors.respond(request, 413)
            response.force_close()
            return response, request, 0
        reserved = 0
        budget = state.budget
        if budget is not None:
            need = min(limit, budget.limit) if length is None else length
            if budget.used + need > budget.limit:
                state.log.warning(
                    "request body budget exhausted: 503", handler=self.name, request_content_length=length
                )
                response = await state.errors.respond(request, 503)
                response.force_close()
                return response, request, 0
            budget.used += need
            reserved = need
        if limit != _AIOHTTP_CLIENT_MAX_SIZE:
            request = request.clone(client_max_size=limit)
        return None, request, reserved


#: The values an HTTP middleware's extra keywords cannot override (named groups they can).
PROTECTED = ("request", "status_code")


class ErrorEndpoint:
    """An ``@http_error(status_code)`` handler."""

    __slots__ = ("invoke", "logger", "name", "set_logger", "state", "status")

    def __init__(
        self,
        state: HttpState,
        name: str,
        func: Callable[..., Any],
        status: int,
        middlewares: Sequence[Callable[..., Any]],
    ) -> None:
        self.state = state
        self.name = name
        self.status = status
        call = compile_handler(func, first="request", first_unless_named=("status_code",))
        self.invoke: Invoke = compile_middleware_chain(middlewares, call, 2, protected=PROTECTED)
        self.logger = handler_logger(name, "tomodachi.http_error")
        self.set_logger = ContextLoggerSetter(self.logger)

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        token = self.set_logger.set()
        try:
            result = await self.invoke(
                (self.state.service, request), {"request": request, "status_code": self.status}
            )
            response = resolve_response_sync(result, defaults=self.state.defaults, status=self.status)
        except (SystemExit, KeyboardInterrupt) as exc:  # a graceful stop, as from a handler
            return self.state.exit_requested(self.name, exc)
        finally:
            reset_context_logger(token)
        if response is result:
            self.state.finish(response)
        return response


class ErrorHandlers:
    """Responses for errors: the service's ``@http_error`` handlers, else plain responses."""

    def __init__(self, state: HttpState) -> None:
        self.state = state
        self.handlers: dict[int, ErrorEndpoint] = {}

    async def respond(
        self, request: web.BaseRequest, status: int, headers: Mapping[str, str] | None = None
    ) -> web.StreamResponse:
        """The response for *status* (404, 405, 413, 500, ...); never raises."""
        endpoint = self.handlers.get(status)
        if endpoint is not None:
            response = await self._call(endpoint, request)
            if response is not None:
                if headers and not response.prepared:
                    for key, value in headers.items():
                        response.headers.setdefault(key, value)
                return response
        return bare_response(status, self.state.defaults, headers)

    async def for_exception(
        self, request: web.BaseRequest, exc: web.HTTPException | HttpException
    ) -> web.StreamResponse:
        """The response for a raised ``HTTPException`` / ``HttpException``.

        A custom error handler answers for error statuses unless the exception carries its own
        body (``HttpException(body=...)``); aiohttp exceptions keep their own text otherwise.
        """
        status = int(exc.status)
        if status >= 400 and (isinstance(exc, web.HTTPException) or exc.body is None):
            endpoint = self.handlers.get(status)
            if endpoint is not None:
                response = await self._call(endpoint, request)
                if response is not None:
                    if isinstance(exc, web.HTTPException) and not response.prepared:
                        for key, value in exc.headers.items():  # keep Allow, Location, ...
                            if key.lower() not in ("content-type", "content-length"):
                                response.headers.setdefault(key, value)
                    return response
        try:
            return self.state.finish(exception_response(exc, self.state.defaults))
        except Exception as error:  # e.g. an HttpException body that cannot be encoded
            self.state.log_uncaught("<error response>", error)
            return bare_response(500, self.state.defaults)

    async def _call(self, endpoint: ErrorEndpoint, request: web.BaseRequest) -> web.StreamResponse | None:
        try:
            return await endpoint(request)
        except (web.HTTPException, HttpException) as exc:
            try:
                return self.state.finish(exception_response(exc, self.state.defaults))
            except Exception as error:
                self.state.log_uncaught(endpoint.name, error)
                return bare_response(500, self.state.defaults)
        except Exception as exc:
            self.state.log_uncaught(endpoint.name, exc)
            fallback = self.handlers.get(500)
            if fallback is not None and fallback is not endpoint:
                try:
                    return await fallback(request)
                except Exception as error:
                    self.state.log_uncaught(fallback.name, error)
            return bare_response(500, self.state.defaults)

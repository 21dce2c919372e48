"""The connection level of the HTTP server: aiohttp's low-level server with our client-error answers.

- A request aiohttp cannot parse (bad request line or headers, conflicting ``Content-Length`` /
  ``Transfer-Encoding``, bad chunk sizes, oversized lines) is a client error: it is answered
  through the service's ``@http_error`` handler for the status (400, or 415 for a content
  coding the server cannot decode), else a plain ``"400: Bad Request"``, logged as one INFO
  line (aiohttp would log an ERROR with a traceback and echo the input); the connection closes.
- ``http.header_timeout``: the server notes when a connection started waiting for a request's
  headers (when it was accepted, and when the first bytes of a later request arrive on a
  keep-alive connection); the transport's watcher answers 408 and closes a connection whose
  headers did not complete in time (:func:`request_timeout`). An idle keep-alive connection
  (no bytes of a next request) is left to ``http.keepalive_timeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.http import HttpProcessingError
from aiohttp.http_exceptions import ContentEncodingError

from tomodachi.logging import get_logger
from tomodachi.transport.http.responses import ResponseDefaults, bare_response

if TYPE_CHECKING:
    from tomodachi.transport.http.handler import ErrorHandlers

__all__ = ["Server", "request_timeout"]

_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 20\r\nConnection: close\r\n\r\n408: Request Timeout"
)


def _client_error(exc: BaseException | None, status: int) -> int | None:
    """The status for a request aiohttp refused while parsing it; ``None`` for a server error."""
    if not isinstance(exc, HttpProcessingError) or status >= 500:
        return None
    if isinstance(exc, ContentEncodingError):  # e.g. br / zstd without their decoder installed
        return 415
    return status


def _log_malformed(request: web.BaseRequest, status: int, exc: HttpProcessingError) -> None:
    reason = " ".join(str(exc.message).split()) if exc.message else type(exc).__name__
    get_logger("tomodachi.http").info(
        f"malformed http request: {status}", remote_ip=request.remote, error=reason[:200]
    )


class _Connection(web.RequestHandler):
    """aiohttp's connection handler; a request aiohttp cannot parse is a client error here."""

    _tomodachi_server: Server | None = None

    def _make_error_handler(
        self, err_info: Any
    ) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
        # aiohttp's hook for a request it could not parse (answered before any route matches).
        server = self._tomodachi_server
        status = _client_error(getattr(err_info, "exc", None), int(getattr(err_info, "status", 500)))
        if server is None or server.errors is None or status is None:
            return super()._make_error_handler(err_info)
        errors = server.errors
        exc = err_info.exc

        async def answer(request: web.BaseRequest) -> web.StreamResponse:
            _log_malformed(request, status, exc)
            response = await errors.respond(request, status)
            response.force_close()
            return response

        return answer

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # Reached for parse errors only if aiohttp stops calling _make_error_handler.
        server = self._tomodachi_server
        client_status = _client_error(exc, status)
        if client_status is None or server is None or not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        _log_malformed(request, client_status, exc)
        response = bare_response(client_status, server.defaults)
        response.force_close()
        return response

    def data_received(self, data: bytes) -> None:
        fresh = self._tomodachi_fresh
        if fresh is None:
            super().data_received(data)
            return
        super().data_received(data)
        # (data_received only adds messages; the request loop takes them and marks a request in
        # progress, so both are read after the parser ran.)
        if getattr(self, "_messages", None):
            if fresh:
                fresh.pop(self, None)  # a whole request arrived: the headers are in
        elif not getattr(self, "_request_in_progress", True) and self not in fresh:
            # The first bytes of the next request on a keep-alive connection: its headers are due.
            fresh[self] = self._loop.time()

    _tomodachi_fresh: dict[Any, float] | None = None


class Server(web.Server):
    """aiohttp's low-level server, noting which connections wait for a request's headers.

    ``fresh`` (``None`` without ``http.header_timeout``) maps those connections to the loop time
    they started waiting; the transport takes a connection out when its request arrives.
    ``errors`` answers requests aiohttp could not parse (``@http_error``).
    """

    def __init__(
        self,
        *args: Any,
        fresh: dict[Any, float] | None,
        defaults: ResponseDefaults,
        errors: ErrorHandlers | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fresh = fresh
        self.defaults = defaults
        self.errors = errors
        self._connection_kwargs = kwargs

    def __call__(self) -> web.RequestHandler:
        connection = _Connection(self, loop=asyncio.get_running_loop(), **self._connection_kwargs)
        connection._tomodachi_server = self
        connection._tomodachi_fresh = self.fresh
        return connection

    def connection_made(self, handler: Any, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if self.fresh is not None:
            self.fresh[handler] = asyncio.get_running_loop().time()

    def connection_lost(self, handler: Any, exc: BaseException | None = None) -> None:
        if self.fresh is not None:
            self.fresh.pop(handler, None)
        super().connection_lost(handler, exc)


def request_timeout(connection: Any, log: Any, timeout: float) -> None:
    """A connection sent no complete request headers within *timeout* seconds: 408, then close."""
    transport = connection.transport
    if transport is None or transport.is_closing():
        return
    peer = transport.get_extra_info("peername")
    log.warning(
        "http request headers timed out: 408, connection closed",
        remote_ip=peer[0] if isinstance(peer, tuple) else None,
        header_timeout=timeout,
    )
    transport.write(_REQUEST_TIMEOUT)
    connection.force_close()

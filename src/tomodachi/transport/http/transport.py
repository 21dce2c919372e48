"""The HTTP transport: one aiohttp low-level server per service, with its lifecycle.

``setup`` validates every declaration and compiles the router; ``start`` binds the socket
(``aiohttp.web.Server`` + ``ServerRunner`` + ``TCPSite``); ``stop`` drains gracefully:

1. the listening socket closes (new connections are refused);
2. idle keep-alive connections close at once; a request that still arrives on an open
   connection gets 503 with ``Connection: close``; in-flight responses carry ``Connection: close``;
3. websockets get a close frame (1001, going away);
4. in-flight requests may finish within the grace period (:attr:`Transport.grace_period`); what
   still runs then is cancelled, with one warning naming how many requests were cancelled;
5. the runner is cleaned up.

The stop returns as soon as the last in-flight request has finished (no fixed sleeps).
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable, Collection, Sequence
from typing import Any

from aiohttp import web

from tomodachi.errors import ConfigurationError, ServiceStartError
from tomodachi.injection import first_parameter
from tomodachi.logging import Logger, get_logger
from tomodachi.observability import hooks as _hooks
from tomodachi.transport.base import Handler, Transport
from tomodachi.transport.http._keys import ROUTE_INFO_KEY
from tomodachi.transport.http.access_log import AccessLog, now
from tomodachi.transport.http.config import HttpConfig
from tomodachi.transport.http.declaration import (
    HttpErrorRoute,
    HttpRoute,
    HttpStaticRoute,
    IgnoreLogging,
    WebSocketRoute,
)
from tomodachi.transport.http.handler import BodyTimeoutError, Endpoint, HttpState
from tomodachi.transport.http.listen import listen, listening_fields
from tomodachi.transport.http.real_ip import RealIpResolver
from tomodachi.transport.http.responses import ResponseDefaults, bare_response
from tomodachi.transport.http.route_builder import add_mount, build_routes
from tomodachi.transport.http.routes import Router, compile_url
from tomodachi.transport.http.server import request_timeout

__all__ = ["HttpTransport"]

#: Bodies being received: the request's task -> (bytes received so far, loop time they last changed).
_BodyMarks = dict["asyncio.Task[Any]", tuple[int, float]]


class HttpTransport(Transport):
    """Serves a service's ``@http``, ``@http_error``, ``@http_static`` and ``@websocket`` handlers."""

    kind = "http"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The port the server listens on, once :meth:`start` has bound it (``None`` before); with
        #: ``http.port`` 0 (or unset), the one the OS picked.
        self.port: int | None = None
        self.config: HttpConfig | None = None
        self._router: Router[Endpoint] = Router()
        self._state: HttpState | None = None
        self._runner: web.ServerRunner | None = None
        self._listening = False
        self._stopping = False
        # In-flight requests: the task aiohttp runs each one in, and its request.
        self._inflight: dict[asyncio.Task[Any], web.BaseRequest] = {}
        self._drained = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # keep-alive rotation (only used with max_keepalive_requests / max_keepalive_time)
        self._connections: dict[Any, list[float]] = {}
        self._prune_at = 1024
        self._finalize: Callable[[web.BaseRequest, web.StreamResponse], None] | None = None
        # Endpoints other transports mounted before our setup() (registered there).
        self._mounts: list[tuple[str, Callable[..., Any], HttpRoute]] = []
        # Slow clients: connections still waiting for their first request (http.header_timeout),
        # bodies seen stalled (http.body_timeout: request -> (bytes received, since)), the watcher.
        self._fresh: dict[Any, float] = {}
        self._bodies: _BodyMarks = {}
        self._watcher: asyncio.Task[None] | None = None

    # -- setup ---------------------------------------------------------------------------
    async def setup(self) -> None:
        config = HttpConfig.from_options(self.service.options)
        self.config = config
        real_ip = RealIpResolver(config.real_ip_from, config.real_ip_header) if config.real_ip_from else None
        access = AccessLog(config.access_log_path, real_ip or None) if config.access_log else None
        state = HttpState(
            self.service,
            ResponseDefaults(config.content_type, config.charset, {"Server": config.server_header}),
            client_max_size=config.client_max_size,
            access_log=access,
            real_ip=real_ip if real_ip else None,
            server_header=config.server_header,
            body_budget=config.max_body_buffer,
        )
        self._state = state
        middlewares = list(getattr(self.service, "http_middleware", None) or [])
        build_routes(self.handlers, state, self._router, middlewares, self._service_file())
        for name, func, route in self._mounts:
            add_mount(name, func, route, state, self._router)
        if config.keepalive_timeout <= 0:
            self._finalize = self._finalize_close
        elif config.max_keepalive_requests or config.max_keepalive_time:
            self._finalize = self._finalize_rotate

    def mount(
        self,
        method: str | Sequence[str],
        url: str,
        handler: Callable[..., Any],
        *,
        name: str | None = None,
        ignore_logging: IgnoreLogging = False,
    ) -> None:
        """Serve *handler* for *method* (or a list of methods) on the regex *url*, on this server.

        For another transport (metrics, health, GraphQL), from its ``setup()``: see
        :func:`tomodachi.transport.http.mount`, which also creates the server when the service
        declares no HTTP handler. *handler* is called like an ``@http`` handler (the request,
        the URL's named groups as keywords; the same return values), without the service's
        ``http_middleware``; the access log, error responses and graceful stop apply as for
        the service's own routes. *name* (default: the handler's qualified name) appears in
        log lines and error messages. Raises ``ConfigurationError`` for a bad method or URL, a
        route the service already serves, or a mount after the server started.
        """
        if self._runner is not None or self._stopping:
            raise ConfigurationError(f"cannot mount {url!r}: the http server has already started")
        label = name or getattr(handler, "__qualname__", None) or repr(handler)
        route = HttpRoute(
            list(method) if not isinstance(method, str) else method, url, ignore_logging, custom_method=True
        )
        if self._state is not None:
            add_mount(label, handler, route, self._state, self._router)
        else:
            self._mounts.append((label, handler, route))

    def _service_file(self) -> str | None:
        """The service file (relative static paths start there): the container's record of it,
        else the file of the module that defines the service class."""
        record = self.runtime.record(self.service)
        if record is not None and record.source:
            return record.source
        module = sys.modules.get(type(self.service).__module__)
        return getattr(module, "__file__", None)

    # -- start ---------------------------------------------------------------------------
    async def start(self) -> None:
        config, state = self.config, self._state
        if config is None or state is None:
            raise ServiceStartError("the http transport was started without setup()")
        if state.access_log is not None:
            try:
                state.access_log.open()
            except OSError as exc:
                raise ServiceStartError(
                    f"unable to open the http access log file {config.access_log_path!r} ({exc})"
                ) from exc
        log = get_logger("tomodachi.http")
        # Passed to current_task(): without it, Python 3.11 asks the OS for the pid per request.
        self._loop = asyncio.get_running_loop()
        fresh = self._fresh if config.header_timeout > 0 else None
        runner = await listen(self._handle, config, state, fresh, self.grace_period, log)
        self._runner = runner
        self._listening = True
        if config.header_timeout > 0 or config.body_timeout > 0:
            self._watcher = self.intake.spawn(self._watch_slow_clients(), name="tomodachi.http.slow-clients")
        addresses = runner.addresses
        self.port = int(addresses[0][1]) if addresses else (config.port or 0)
        self.service.context["_http_port"] = self.port
        await self._announce(config.host or None, self.port, addresses, log)

    async def _announce(self, host: str | None, port: int, addresses: list[Any], log: Logger) -> None:
        """Log where the server listens; tell the (deprecated) discovery registries its routes."""
        log.info("accepting http requests", **listening_fields(host, port, addresses))
        if getattr(self.service, "discovery", None):  # deprecated registries: told once per route
            from tomodachi.discovery import add_http_endpoint

            for method, pattern in self.routes():
                await add_http_endpoint(self.service, host or "0.0.0.0", port, method, pattern)

    def route_of(self, endpoint: Any) -> str | None:
        """The URL pattern *endpoint* is served on (the literal path of an exact route)."""
        return self._router.url_of(endpoint)

    @property
    def ready(self) -> bool:
        """True while the server is listening (False before start and once stop began)."""
        return self._listening and not self._stopping

    # -- per request ---------------------------------------------------------------------
    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if self._stopping:
            return self._unavailable()
        task = asyncio.current_task(self._loop)
        inflight = self._inflight
        if task is not None:
            inflight[task] = request
        if self._fresh:  # empty unless connections wait for their first request
            self._fresh.pop(request.protocol, None)
        try:
            endpoint, groups, allowed = self._router.resolve(request.method, request.path)
            if endpoint is not None:
                active = _hooks.active
                if active is None:
                    response = await endpoint(request, groups)
                else:  # instrumented (tomodachi.observability)
                    response = await active.http(endpoint, request, groups, self)
            else:
                response = await self._not_routed(request, allowed)
            finalize = self._finalize
            if finalize is not None:
                finalize(request, response)
            if self._stopping:
                response.force_close()
            return response
        finally:
            if task is not None:
                inflight.pop(task, None)
                if self._stopping and not inflight:
                    self._drained.set()

    async def _not_routed(self, request: web.BaseRequest, allowed: frozenset[str]) -> web.StreamResponse:
        state = self._state
        assert state is not None
        timed = state.access_enabled()
        started = now() if timed else 0.0
        if allowed:
            response = await state.errors.respond(request, 405, {"Allow": ", ".join(sorted(allowed))})
        else:
            response = await state.errors.respond(request, 404)
        if timed:
            request[ROUTE_INFO_KEY] = (None, now() - started, started)
        return response

    def _unavailable(self) -> web.StreamResponse:
        state = self._state
        response = bare_response(503, state.defaults if state else None)
        response.force_close()
        return response

    def _finalize_close(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        response.force_close()

    def _finalize_rotate(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        """Close a keep-alive connection after N requests / N seconds (``Connection: close``)."""
        config = self.config
        assert config is not None
        connection = request.protocol
        loop = self._loop
        assert loop is not None
        current = loop.time()
        entry = self._connections.get(connection)
        if entry is None:
            if len(self._connections) >= self._prune_at:
                self._prune_connections()
            entry = self._connections[connection] = [0.0, current]
        entry[0] += 1
        if (config.max_keepalive_requests and entry[0] >= config.max_keepalive_requests) or (
            config.max_keepalive_time and current - entry[1] >= config.max_keepalive_time
        ):
            response.force_close()
            self._connections.pop(connection, None)

    def _prune_connections(self) -> None:
        self._connections = {
            c: e for c, e in self._connections.items() if getattr(c, "transport", None) is not None
        }
        self._prune_at = max(1024, 2 * len(self._connections))

    # -- slow clients --------------------------------------------------------------------
    async def _watch_slow_clients(self) -> None:
        """Answer 408 and close connections whose headers or body stall past their timeout.

        One task per server, waking a few times per timeout: nothing is added to a request.
        """
        config = self.config
        assert config is not None
        header_timeout, body_timeout = config.header_timeout, config.body_timeout
        tick = min(t for t in (header_timeout, body_timeout) if t > 0) / 4
        loop = asyncio.get_running_loop()
        log = get_logger("tomodachi.http")
        while True:
            await asyncio.sleep(min(max(tick, 0.01), 1.0))
            current = loop.time()
            try:
                if header_timeout > 0 and self._fresh:
                    for connection, since in list(self._fresh.items()):
                        if current - since >= header_timeout:
                            self._fresh.pop(connection, None)
                            request_timeout(connection, log, header_timeout)
                if body_timeout > 0:
                    self._bodies = self._stalled_bodies(current, body_timeout)
            except Exception as exc:  # a bug here must not end the watching
                log.error("error in the http slow-client watcher", exc_info=exc)

    def _stalled_bodies(self, current: float, body_timeout: float) -> _BodyMarks:
        """Fail the body of a request when no byte of it arrived for *body_timeout* seconds."""
        seen: _BodyMarks = {}
        previous = self._bodies
        for task, request in self._inflight.items():
            if not request.body_exists:
                continue
            content = request.content
            if content.is_eof() or content.exception() is not None:
                continue
            total = content.total_bytes
            before = previous.get(task)
            if before is None or before[0] != total:
                seen[task] = (total, current)
            elif current - before[1] >= body_timeout:
                # The handler's read raises; the endpoint answers 408 and closes the connection.
                content.set_exception(BodyTimeoutError(f"no request body data for {body_timeout:g} s"))
            else:
                seen[task] = before
        return seen

    # -- stop ----------------------------------------------------------------------------
    async def stop(self) -> None:
        runner = self._runner
        if runner is None or self._stopping:
            return
        self._stopping = True
        if not self._inflight:
            self._drained.set()
        # 1. No new connections.
        for site in list(runner.sites):
            await site.stop()
        self._listening = False
        # 2. Busy connections close after their current response. Idle keep-alive connections
        #    stay open while others drain, so a request arriving on one is answered 503 (with
        #    Connection: close) rather than lost in a reset; with nothing to drain they close now.
        server = runner.server
        if server is not None:
            busy = {request.protocol for request in self._inflight.values()}
            for connection in server.connections:
                if connection in busy:
                    connection.close()
                elif not self._inflight:
                    connection.force_close()
        # 3. Websockets: "going away".
        state = self._state
        if state is not None:
            for websocket in list(state.websockets):
                self.tasks.spawn(_close_websocket(websocket), name="tomodachi.http.websocket-close")
        try:
            # 4. Drain within the grace period, then cancel what is left.
            if not self._drained.is_set():
                try:
                    await asyncio.wait_for(self._drained.wait(), timeout=self.grace_period)
                except TimeoutError:
                    await self._cancel_inflight()
        finally:
            # 5. Nothing runs any more: the runner's cleanup only closes what is left.
            self._runner = None
            await self._stop_watcher()
            await runner.cleanup()
            await self.tasks.drain(1.0)

    async def _stop_watcher(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    async def _cancel_inflight(self) -> None:
        pending = list(self._inflight)
        if not pending:
            return
        get_logger("tomodachi.http").warning(
            f"cancelled {len(pending)} http request(s) still running at the end of the grace period",
            cancelled_requests=len(pending),
            termination_grace_period_seconds=self.grace_period,
        )
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=1.0)

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        await self._stop_watcher()
        if runner is not None:  # start failed half-way or stop() was skipped
            self._stopping = True
            await runner.cleanup()
        self._listening = False
        if self._state is not None and self._state.access_log is not None:
            self._state.access_log.close()

    # -- introspection -------------------------------------------------------------------
    def in_flight(self) -> int:
        """The requests being handled now (websockets included)."""
        return len(self._inflight)

    def describe_handler(self, handler: Handler) -> str:
        declaration = handler.args[0] if len(handler.args) == 1 else None
        if isinstance(declaration, HttpRoute):
            method = declaration.method
            methods = [method] if isinstance(method, str) else list(method)
            return f"{','.join(str(m).upper() for m in methods)} {declaration.url}"
        if isinstance(declaration, HttpErrorRoute):
            return f"error {declaration.status_code}"
        if isinstance(declaration, HttpStaticRoute):
            return f"static {declaration.base_url}"  # not the directory: no file system paths in logs
        if isinstance(declaration, WebSocketRoute):
            return f"websocket {declaration.url}"
        return super().describe_handler(handler)

    def value_names(self, handler: Handler) -> Collection[str] | None:
        """``request`` (the first parameter, whatever its name) and the URL's named groups;
        ``status_code`` for ``@http_error``. Not known with ``http_middleware`` (which may add
        keywords), for websockets and static files."""
        if getattr(self.service, "http_middleware", None):
            return None
        declaration = handler.args[0] if len(handler.args) == 1 else None
        first = first_parameter(handler.func)
        names = {"request", *([first] if first else [])}
        if isinstance(declaration, HttpRoute) and isinstance(declaration.url, str):
            try:
                names.update(compile_url(declaration.url).groupindex)
            except re.error:
                return None
            return names
        if isinstance(declaration, HttpErrorRoute):
            return names | {"status_code"}
        return None

    def routes(self) -> list[tuple[str, str]]:
        """``(method, pattern)`` pairs served by this transport."""
        return self._router.routes()


async def _close_websocket(websocket: web.WebSocketResponse) -> None:
    try:
        await websocket.close(code=1001, message=b"server shutdown")
    except Exception:  # the peer may already be gone
        pass

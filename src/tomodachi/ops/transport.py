"""The ops transport: health, readiness and metrics endpoints, mounted or on an ops port."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tomodachi.errors import ServiceStartError
from tomodachi.ops import readiness_report
from tomodachi.transport.base import Transport
from tomodachi.workers import this_worker

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime
    from tomodachi.service import Service

__all__ = ["OpsServer", "OpsTransport", "ops_server"]

_JSON = "application/json"


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(), content_type=_JSON)


def liveness_body() -> dict[str, Any]:
    """The liveness answer: if this runs, the event loop answers."""
    return {"status": "alive"}


async def metrics_response(services: list[Service]) -> web.Response:
    """The Prometheus exposition of the process's metrics (``prometheus_client`` needed)."""
    from tomodachi.ops.prometheus import render

    body, content_type = render(services)
    return web.Response(status=200, body=body, headers={"Content-Type": content_type})


class OpsServer:
    """A small aiohttp server of the run on ``(host, port)``, serving the ops endpoints of every
    service that asked for that address. A run resource: started with the first such service,
    closed when the run ends (so readiness says 503 through a graceful stop)."""

    def __init__(self, runtime: Runtime, host: str, port: int) -> None:
        self.runtime = runtime
        self.host = host
        self.port = port
        self.services: list[Service] = []
        self._routes: dict[str, Callable[[], Awaitable[web.StreamResponse]]] = {}
        self._runner: web.ServerRunner | None = None

    def add(self, service: Service) -> None:
        """Serve *service*'s endpoints (its paths) on this server too."""
        if service not in self.services:
            self.services.append(service)
        ops = service.options.ops
        if ops.health:
            self._routes.setdefault(ops.liveness_path, self._live)
            self._routes.setdefault(ops.readiness_path, self._ready)
        if ops.metrics:
            self._routes.setdefault(ops.metrics_path, self._metrics)

    async def start(self) -> None:
        if self._runner is not None:
            return
        server = web.Server(self._handle, access_log=None)
        runner = web.ServerRunner(server, handle_signals=False, access_log=None)
        await runner.setup()
        try:
            # The workers of `tomodachi run --workers N` share the ops port as they share http.port.
            shared = this_worker() is not None and sys.platform.startswith("linux")
            site = web.TCPSite(runner, self.host or None, self.port, reuse_port=shared or None)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            where = f"{self.host}:{self.port}"
            raise ServiceStartError(f"unable to bind the ops server on {where}: {exc}") from exc
        self._runner = runner
        for address in runner.addresses:
            if isinstance(address, tuple):
                self.port = int(address[1])
                break

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        route = self._routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="not found")
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, headers={"Allow": "GET, HEAD"})
        return await route()

    async def _live(self) -> web.StreamResponse:
        return _json(200, liveness_body())

    async def _ready(self) -> web.StreamResponse:
        ready, body = readiness_report(self.services)
        return _json(200 if ready else 503, body)

    async def _metrics(self) -> web.StreamResponse:
        return await metrics_response(self.services)


def ops_server(runtime: Runtime, host: str, port: int) -> OpsServer:
    """The run's ops server on ``(host, port)`` (one per address, shared by the run's services)."""
    key = ("tomodachi.ops", host, port)
    return runtime.resource(key, lambda: OpsServer(runtime, host, port), OpsServer.close)


class OpsTransport(Transport):
    """Added by the container to a service whose ``ops`` options ask for an endpoint."""

    kind = "ops"

    def __init__(self, service: Service, runtime: Runtime) -> None:
        super().__init__(service, runtime)
        self.server: OpsServer | None = None
        self._metrics_on = False

    @property
    def port(self) -> int | None:
        """The port the endpoints are served on once started (the ops server's, or the service's
        HTTP server's)."""
        if self.server is not None:
            return self.server.port
        from tomodachi.transport.http import HttpTransport

        http = self.runtime.transport(self.service, HttpTransport)
        return http.port if http is not None else None

    async def setup(self) -> None:
        ops = self.service.options.ops
        if ops.metrics:
            from tomodachi.ops.prometheus import acquire, check_available

            check_available()
            acquire()  # released in close()
            self._metrics_on = True
        if ops.port is not None:
            self.server = ops_server(self.runtime, ops.host, ops.port)
            self.server.add(self.service)
            return
        from tomodachi.transport.http import mount

        if ops.health:
            mount(self.service, self.runtime, "GET", _exact(ops.liveness_path), self._live,
                  name="ops.liveness", ignore_logging=True)  # fmt: skip
            mount(self.service, self.runtime, "GET", _exact(ops.readiness_path), self._ready,
                  name="ops.readiness", ignore_logging=True)  # fmt: skip
        if ops.metrics:
            mount(self.service, self.runtime, "GET", _exact(ops.metrics_path), self._metrics,
                  name="ops.metrics", ignore_logging=True)  # fmt: skip

    async def start(self) -> None:
        if self.server is not None:
            await self.server.start()

    async def close(self) -> None:
        if self._metrics_on:
            from tomodachi.ops.prometheus import release

            self._metrics_on = False
            release()
        await super().close()

    @property
    def ready(self) -> bool:
        return True

    async def _live(self, request: web.BaseRequest) -> web.StreamResponse:
        return _json(200, liveness_body())

    async def _ready(self, request: web.BaseRequest) -> web.StreamResponse:
        ready, body = readiness_report([self.service])
        return _json(200 if ready else 503, body)

    async def _metrics(self, request: web.BaseRequest) -> web.StreamResponse:
        return await metrics_response([self.service])


def _exact(path: str) -> str:
    import re

    return "^" + re.escape(path) + "$"

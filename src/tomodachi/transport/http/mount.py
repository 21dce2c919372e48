"""Mounting an endpoint on a service's HTTP server from another transport (Starlette's ``Mount``).

::

    class MetricsTransport(tomodachi.Transport):
        async def setup(self) -> None:
            mount(self.service, self.runtime, "GET", r"/metrics", self._metrics)

        async def _metrics(self, request: web.BaseRequest) -> str:
            return render_metrics()

The service's ``HttpTransport`` serves the endpoint; when the service declares no HTTP handler
of its own, one is created for it (set up, started and stopped like a declared one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tomodachi.errors import ConfigurationError
from tomodachi.runtime import Runtime
from tomodachi.transport.http.declaration import IgnoreLogging
from tomodachi.transport.http.transport import HttpTransport

__all__ = ["mount"]


def mount(
    service: object,
    runtime: Runtime,
    method: str | Sequence[str],
    url: str,
    handler: Callable[..., Any],
    *,
    name: str | None = None,
    ignore_logging: IgnoreLogging = False,
) -> HttpTransport:
    """Serve *handler* for *method* on the regex *url* on the HTTP server of *service*.

    Call it from a transport's ``setup()`` (``mount(self.service, self.runtime, ...)``); later
    it raises ``ConfigurationError``. The arguments are those of :meth:`HttpTransport.mount`;
    returns the transport that serves it (its :attr:`~HttpTransport.port` is known once it has
    started).
    """
    record = runtime.record(service)
    if record is None:
        raise ConfigurationError(f"cannot mount {url!r}: {service!r} is not a service of this run")
    transport = record.container.ensure_transport(record, HttpTransport)
    transport.mount(method, url, handler, name=name, ignore_logging=ignore_logging)
    return transport

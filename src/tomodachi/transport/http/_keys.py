"""Keys of the per-request storage (``request[key]``, public in aiohttp) used by the transport.

aiohttp >= 3.12 recommends typed ``web.RequestKey`` keys (plain strings warn); older versions
only have strings.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

__all__ = ["FORWARDED_IP_KEY", "REAL_IP_RESOLVER_KEY", "ROUTE_INFO_KEY"]


def _key(name: str) -> Any:
    factory = getattr(web, "RequestKey", None)
    return factory(name, object) if factory is not None else name


#: ``(RouteLogInfo | None, handler elapsed seconds | None, perf_counter start | None)`` for the access log.
ROUTE_INFO_KEY: Any = _key("tomodachi.http.route_info")
#: The transport's ``RealIpResolver`` (only when ``http.real_ip_from`` is set).
REAL_IP_RESOLVER_KEY: Any = _key("tomodachi.http.real_ip_resolver")
#: The cached result of ``get_forwarded_remote_ip``.
FORWARDED_IP_KEY: Any = _key("tomodachi.http.forwarded_remote_ip")

"""The client IP behind trusted proxies: ``http.real_ip_from`` and ``http.real_ip_header``.

When the peer address of a request is inside one of the ``real_ip_from`` networks (a load
balancer or reverse proxy you trust), the client IP is the first value of the
``real_ip_header`` header (``X-Forwarded-For`` by default); otherwise it is the peer address.
Read it with ``tomodachi.get_forwarded_remote_ip(request)``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

from tomodachi.errors import ConfigurationError
from tomodachi.transport.http._keys import FORWARDED_IP_KEY, REAL_IP_RESOLVER_KEY

__all__ = ["RealIpResolver", "get_forwarded_remote_ip"]


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RealIpResolver:
    """Decides, per peer address, whether to trust the forwarding header (results are cached)."""

    __slots__ = ("_cache", "_networks", "header")

    _CACHE_LIMIT = 4096

    def __init__(self, real_ip_from: Iterable[str] | str, header: str = "X-Forwarded-For") -> None:
        items = [real_ip_from] if isinstance(real_ip_from, str) else list(real_ip_from)
        networks: list[_Network] = []
        for item in items:
            try:
                networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
            except ValueError as exc:
                raise ConfigurationError(
                    f"Invalid value for option 'http.real_ip_from': {item!r} "
                    f"is not an IP address or network ({exc})"
                ) from None
        self._networks = tuple(networks)
        self.header = header or "X-Forwarded-For"
        self._cache: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusted(self, peer: str) -> bool:
        known = self._cache.get(peer)
        if known is not None:
            return known
        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            result = False
        else:
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            result = any(address.version == net.version and address in net for net in self._networks)
        if len(self._cache) >= self._CACHE_LIMIT:
            self._cache.clear()
        self._cache[peer] = result
        return result

    def resolve(self, request: web.BaseRequest) -> str:
        peer = request.remote or ""
        if peer and self.trusted(peer):
            value = request.headers.get(self.header)
            if value:
                first = value.split(",", 1)[0].strip()
                if first:
                    return first
        return peer


def get_forwarded_remote_ip(request: web.BaseRequest) -> str:
    """The client IP of *request*: the forwarded one when the peer is a trusted proxy.

    Trusted proxies are configured with ``http.real_ip_from``; without it this is the peer IP.
    """
    result = request.get(FORWARDED_IP_KEY)
    if isinstance(result, str):
        return result
    resolver = request.get(REAL_IP_RESOLVER_KEY)
    if isinstance(resolver, RealIpResolver):
        result = resolver.resolve(request)
    else:
        result = request.remote or ""
    request[FORWARDED_IP_KEY] = result
    return result

"""Binding the HTTP server to its address, and the fields of the ``accepting http requests`` line.

:func:`listen` builds aiohttp's low-level server around the transport's request handler and
binds it (a bind failure is one ``ServiceStartError`` line); :func:`listening_fields` describes
the sockets it got, as the start-up line shows them.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from tomodachi.errors import ServiceStartError
from tomodachi.logging import Logger
from tomodachi.transport.http.access_log import AccessLogger
from tomodachi.transport.http.config import HttpConfig
from tomodachi.transport.http.handler import HttpState
from tomodachi.transport.http.server import Server

__all__ = ["listen", "listening_fields"]

_IS_LINUX = sys.platform.startswith("linux")


async def listen(
    handle: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
    config: HttpConfig,
    state: HttpState,
    fresh: dict[Any, float] | None,
    grace_period: float,
    log: Logger,
) -> web.ServerRunner:
    """aiohttp's server for *handle*, bound to ``http.host`` / ``http.port``.

    *fresh* is the transport's map of connections waiting for their request's headers (``None``
    without ``http.header_timeout``); *grace_period* bounds the writing of responses still on
    their way when the runner is cleaned up at the end of a stop.
    """
    reuse_port: bool | None = None
    if config.reuse_port:
        if _IS_LINUX:
            reuse_port = True
        else:
            log.warning("the 'http.reuse_port' option is only supported on Linux: it is ignored")
    server = Server(
        handle,
        fresh=fresh,
        defaults=state.defaults,
        errors=state.errors,
        access_log_class=AccessLogger,
        access_log=state.access_log,
        keepalive_timeout=max(float(config.keepalive_timeout), 0.0),
    )
    runner = web.ServerRunner(server, shutdown_timeout=max(float(grace_period), 0.1))
    await runner.setup()
    host = config.host or None
    requested = config.port or 0
    site = web.TCPSite(runner, host, requested, reuse_port=reuse_port)
    try:
        await site.start()
    except (OSError, OverflowError, ValueError) as exc:
        await runner.cleanup()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        message = f"unable to bind service [http] to http://{_display_host(host)}:{requested}/ ({reason})"
        # Not logged here: the runner logs the start-up failure once, with the file and service.
        raise ServiceStartError(message) from exc
    return runner


def listening_fields(host: str | None, port: int, addresses: Sequence[Any]) -> dict[str, Any]:
    """The fields of the ``accepting http requests`` line for a server bound to *addresses*."""
    shown = _display_host(host)
    fields: dict[str, Any] = {
        "listen_url": f"http://{shown}:{port}/",
        "listen_host": shown,
        "listen_port": port,
        "bound": " ".join(_bound_urls(addresses)),
    }
    if any(_is_wildcard(address[0]) for address in addresses):  # every interface: how to reach it here
        fields["local_url"] = f"http://127.0.0.1:{port}/"
    return fields


def _display_host(host: str | None) -> str:
    return "localhost" if host in (None, "", "0.0.0.0", "127.0.0.1", "::") else str(host)


def _is_wildcard(host: Any) -> bool:
    return host in ("0.0.0.0", "::")


def _bound_urls(addresses: Sequence[Any]) -> list[str]:
    """The URLs of the sockets really bound (``http://0.0.0.0:9700/``, ``http://[::]:9700/``)."""
    urls: list[str] = []
    for address in addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            host = str(address[0])
            url = f"http://[{host}]:{address[1]}/" if ":" in host else f"http://{host}:{address[1]}/"
        else:  # a unix socket path
            url = str(address)
        if url not in urls:
            urls.append(url)
    return urls

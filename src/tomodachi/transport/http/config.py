"""The ``http.*`` options, read once at set-up into the values the HTTP transport uses.

The routes are built elsewhere (:mod:`.route_builder`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["HttpConfig"]


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
    header_timeout: float = 20.0
    body_timeout: float = 60.0
    max_body_buffer: int = 512 * 1024 * 1024

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
            header_timeout=float(get("header_timeout") or 0),
            body_timeout=float(get("body_timeout") or 0),
            max_body_buffer=int(get("max_body_buffer") or 0),
        )

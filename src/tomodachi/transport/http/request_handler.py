"""``tomodachi.transport.http.RequestHandler``: kept for its deprecated ``get_request_ip``.

In the original it was the aiohttp protocol class of the server; services only used its
static method ``RequestHandler.get_request_ip(request)``. Here it is a plain class holding that
method, which is :func:`tomodachi.get_forwarded_remote_ip`.
"""

from __future__ import annotations

import warnings
from typing import Any

from aiohttp import web

from tomodachi.transport.http.real_ip import get_forwarded_remote_ip

__all__ = ["RequestHandler"]


class RequestHandler:
    """Holder of the deprecated :meth:`get_request_ip`; not a protocol class here."""

    @staticmethod
    def get_request_ip(request: web.BaseRequest, *args: Any, **kwargs: Any) -> str:
        """Deprecated: the client IP of *request*; use ``tomodachi.get_forwarded_remote_ip(request)``.

        Extra arguments (the original took the service context) are ignored: the trusted proxies
        come from the service's ``http.real_ip_from`` option.
        """
        warnings.warn(
            "RequestHandler.get_request_ip() is deprecated; use tomodachi.get_forwarded_remote_ip(request)",
            DeprecationWarning,
            stacklevel=2,
        )
        return get_forwarded_remote_ip(request)

"""``GraphQLContext``: what every resolver of one request (or one websocket connection) shares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web

    from tomodachi.service import Service

__all__ = ["GraphQLContext"]


@dataclass(slots=True)
class GraphQLContext:
    """``info.context`` of every resolver; resolvers may also ask for ``context`` by name.

    - ``service``: the service instance;
    - ``request``: the aiohttp request (for a websocket, the upgrade request);
    - ``values``: the keywords the service's ``http_middleware`` added (``await func(user=...)``),
      which resolvers can also take by name;
    - ``connection_params``: the ``connection_init`` payload of a websocket (``None`` over HTTP);
    - ``websocket``: the websocket of a subscription (``None`` over HTTP);
    - ``state``: a dict for the request's resolvers to share (a per-request cache, a data loader).
    """

    service: Service
    request: web.BaseRequest
    values: Mapping[str, Any] = field(default_factory=dict)
    connection_params: Mapping[str, Any] | None = None
    websocket: web.WebSocketResponse | None = None
    state: dict[str, Any] = field(default_factory=dict)

"""The endpoint mounted on the service's HTTP server: GraphQL over HTTP, the websocket, GraphiQL.

- ``POST <path>`` with a JSON body ``{"query", "variables", "operationName"}``;
- ``GET <path>?query=...&variables=...`` (queries only: a mutation answers 405);
- ``GET <path>`` with ``Upgrade: websocket``: the ``graphql-transport-ws`` protocol;
- ``GET <path>`` from a browser (``Accept: text/html``, no query): the GraphiQL page, when on.

The service's ``http_middleware`` runs around all of them (once per websocket connection, around
its whole life); the keywords it adds reach the resolvers. Request errors answer 400 with GraphQL
errors; an executed request answers 200, field errors included.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import hdrs, web

from tomodachi.injection import Invoke, compile_middleware_chain
from tomodachi.transport.graphql.context import GraphQLContext
from tomodachi.transport.graphql.execution import Executor, RequestError
from tomodachi.transport.graphql.graphiql import graphiql_page

if TYPE_CHECKING:
    from tomodachi.service import Service
    from tomodachi.transport.graphql.websocket import Connections

__all__ = ["GraphQLEndpoint"]

_JSON = "application/json"
_GRAPHQL_JSON = "application/graphql-response+json"
#: The values a middleware's extra keywords cannot override.
_PROTECTED = ("request",)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class GraphQLEndpoint:
    """The mounted handler: ``await endpoint(request)``."""

    def __init__(
        self,
        service: Service,
        executor: Executor,
        connections: Connections,
        *,
        graphiql: bool,
        middlewares: Sequence[Callable[..., Any]],
    ) -> None:
        self.service = service
        self.executor = executor
        self.connections = connections
        self.graphiql = graphiql_page(str(getattr(service, "name", "") or "service")) if graphiql else None
        self.invoke: Invoke | None = (
            compile_middleware_chain(middlewares, self._serve, 2, protected=_PROTECTED)
            if middlewares
            else None
        )

    async def __call__(self, request: web.BaseRequest) -> Any:
        values = {"request": request}
        if self.invoke is None:
            return await self._serve(values)
        return await self.invoke((self.service, request), values)

    async def _serve(self, values: Mapping[str, Any]) -> web.StreamResponse:
        request: web.BaseRequest = values["request"]
        extras = {key: value for key, value in values.items() if key != "request"}
        if request.method == "POST":
            return await self._post(request, extras)
        if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
            return await self.connections.serve(request, extras)
        if "query" not in request.query and self.graphiql is not None and _wants_html(request):
            return web.Response(text=self.graphiql, content_type="text/html")
        return await self._get(request, extras)

    async def _post(self, request: web.BaseRequest, extras: dict[str, Any]) -> web.StreamResponse:
        media = _media_type(request)
        if request.content_type != _JSON:
            return _errors(
                RequestError.of(
                    "The body must be JSON (Content-Type: application/json).", "BAD_REQUEST", status=415
                ),
                media,
            )
        body = await request.read()  # over http.client_max_size: aiohttp's 413
        try:
            params = json.loads(body)
        except ValueError:
            return _errors(RequestError.of("The body is not valid JSON.", "BAD_REQUEST"), media)
        if isinstance(params, list):
            return _errors(RequestError.of("Batched requests are not supported.", "BAD_REQUEST"), media)
        if not isinstance(params, dict):
            return _errors(RequestError.of("The body must be a JSON object.", "BAD_REQUEST"), media)
        return await self._run(request, params, extras, media, allow_mutation=True)

    async def _get(self, request: web.BaseRequest, extras: dict[str, Any]) -> web.StreamResponse:
        media = _media_type(request)
        params: dict[str, Any] = {"query": request.query.get("query")}
        if "operationName" in request.query:
            params["operationName"] = request.query["operationName"]
        variables = request.query.get("variables")
        if variables:
            try:
                params["variables"] = json.loads(variables)
            except ValueError:
                return _errors(RequestError.of("Variables are not valid JSON.", "BAD_REQUEST"), media)
        return await self._run(request, params, extras, media, allow_mutation=False)

    async def _run(
        self,
        request: web.BaseRequest,
        params: Mapping[str, Any],
        extras: dict[str, Any],
        media: str,
        *,
        allow_mutation: bool,
    ) -> web.StreamResponse:
        try:
            prepared = self.executor.prepare(params)
        except RequestError as error:
            return _errors(error, media)
        kind = prepared.kind.value
        if kind == "subscription":
            refused = RequestError.of(
                "Subscriptions need a websocket (the graphql-transport-ws protocol) on this path.",
                "BAD_REQUEST",
            )
            return _errors(refused, media)
        if kind == "mutation" and not allow_mutation:
            refused = RequestError.of("Mutations must be sent with POST.", "BAD_REQUEST", status=405)
            response = _errors(refused, media)
            response.headers[hdrs.ALLOW] = "POST"
            return response
        context = GraphQLContext(self.service, request, extras)
        result = await self.executor.execute(prepared, context)
        return web.Response(text=_dumps(result), content_type=media)


def _accepts(request: web.BaseRequest) -> str:
    return request.headers.get(hdrs.ACCEPT, "")


def _wants_html(request: web.BaseRequest) -> bool:
    return "text/html" in _accepts(request)


def _media_type(request: web.BaseRequest) -> str:
    return _GRAPHQL_JSON if _GRAPHQL_JSON in _accepts(request) else _JSON


def _errors(error: RequestError, media: str) -> web.Response:
    return web.Response(status=error.status, text=_dumps({"errors": error.errors}), content_type=media)

"""GraphQL resolvers as service methods: ``tomodachi[graphql]`` (graphql-core).

::

    class Service(tomodachi.Service):
        name = "books"
        graphql_schema = '''
            type Query { book(id: ID!): Book }
            type Book { id: ID!  title: String! }
        '''

        @tomodachi.graphql_query("book")
        async def book(self, id: str) -> dict | None:
            return BOOKS.get(id)

The endpoint (``POST/GET /graphql``, the ``graphql-transport-ws`` websocket, GraphiQL) is mounted
on the service's HTTP server. See docs/graphql.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tomodachi.transport.graphql.broadcast import Broadcast, BroadcastOverflow, Subscriber
from tomodachi.transport.graphql.context import GraphQLContext
from tomodachi.transport.graphql.declaration import GraphQLResolver
from tomodachi.transport.graphql.decorators import (
    graphql_field,
    graphql_mutation,
    graphql_query,
    graphql_subscription,
)
from tomodachi.transport.graphql.options import GraphQLOptions
from tomodachi.transport.graphql.transport import GraphQLTransport

if TYPE_CHECKING:
    from graphql import GraphQLError

__all__ = [
    "Broadcast",
    "BroadcastOverflow",
    "GraphQLContext",
    "GraphQLError",
    "GraphQLOptions",
    "GraphQLResolver",
    "GraphQLTransport",
    "Subscriber",
    "graphql_field",
    "graphql_mutation",
    "graphql_query",
    "graphql_subscription",
]


def __getattr__(name: str) -> Any:
    if name == "GraphQLError":  # graphql-core's, imported on first use
        from graphql import GraphQLError

        return GraphQLError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

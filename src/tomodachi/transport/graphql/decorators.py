"""``@graphql_query``, ``@graphql_mutation``, ``@graphql_subscription``, ``@graphql_field``.

Each only declares (a :class:`GraphQLResolver` on the method) and returns the method unchanged;
the schema is the service's ``graphql_schema`` (SDL), checked against the declarations when the
service starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

from tomodachi.transport.graphql.declaration import GraphQLResolver
from tomodachi.transport.graphql.transport import GraphQLTransport

__all__ = ["graphql_field", "graphql_mutation", "graphql_query", "graphql_subscription"]

F = TypeVar("F", bound=Callable[..., Any])


@overload
def graphql_query(field: F, /) -> F: ...
@overload
def graphql_query(field: str | None = None) -> Callable[[F], F]: ...
def graphql_query(field: Any = None) -> Any:
    """Resolve the field *field* (default: the method's name) of the schema's query type."""
    if callable(field):  # used bare: @graphql_query
        return GraphQLTransport.decorator(GraphQLResolver("query"))(field)
    return GraphQLTransport.decorator(GraphQLResolver("query", field))


@overload
def graphql_mutation(field: F, /) -> F: ...
@overload
def graphql_mutation(field: str | None = None) -> Callable[[F], F]: ...
def graphql_mutation(field: Any = None) -> Any:
    """Resolve the field *field* (default: the method's name) of the schema's mutation type."""
    if callable(field):  # used bare: @graphql_mutation
        return GraphQLTransport.decorator(GraphQLResolver("mutation"))(field)
    return GraphQLTransport.decorator(GraphQLResolver("mutation", field))


@overload
def graphql_subscription(field: F, /) -> F: ...
@overload
def graphql_subscription(field: str | None = None) -> Callable[[F], F]: ...
def graphql_subscription(field: Any = None) -> Any:
    """The event stream of the subscription field *field* (default: the method's name).

    The method is an async generator (``yield`` each value of the field), or returns an async
    iterable (e.g. ``Broadcast.subscribe(topic)``).
    """
    if callable(field):  # used bare: @graphql_subscription
        return GraphQLTransport.decorator(GraphQLResolver("subscription"))(field)
    return GraphQLTransport.decorator(GraphQLResolver("subscription", field))


def graphql_field(type_name: str, field: str | None = None) -> Callable[[F], F]:
    """Resolve the field *field* (default: the method's name) of the object type *type_name*;
    the method gets the object being resolved as ``parent``."""
    return GraphQLTransport.decorator(GraphQLResolver("field", field, type_name))

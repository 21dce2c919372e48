"""The ``graphql.*`` option section (registered when this package is imported)."""

from __future__ import annotations

from typing import Any

from tomodachi.options import OptionsInterface, checks, option, register_section

__all__ = ["GraphQLOptions"]


def _check_path(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/") or any(c.isspace() for c in value):
        raise checks.invalid(key, value, "a URL path starting with '/', e.g. '/graphql'")
    return value


def _check_optional_bool(key: str, value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise checks.invalid(key, value, "True, False or None (None: on, except in production)")
    return value


class GraphQLOptions(OptionsInterface):
    """``graphql.*``: where the endpoint is mounted and the limits every request is checked against."""

    #: The URL path of the endpoint (POST and GET queries, the websocket, the GraphiQL page).
    path: str = option("/graphql", _check_path)
    #: Serve the GraphiQL page on ``GET <path>`` for browsers. ``None``: on, except in production.
    graphiql: bool | None = option(None, _check_optional_bool)
    #: Answer introspection queries (``__schema``, ``__type``). ``None``: on, except in production.
    introspection: bool | None = option(None, _check_optional_bool)
    #: The deepest selection a query may have (``0``: no limit).
    max_depth: int = option(15, checks.int_check(0))
    #: The most fields a query may select, fragments counted at each use (``0``: no limit).
    max_complexity: int = option(1000, checks.int_check(0))
    #: The longest query document, in characters (``0``: no limit).
    max_query_size: int = option(10_000, checks.int_check(0))
    #: Replace the message of an unexpected exception in a resolver with "Internal server error".
    mask_errors: bool = option(True, checks.check_bool)
    #: Seconds a websocket client has to send ``connection_init`` before it is closed (4408).
    connection_init_timeout: float = option(10.0, checks.number_check(positive=True))
    #: Operations one websocket connection may run at once (a further one gets an error).
    max_subscriptions: int = option(100, checks.int_check(1))


register_section("graphql", GraphQLOptions)

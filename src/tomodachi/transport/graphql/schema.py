"""The service's schema: its SDL (``graphql_schema``) built once, the decorated methods bound to it.

A mistake (no schema, invalid SDL, a resolver for a type or field the schema lacks, two resolvers
for one field) is a ``ConfigurationError`` naming the handler: one line at start-up.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
)

from tomodachi.errors import ConfigurationError
from tomodachi.injection import HandlerCall, compile_handler
from tomodachi.logging import Logger, get_logger, reset_context_logger
from tomodachi.logging.context import ContextLoggerSetter
from tomodachi.transport.base import Handler
from tomodachi.transport.graphql.broadcast import BroadcastOverflow
from tomodachi.transport.graphql.context import GraphQLContext
from tomodachi.transport.graphql.declaration import GraphQLResolver

__all__ = ["INTERNAL_ERROR", "bind_resolvers", "load_schema"]

#: The message a client gets for an unexpected exception (``graphql.mask_errors``).
INTERNAL_ERROR = "Internal server error"

_SDL_FILE = re.compile(r"^[^{}\n]+\.(graphqls?|gql)$")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def load_schema(sdl: Any, service_file: str | None, where: str) -> GraphQLSchema:
    """Build the schema from *sdl*: SDL text, or the path of a ``.graphql`` file (relative to the
    service file's directory)."""
    if not isinstance(sdl, str) or not sdl.strip():
        raise ConfigurationError(
            f"{where}: the service declares GraphQL resolvers but no graphql_schema "
            '(a class attribute with the schema in SDL, e.g. graphql_schema = "type Query { ... }")'
        )
    text = sdl
    if _SDL_FILE.match(sdl.strip()):
        path = Path(sdl.strip())
        if not path.is_absolute() and service_file:
            path = Path(service_file).resolve().parent / path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"{where}: cannot read graphql_schema file {str(path)!r}: {exc.strerror}"
            ) from None
    try:
        return build_schema(text)
    except Exception as exc:  # GraphQLSyntaxError, TypeError for an invalid schema
        raise ConfigurationError(f"{where}: invalid graphql_schema: {_one_line(str(exc))}") from None


def _snake(name: str) -> str:
    return _CAMEL.sub(r"_\1", name).lower()


def _renames(func: Callable[..., Any], field: GraphQLField) -> dict[str, str]:
    """``{argument: parameter}`` for arguments the resolver takes in snake_case (``userId``:
    ``user_id``)."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return {}
    return {name: _snake(name) for name in field.args if name not in params and _snake(name) in params}


class ResolverCall:
    """A decorated method as graphql-core calls a resolver: ``resolve(parent, info, **arguments)``.

    The method gets, by name: the field's arguments (also in snake_case), ``parent``, ``info``,
    ``context`` (the :class:`GraphQLContext`), ``request`` and the keywords ``http_middleware``
    added. An exception other than ``GraphQLError`` is logged once and becomes
    "Internal server error" (``graphql.mask_errors``).
    """

    __slots__ = ("call", "field", "log", "logger", "mask", "name", "renames", "set_logger")

    def __init__(
        self, name: str, func: Callable[..., Any], field_label: str, renames: dict[str, str], mask: bool
    ) -> None:
        self.name = name
        self.field = field_label
        self.call: HandlerCall = compile_handler(func)
        self.renames = renames
        self.mask = mask
        self.logger: Logger = get_logger("tomodachi.graphql.handler").new(
            handler=name, type="tomodachi.graphql"
        )
        self.set_logger = ContextLoggerSetter(self.logger)  # set per resolver call
        self.log = get_logger("tomodachi.graphql")

    def values(self, parent: Any, info: Any, arguments: dict[str, Any]) -> dict[str, Any]:
        context = info.context
        values: dict[str, Any]
        if isinstance(context, GraphQLContext):
            values = {**context.values, "request": context.request, "context": context}
        else:
            values = {"context": context}
        values["parent"] = parent
        values["info"] = info
        renames = self.renames
        for key, value in arguments.items():
            values[renames.get(key, key)] = value
        return values

    async def __call__(self, parent: Any, info: Any, **arguments: Any) -> Any:
        token = self.set_logger.set()
        try:
            return await self.call(self.values(parent, info, arguments))
        except GraphQLError:
            raise
        except Exception as exc:
            raise self.failed(exc, info) from None
        finally:
            reset_context_logger(token)

    def failed(self, exc: Exception, info: Any) -> GraphQLError:
        self.log.error(
            "uncaught exception in resolver",
            handler=self.name,
            field=self.field,
            path=".".join(str(key) for key in info.path.as_list()),
            exc_info=exc,
        )
        return GraphQLError(INTERNAL_ERROR if self.mask else _one_line(str(exc)) or type(exc).__name__)


class SubscribeCall(ResolverCall):
    """The event stream of a subscription field: the method's async iterable (a generator's, or
    what it returns)."""

    async def __call__(self, parent: Any, info: Any, **arguments: Any) -> Any:
        token = self.set_logger.set()
        try:
            stream = await self.call(self.values(parent, info, arguments))
        except GraphQLError:
            raise
        except Exception as exc:
            raise self.failed(exc, info) from None
        finally:
            reset_context_logger(token)
        if not hasattr(stream, "__aiter__"):
            wrong = TypeError(f"{self.name} returned {type(stream).__name__}, not an async iterable")
            raise self.failed(wrong, info)
        return self._guarded(stream.__aiter__(), info)

    async def _guarded(self, iterator: AsyncIterator[Any], info: Any) -> AsyncIterator[Any]:
        """The stream's values, with the handler's context logger while it produces each; an
        exception is logged once and ends the stream with "Internal server error"; closing this
        closes the method's stream (a generator's ``finally`` runs, a subscriber unsubscribes)."""
        try:
            while True:
                token = self.set_logger.set()
                try:
                    value = await iterator.__anext__()
                except StopAsyncIteration:
                    return
                except GraphQLError:
                    raise
                except BroadcastOverflow as exc:
                    raise GraphQLError(str(exc), extensions={"code": "SUBSCRIPTION_OVERFLOW"}) from None
                except Exception as exc:
                    raise self.failed(exc, info) from None
                finally:
                    reset_context_logger(token)
                yield value
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()


def _event(value: Any, info: Any, **_arguments: Any) -> Any:
    """A subscription field's value is the event itself (what the stream yielded)."""
    return value


def _root(schema: GraphQLSchema, kind: str) -> GraphQLObjectType | None:
    if kind == "query":
        return schema.query_type
    if kind == "mutation":
        return schema.mutation_type
    return schema.subscription_type


def bind_resolvers(schema: GraphQLSchema, handlers: Sequence[Handler], *, mask_errors: bool) -> list[str]:
    """Attach each decorated method to its field of *schema*; returns the root fields left
    without a resolver (for a warning)."""
    bound: dict[tuple[str, str], str] = {}
    for handler in handlers:
        declaration = handler.args[0] if len(handler.args) == 1 else None
        if not isinstance(declaration, GraphQLResolver):
            raise ConfigurationError(
                f"unknown graphql declaration {handler.args!r} on handler {handler.name!r}"
            )
        field_name = declaration.field if declaration.field is not None else handler.name
        kind = declaration.kind
        label = f"@graphql_{kind} on {handler.name}"
        if not isinstance(field_name, str) or not field_name:
            raise ConfigurationError(f"{label}: invalid field name {field_name!r}")
        if kind == "field":
            type_name = declaration.type_name
            found = schema.get_type(type_name) if isinstance(type_name, str) else None
            if not isinstance(found, GraphQLObjectType):
                raise ConfigurationError(f"{label}: the schema has no object type {type_name!r}")
            owner = found
        else:
            root = _root(schema, kind)
            if root is None:
                raise ConfigurationError(f"{label}: the schema has no {kind} type")
            owner = root
        field = owner.fields.get(field_name)
        if field is None:
            raise ConfigurationError(f"{label}: the schema's type {owner.name!r} has no field {field_name!r}")
        key = (owner.name, field_name)
        if key in bound:
            raise ConfigurationError(
                f"{label}: {owner.name}.{field_name} is already resolved by {bound[key]!r}"
            )
        bound[key] = handler.name
        renames = _renames(handler.func, field)
        field_label = f"{owner.name}.{field_name}"
        if kind == "subscription":
            field.subscribe = SubscribeCall(handler.name, handler.func, field_label, renames, mask_errors)
            field.resolve = _event
        else:
            field.resolve = ResolverCall(handler.name, handler.func, field_label, renames, mask_errors)
    unresolved: list[str] = []
    for kind in ("query", "mutation", "subscription"):
        root = _root(schema, kind)
        if root is not None:
            unresolved.extend(f"{root.name}.{name}" for name in root.fields if (root.name, name) not in bound)
    return unresolved

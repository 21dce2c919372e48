"""One GraphQL request: size check, parse, validate (spec rules + limits), execute, format.

Shared by the HTTP endpoint and the websocket protocol, so both apply the same limits and the
same error rules: a request error (too large, unparsable, invalid, too deep or complex) is a list
of GraphQL errors and nothing runs; a resolver's exception is a field error whose message is
"Internal server error" unless it is a ``GraphQLError`` (then its message and ``extensions`` are
the client's); no traceback ever reaches a client.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    specified_rules,
    subscribe,
    validate,
)

from tomodachi.logging import get_logger
from tomodachi.transport.graphql.limits import query_limit_rule
from tomodachi.transport.graphql.options import GraphQLOptions
from tomodachi.transport.graphql.schema import INTERNAL_ERROR

__all__ = ["Executor", "Prepared", "RequestError"]


class RequestError(Exception):
    """The request cannot run: its GraphQL errors (formatted) for the client; nothing was executed."""

    def __init__(self, errors: list[dict[str, Any]], *, status: int = 400) -> None:
        super().__init__(errors[0]["message"] if errors else "bad request")
        self.errors = errors
        self.status = status

    @classmethod
    def of(cls, message: str, code: str, *, status: int = 400) -> RequestError:
        return cls([{"message": message, "extensions": {"code": code}}], status=status)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A parsed and validated operation, ready to execute."""

    document: DocumentNode
    operation: OperationDefinitionNode
    variables: dict[str, Any] | None
    operation_name: str | None

    @property
    def kind(self) -> OperationType:
        return self.operation.operation


class Executor:
    """Prepares and runs requests against one schema with the service's ``graphql.*`` limits."""

    def __init__(self, schema: GraphQLSchema, settings: GraphQLOptions, *, introspection: bool) -> None:
        self.schema = schema
        self.settings = settings
        self.introspection = introspection
        rules: list[type[ASTValidationRule]] = list(specified_rules)
        if not introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        if settings.max_depth or settings.max_complexity:
            rules.append(query_limit_rule(settings.max_depth, settings.max_complexity))
        self.rules = tuple(rules)
        self.log = get_logger("tomodachi.graphql")

    def prepare(self, params: Mapping[str, Any]) -> Prepared:
        """Check and parse the request parameters ``query``, ``variables``, ``operationName``;
        raises :class:`RequestError`."""
        query = params.get("query")
        if not isinstance(query, str) or not query.strip():
            raise RequestError.of("Must provide a query string.", "BAD_REQUEST")
        variables = params.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise RequestError.of("Variables must be a JSON object.", "BAD_REQUEST")
        operation_name = params.get("operationName")
        if operation_name is not None and not isinstance(operation_name, str):
            raise RequestError.of("operationName must be a string.", "BAD_REQUEST")
        limit = self.settings.max_query_size
        if limit and len(query) > limit:
            raise RequestError.of(
                f"Query is too large: {len(query)} characters, the limit is {limit}.", "QUERY_TOO_LARGE"
            )
        try:
            document = parse(query)
        except GraphQLError as error:
            raise RequestError([_with_code(error.formatted, "GRAPHQL_PARSE_FAILED")]) from None
        errors = validate(self.schema, document, self.rules)
        if errors:
            raise RequestError([_with_code(error.formatted, "GRAPHQL_VALIDATION_FAILED") for error in errors])
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            message = (
                f"Unknown operation named {operation_name!r}."
                if operation_name
                else "Must provide operation name if query contains multiple operations."
            )
            raise RequestError.of(message, "BAD_REQUEST")
        return Prepared(document, operation, variables, operation_name)

    async def execute(self, prepared: Prepared, context: Any) -> dict[str, Any]:
        """Run a query or mutation; the formatted result (``data``, ``errors``)."""
        result = execute(
            self.schema,
            prepared.document,
            context_value=context,
            variable_values=prepared.variables,
            operation_name=prepared.operation_name,
        )
        if inspect.isawaitable(result):
            result = await result
        return self.format(result)

    async def subscribe(
        self, prepared: Prepared, context: Any
    ) -> AsyncIterator[ExecutionResult] | dict[str, Any]:
        """Start a subscription: its stream of results, or the formatted result of a failed start."""
        result: Any = subscribe(
            self.schema,
            prepared.document,
            context_value=context,
            variable_values=prepared.variables,
            operation_name=prepared.operation_name,
        )
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, ExecutionResult):
            return self.format(result)
        stream: AsyncIterator[ExecutionResult] = result
        return stream

    def format(self, result: ExecutionResult) -> dict[str, Any]:
        """The JSON-ready result; an error from an unexpected exception is logged and masked."""
        formatted: dict[str, Any] = {}
        if result.errors:
            formatted["errors"] = [self.format_error(error) for error in result.errors]
        formatted["data"] = result.data
        return formatted

    def format_error(self, error: GraphQLError) -> dict[str, Any]:
        original = error.original_error
        output = dict(error.formatted)
        if original is not None and not isinstance(original, GraphQLError):
            # Not raised through a decorated resolver (which logs and wraps its own): a default
            # resolver, a scalar's serializer, a subscription's stream.
            self.log.error(
                "uncaught exception in graphql execution", path=output.get("path"), exc_info=original
            )
            if self.settings.mask_errors:
                output["message"] = INTERNAL_ERROR
                output.pop("extensions", None)
        return output


def _with_code(formatted: Mapping[str, Any], code: str) -> dict[str, Any]:
    output = dict(formatted)
    extensions = dict(output.get("extensions") or {})
    extensions.setdefault("code", code)
    output["extensions"] = extensions
    return output

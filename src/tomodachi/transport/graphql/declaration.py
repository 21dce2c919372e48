"""What the ``@graphql_*`` decorators attach: one frozen declaration per resolver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["GraphQLResolver", "ResolverKind"]

ResolverKind = Literal["query", "mutation", "subscription", "field"]


@dataclass(frozen=True, slots=True)
class GraphQLResolver:
    """The field of the service's schema a method resolves.

    *type_name* is ``"Query"``, ``"Mutation"`` or ``"Subscription"`` (the schema's root types,
    whatever they are called there) for the root kinds, the object type for ``field``;
    *field* ``None`` means the method's name.
    """

    kind: ResolverKind
    field: str | None = None
    type_name: str | None = None

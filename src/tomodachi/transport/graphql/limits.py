"""Validation rules for ``graphql.max_depth`` and ``graphql.max_complexity``.

Both walk an operation's selections once, fragments included (each fragment is measured once and
reused at every spread, so a document built to explode through nested fragments costs no more to
check than its size). A fragment cycle counts as nothing here; the spec's own rule reports it.
Introspection fields (``__schema``, ``__type``) are not counted: ``graphql.introspection``
switches them off, and ``__typename`` is free.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
)

__all__ = ["measure", "query_limit_rule"]


class _Measure:
    """Depth and field count of selection sets, fragments memoized."""

    def __init__(self, context: ValidationContext) -> None:
        self.context = context
        self.fragments: dict[str, tuple[int, int]] = {}
        self.visiting: set[str] = set()

    def selection_set(self, selection_set: SelectionSetNode | None) -> tuple[int, int]:
        if selection_set is None:
            return 0, 0
        depth = complexity = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__"):
                    continue  # __typename is free; introspection has its own switch
                sub_depth, sub_complexity = self.selection_set(selection.selection_set)
                depth = max(depth, 1 + sub_depth)
                complexity += 1 + sub_complexity
            elif isinstance(selection, InlineFragmentNode):
                sub_depth, sub_complexity = self.selection_set(selection.selection_set)
                depth, complexity = max(depth, sub_depth), complexity + sub_complexity
            elif isinstance(selection, FragmentSpreadNode):
                sub_depth, sub_complexity = self.fragment(selection.name.value)
                depth, complexity = max(depth, sub_depth), complexity + sub_complexity
        return depth, complexity

    def fragment(self, name: str) -> tuple[int, int]:
        known = self.fragments.get(name)
        if known is not None:
            return known
        fragment = self.context.get_fragment(name)
        if fragment is None or name in self.visiting:
            return 0, 0
        self.visiting.add(name)
        try:
            result = self.selection_set(fragment.selection_set)
        finally:
            self.visiting.discard(name)
        self.fragments[name] = result
        return result


def measure(context: ValidationContext, operation: OperationDefinitionNode) -> tuple[int, int]:
    """``(depth, complexity)`` of *operation*: its deepest field path, and how many fields it selects
    (introspection fields and ``__typename`` are not counted; a fragment counts at each use)."""
    return _Measure(context).selection_set(operation.selection_set)


def query_limit_rule(max_depth: int, max_complexity: int) -> type[ASTValidationRule]:
    """A validation rule reporting operations over *max_depth* or *max_complexity* (0: no limit)."""

    class QueryLimitRule(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            depth, complexity = measure(self.context, node)  # type: ignore[arg-type]
            name = f"operation {node.name.value!r}" if node.name else "the operation"
            if max_depth and depth > max_depth:
                self.report_error(
                    GraphQLError(
                        f"Query is too deep: {name} has a depth of {depth}, the limit is {max_depth}.",
                        node,
                        extensions={"code": "QUERY_TOO_DEEP"},
                    )
                )
            if max_complexity and complexity > max_complexity:
                self.report_error(
                    GraphQLError(
                        f"Query is too complex: {name} selects {complexity} fields, "
                        f"the limit is {max_complexity}.",
                        node,
                        extensions={"code": "QUERY_TOO_COMPLEX"},
                    )
                )

    return QueryLimitRule

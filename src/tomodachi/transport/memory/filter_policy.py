"""AWS SNS subscription filter policies, applied to message attributes (the default scope).

A policy maps attribute names to lists of conditions. A message matches when *every* key of
the policy matches (AND) and, for each key, *at least one* condition matches the attribute
(OR). Supported conditions:

=====================================  ===================================================
``"text"``                             exact string match
``42`` / ``4.2``                       numeric equality (``Number`` attributes)
``{"prefix": "ab"}``                   string starts with
``{"suffix": "yz"}``                   string ends with
``{"equals-ignore-case": "Ab"}``       case-insensitive string equality
``{"anything-but": v | [v, ...]}``     present, and equal to none of the values
``{"anything-but": {"prefix": "x"}}``  present, and not starting with (also ``suffix``)
``{"numeric": ["=", 5]}``              one comparison: ``=``, ``<``, ``<=``, ``>``, ``>=``
``{"numeric": [">", 0, "<=", 9]}``     a range: one lower and one upper bound
``{"exists": true}`` / ``false``       attribute present / absent
=====================================  ===================================================

Attributes use the botocore shape ``{"name": {"DataType": ..., "StringValue": ...}}``.
``String`` values match string conditions, ``Number`` values match numeric conditions
(compared as floats), and a ``String.Array`` (a JSON array in ``StringValue``) matches when any
of its elements does — except ``anything-but``, which needs *none* of its elements excluded.
``Binary`` attributes, and attributes whose value cannot be parsed, match no condition.
Payload-based (nested) policies and ``$or`` are not supported.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["matches_filter_policy", "validate_filter_policy"]

_STRING_OPERATORS = frozenset({"prefix", "suffix", "equals-ignore-case"})
_OPERATORS = _STRING_OPERATORS | {"anything-but", "numeric", "exists"}
_LOWER = frozenset({">", ">="})
_UPPER = frozenset({"<", "<="})
_Value = str | float  # an attribute value: strings stay str, numbers become float


def validate_filter_policy(policy: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` explaining what is wrong if *policy* is not a supported filter policy."""
    if not isinstance(policy, Mapping):
        raise ValueError(f"a filter policy must be a JSON object, not {type(policy).__name__}")
    for key, conditions in policy.items():
        if not isinstance(key, str):
            raise ValueError(f"filter policy keys must be strings, not {key!r}")
        if key.startswith("$"):
            raise ValueError(f"filter policy key {key!r}: operators such as $or are not supported")
        if isinstance(conditions, Mapping):
            raise ValueError(f"filter policy key {key!r}: nested (payload-based) policies are not supported")
        if not isinstance(conditions, list | tuple) or not conditions:
            raise ValueError(f"filter policy key {key!r}: the value must be a non-empty list of conditions")
        for condition in conditions:
            _validate_condition(key, condition)


def matches_filter_policy(
    policy: Mapping[str, Any] | None,
    attributes: Mapping[str, Mapping[str, Any]],
) -> bool:
    """Whether a message with *attributes* passes *policy* (``None`` or ``{}`` passes everything)."""
    if not policy:
        return True
    for key, conditions in policy.items():
        attribute = attributes.get(key)
        values = None if attribute is None else _attribute_values(attribute)
        if not any(_condition_matches(condition, attribute is not None, values) for condition in conditions):
            return False
    return True


# -- validation ----------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _validate_condition(key: str, condition: Any) -> None:
    where = f"filter policy key {key!r}"
    if isinstance(condition, str) or _is_number(condition):
        return
    if not isinstance(condition, Mapping):
        raise ValueError(f"{where}: unsupported condition {condition!r} (use a string, number or operator)")
    if len(condition) != 1:
        raise ValueError(f"{where}: an operator object needs exactly one operator, got {dict(condition)!r}")
    ((operator, operand),) = condition.items()
    if operator not in _OPERATORS:
        raise ValueError(f"{where}: unknown operator {operator!r} (supported: {sorted(_OPERATORS)})")
    if operator in _STRING_OPERATORS:
        if not isinstance(operand, str):
            raise ValueError(f"{where}: {operator!r} needs a string, not {operand!r}")
    elif operator == "exists":
        if not isinstance(operand, bool):
            raise ValueError(f"{where}: 'exists' needs true or false, not {operand!r}")
    elif operator == "numeric":
        _validate_numeric(where, operand)
    else:
        _validate_anything_but(where, operand)


def _validate_numeric(where: str, operand: Any) -> None:
    if not isinstance(operand, list | tuple) or len(operand) not in (2, 4):
        raise ValueError(f"{where}: 'numeric' needs [op, n] or [op, n, op, n], not {operand!r}")
    ops = operand[0::2]
    for op, number in zip(ops, operand[1::2], strict=True):
        if op not in {"=", *_LOWER, *_UPPER}:
            raise ValueError(f"{where}: unknown numeric operator {op!r}")
        if not _is_number(number):
            raise ValueError(f"{where}: numeric operator {op!r} needs a finite number, not {number!r}")
    if len(ops) == 2 and not (
        (ops[0] in _LOWER and ops[1] in _UPPER) or (ops[0] in _UPPER and ops[1] in _LOWER)
    ):
        raise ValueError(f"{where}: a numeric range needs one lower (>, >=) and one upper (<, <=) bound")


def _validate_anything_but(where: str, operand: Any) -> None:
    if isinstance(operand, str) or _is_number(operand):
        return
    if isinstance(operand, list | tuple):
        if not operand or not all(isinstance(item, str) or _is_number(item) for item in operand):
            raise ValueError(f"{where}: 'anything-but' needs a non-empty list of strings or numbers")
        return
    if isinstance(operand, Mapping) and len(operand) == 1:
        ((operator, text),) = operand.items()
        if operator in ("prefix", "suffix") and isinstance(text, str):
            return
    raise ValueError(
        f"{where}: 'anything-but' needs a string, a number, a list of them, or {{'prefix'|'suffix': str}}"
    )


# -- matching ------------------------------------------------------------------------------
def _attribute_values(attribute: Mapping[str, Any]) -> list[_Value] | None:
    """The values of one attribute to match against, or ``None`` if it can never match."""
    data_type = str(attribute.get("DataType", ""))
    raw = attribute.get("StringValue")
    if not isinstance(raw, str):
        return None
    try:
        if data_type == "String.Array":
            items = json.loads(raw)
            if not isinstance(items, list):
                return None
            # Elements that are neither strings nor numbers (true, null, objects) match nothing.
            return [item if isinstance(item, str) else float(item) for item in items if _json_scalar(item)]
        base = data_type.split(".", 1)[0]  # custom types such as "String.uuid" behave like their base
        if base == "String":
            return [raw]
        if base == "Number":
            number = float(raw)
            return [number] if math.isfinite(number) else None
    except ValueError:  # json.JSONDecodeError is a ValueError too
        return None
    return None  # Binary (and unknown types)


def _json_scalar(item: Any) -> bool:
    return isinstance(item, str) or _is_number(item)


def _condition_matches(condition: Any, present: bool, values: list[_Value] | None) -> bool:
    if isinstance(condition, Mapping) and "exists" in condition:
        # "exists: false" is the only condition an absent attribute can satisfy.
        return values is not None if condition["exists"] else not present
    if values is None:
        return False
    if isinstance(condition, Mapping) and "anything-but" in condition:
        excluded = condition["anything-but"]
        if isinstance(excluded, Mapping):
            return not any(_scalar_matches(excluded, value) for value in values)
        if not isinstance(excluded, list | tuple):
            excluded = [excluded]
        return not any(_scalar_matches(item, value) for item in excluded for value in values)
    return any(_scalar_matches(condition, value) for value in values)


def _scalar_matches(condition: Any, value: _Value) -> bool:
    """Whether one attribute value satisfies a non-``exists``, non-``anything-but`` condition."""
    if isinstance(condition, str):
        return isinstance(value, str) and value == condition
    if not isinstance(condition, Mapping):  # a number
        return isinstance(value, float) and value == float(condition)
    ((operator, operand),) = condition.items()
    if operator == "numeric":
        return isinstance(value, float) and _numeric_matches(operand, value)
    if not isinstance(value, str):
        return False
    if operator == "prefix":
        return value.startswith(operand)
    if operator == "suffix":
        return value.endswith(operand)
    return bool(operator == "equals-ignore-case" and value.casefold() == operand.casefold())


def _numeric_matches(operand: Any, value: float) -> bool:
    for op, bound in zip(operand[0::2], operand[1::2], strict=True):
        bound = float(bound)
        if not (
            (op == "=" and value == bound)
            or (op == "<" and value < bound)
            or (op == "<=" and value <= bound)
            or (op == ">" and value > bound)
            or (op == ">=" and value >= bound)
        ):
            return False
    return True

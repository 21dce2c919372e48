"""Message attributes: Python values to the SNS/SQS wire form and back (reference 6.4)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["decode_attributes", "encode_attributes", "notification_attributes"]


def encode_attributes(attributes: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``{"n": 1, "s": "x", "b": True}`` -> botocore ``MessageAttributes``."""
    result: dict[str, dict[str, Any]] = {}
    for name, value in (attributes or {}).items():
        if isinstance(value, str):
            result[name] = {"DataType": "String", "StringValue": value}
        elif isinstance(value, bool) or value is None or isinstance(value, (list, tuple)):
            result[name] = {
                "DataType": "String.Array",
                "StringValue": json.dumps(value if not isinstance(value, tuple) else list(value)),
            }
        elif isinstance(value, (int, float, Decimal)):
            result[name] = {"DataType": "Number", "StringValue": str(value)}
        elif isinstance(value, (bytes, bytearray)):
            result[name] = {"DataType": "Binary", "BinaryValue": bytes(value)}
        else:
            result[name] = {"DataType": "String", "StringValue": str(value)}
    return result


def notification_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Botocore attributes -> the ``{"Type", "Value"}`` form of an SNS notification body."""
    result: dict[str, dict[str, Any]] = {}
    for name, attr in attributes.items():
        data_type = attr.get("DataType", "String")
        if "BinaryValue" in attr:
            value: Any = base64.b64encode(bytes(attr["BinaryValue"])).decode("ascii")
        else:
            value = attr.get("StringValue")
        result[name] = {"Type": data_type, "Value": value}
    return result


def _field(attr: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in attr:
            return attr[name]
    return None


def decode_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """SQS (``DataType``/``StringValue``), SNS body (``Type``/``Value``) or Lambda (camelCase)
    attributes -> Python values: ``Number`` to int/float, ``String.Array`` to a list (JSON),
    ``Binary`` to bytes."""
    result: dict[str, Any] = {}
    for name, attr in (attributes or {}).items():
        if not isinstance(attr, Mapping):
            result[name] = attr
            continue
        data_type = str(_field(attr, "DataType", "Type", "dataType") or "String")
        if data_type.startswith("Binary"):
            value = _field(attr, "BinaryValue", "Value", "binaryValue")
            if isinstance(value, str):
                try:
                    value = base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    value = value.encode("utf-8")
            result[name] = value
            continue
        value = _field(attr, "StringValue", "Value", "stringValue")
        if data_type.startswith("Number") and isinstance(value, str):
            try:
                result[name] = float(value) if "." in value or "e" in value.lower() else int(value)
            except ValueError:
                result[name] = value
        elif data_type.startswith("String.Array") and isinstance(value, str):
            try:
                result[name] = json.loads(value)
            except ValueError:
                result[name] = value
        else:
            result[name] = value
    return result

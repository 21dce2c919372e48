"""SNS subscription filter policies on message attributes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tomodachi.transport.memory.filter_policy import matches_filter_policy, validate_filter_policy


def s(value: str) -> dict[str, Any]:
    return {"DataType": "String", "StringValue": value}


def n(value: str) -> dict[str, Any]:
    return {"DataType": "Number", "StringValue": value}


def arr(*values: Any) -> dict[str, Any]:
    return {"DataType": "String.Array", "StringValue": json.dumps(list(values))}


BINARY = {"DataType": "Binary", "BinaryValue": b"red"}

CASES: list[tuple[str, dict[str, Any], dict[str, dict[str, Any]], bool]] = [
    # exact strings, OR within a key
    ("string equal", {"color": ["red", "blue"]}, {"color": s("blue")}, True),
    ("string differs", {"color": ["red", "blue"]}, {"color": s("green")}, False),
    ("string is case sensitive", {"color": ["red"]}, {"color": s("Red")}, False),
    ("string vs absent", {"color": ["red"]}, {}, False),
    ("string vs Number", {"size": ["5"]}, {"size": n("5")}, False),
    ("string in array", {"color": ["red"]}, {"color": arr("blue", "red")}, True),
    ("string not in array", {"color": ["red"]}, {"color": arr("blue", "green")}, False),
    ("binary never matches", {"color": ["red"]}, {"color": BINARY}, False),
    ("custom string type", {"id": ["x"]}, {"id": {"DataType": "String.uuid", "StringValue": "x"}}, True),
    # numbers
    ("number equal", {"price": [100]}, {"price": n("100.0")}, True),
    ("number float", {"price": [99.51]}, {"price": n("99.51")}, True),
    ("number differs", {"price": [100]}, {"price": n("100.5")}, False),
    ("number vs String", {"price": [100]}, {"price": s("100")}, False),
    ("number in array", {"price": [3]}, {"price": arr(1, 3)}, True),
    ("bad Number", {"price": [1]}, {"price": n("one")}, False),
    # prefix / suffix / equals-ignore-case
    ("prefix", {"kind": [{"prefix": "order."}]}, {"kind": s("order.created")}, True),
    ("prefix miss", {"kind": [{"prefix": "order."}]}, {"kind": s("user.created")}, False),
    ("prefix in array", {"kind": [{"prefix": "ord"}]}, {"kind": arr("x", "order")}, True),
    ("prefix vs Number", {"n": [{"prefix": "1"}]}, {"n": n("12")}, False),
    ("suffix", {"file": [{"suffix": ".png"}]}, {"file": s("cat.png")}, True),
    ("suffix miss", {"file": [{"suffix": ".png"}]}, {"file": s("cat.jpg")}, False),
    ("ignore case", {"c": [{"equals-ignore-case": "RED"}]}, {"c": s("rEd")}, True),
    ("ignore case miss", {"c": [{"equals-ignore-case": "RED"}]}, {"c": s("reds")}, False),
    # anything-but
    ("anything-but string", {"c": [{"anything-but": "red"}]}, {"c": s("blue")}, True),
    ("anything-but string hit", {"c": [{"anything-but": "red"}]}, {"c": s("red")}, False),
    ("anything-but list", {"c": [{"anything-but": ["red", "blue"]}]}, {"c": s("blue")}, False),
    ("anything-but list miss", {"c": [{"anything-but": ["red", "blue"]}]}, {"c": s("pink")}, True),
    ("anything-but absent", {"c": [{"anything-but": "red"}]}, {}, False),
    ("anything-but number", {"p": [{"anything-but": [100]}]}, {"p": n("100")}, False),
    ("anything-but number miss", {"p": [{"anything-but": [100]}]}, {"p": n("101")}, True),
    ("anything-but number vs String", {"p": [{"anything-but": 100}]}, {"p": s("100")}, True),
    ("anything-but prefix", {"c": [{"anything-but": {"prefix": "re"}}]}, {"c": s("red")}, False),
    ("anything-but prefix miss", {"c": [{"anything-but": {"prefix": "re"}}]}, {"c": s("blue")}, True),
    ("anything-but suffix", {"c": [{"anything-but": {"suffix": "ed"}}]}, {"c": s("red")}, False),
    ("anything-but array hit", {"c": [{"anything-but": "red"}]}, {"c": arr("blue", "red")}, False),
    ("anything-but array miss", {"c": [{"anything-but": "red"}]}, {"c": arr("blue", "pink")}, True),
    ("anything-but binary", {"c": [{"anything-but": "red"}]}, {"c": BINARY}, False),
    # numeric
    ("numeric =", {"p": [{"numeric": ["=", 5]}]}, {"p": n("5.0")}, True),
    ("numeric = miss", {"p": [{"numeric": ["=", 5]}]}, {"p": n("5.01")}, False),
    ("numeric <", {"p": [{"numeric": ["<", 5]}]}, {"p": n("4.99")}, True),
    ("numeric < edge", {"p": [{"numeric": ["<", 5]}]}, {"p": n("5")}, False),
    ("numeric <=", {"p": [{"numeric": ["<=", 5]}]}, {"p": n("5")}, True),
    ("numeric >", {"p": [{"numeric": [">", 0]}]}, {"p": n("-1")}, False),
    ("numeric >=", {"p": [{"numeric": [">=", 0]}]}, {"p": n("0")}, True),
    ("numeric range", {"p": [{"numeric": [">", 0, "<=", 100]}]}, {"p": n("100")}, True),
    ("numeric range low", {"p": [{"numeric": [">", 0, "<=", 100]}]}, {"p": n("0")}, False),
    ("numeric range high", {"p": [{"numeric": [">", 0, "<=", 100]}]}, {"p": n("100.01")}, False),
    ("numeric vs String", {"p": [{"numeric": [">", 0]}]}, {"p": s("5")}, False),
    ("numeric in array", {"p": [{"numeric": [">", 10]}]}, {"p": arr(1, 11)}, True),
    ("numeric absent", {"p": [{"numeric": [">", 10]}]}, {}, False),
    # exists
    ("exists true", {"c": [{"exists": True}]}, {"c": s("x")}, True),
    ("exists true absent", {"c": [{"exists": True}]}, {}, False),
    ("exists false absent", {"c": [{"exists": False}]}, {"other": s("x")}, True),
    ("exists false present", {"c": [{"exists": False}]}, {"c": s("x")}, False),
    # AND across keys, OR within a key
    ("and both", {"a": ["1"], "b": [{"prefix": "x"}]}, {"a": s("1"), "b": s("xy")}, True),
    ("and one fails", {"a": ["1"], "b": [{"prefix": "x"}]}, {"a": s("1"), "b": s("yy")}, False),
    ("or mixed", {"a": ["1", {"numeric": [">", 5]}]}, {"a": n("6")}, True),
    ("or with exists false", {"a": ["x", {"exists": False}]}, {}, True),
    ("extra attributes ignored", {"a": ["1"]}, {"a": s("1"), "z": s("?")}, True),
]


@pytest.mark.parametrize(
    ("policy", "attributes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_matching(policy: dict[str, Any], attributes: dict[str, dict[str, Any]], expected: bool) -> None:
    validate_filter_policy(policy)
    assert matches_filter_policy(policy, attributes) is expected


def test_no_policy_matches_everything() -> None:
    assert matches_filter_policy(None, {})
    assert matches_filter_policy({}, {"a": s("1")})


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"a": "red"}, "non-empty list"),
        ({"a": []}, "non-empty list"),
        ({"a": {"b": ["c"]}}, "nested"),
        ({"$or": [{"a": ["x"]}]}, "not supported"),
        ({"a": [None]}, "unsupported condition"),
        ({"a": [True]}, "unsupported condition"),
        ({"a": [["x"]]}, "unsupported condition"),
        ({"a": [{"prefix": "x", "suffix": "y"}]}, "exactly one operator"),
        ({"a": [{"wildcard": "x*"}]}, "unknown operator"),
        ({"a": [{"prefix": 1}]}, "needs a string"),
        ({"a": [{"exists": "yes"}]}, "true or false"),
        ({"a": [{"numeric": [">"]}]}, "numeric"),
        ({"a": [{"numeric": ["!=", 1]}]}, "unknown numeric operator"),
        ({"a": [{"numeric": [">", "1"]}]}, "finite number"),
        ({"a": [{"numeric": [">", 0, ">", 5]}]}, "lower"),
        ({"a": [{"numeric": ["=", 0, "<", 5]}]}, "lower"),
        ({"a": [{"anything-but": []}]}, "anything-but"),
        ({"a": [{"anything-but": {"exists": True}}]}, "anything-but"),
        ({"a": [{"anything-but": None}]}, "anything-but"),
        ({1: ["x"]}, "keys must be strings"),
    ],
)
def test_malformed_policies_are_rejected(policy: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_filter_policy(policy)


def test_policy_must_be_an_object() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        validate_filter_policy(["a"])  # type: ignore[arg-type]

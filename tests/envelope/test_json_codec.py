"""The envelope JSON codec: stdlib-identical output, stdlib-identical decoding with or without orjson."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tomodachi.envelope import _json

SAMPLES: list[Any] = [
    {"b": 1, "a": [1.5, None, True, "ä ☃ \U0001f600"]},
    [2**70, -(2**63) - 1, 18446744073709551615, 9223372036854775807],
    ["\ud800", float("inf"), -0.0, 1e-7, 0.1],
    "",
    {},
]


@pytest.mark.parametrize("value", SAMPLES)
def test_dumps_is_byte_identical_to_stdlib_defaults(value: Any) -> None:
    assert _json.dumps(value) == json.dumps(value)
    assert ", " in _json.dumps([1, 2]) and ": " in _json.dumps({"a": 1})
    assert _json.dumps("å") == '"\\u00e5"'  # ensure_ascii


@pytest.mark.parametrize("use_orjson", [True, False])
@pytest.mark.parametrize("value", SAMPLES)
def test_loads_gives_the_stdlib_values(monkeypatch: pytest.MonkeyPatch, use_orjson: bool, value: Any) -> None:
    if not use_orjson:
        monkeypatch.setattr(_json, "_orjson_loads", None)
    text = json.dumps(value)
    for payload in (text, text.encode("utf-8")):
        assert repr(_json.loads(payload)) == repr(json.loads(text))


def test_orjson_is_used_when_installed() -> None:
    pytest.importorskip("orjson")
    assert _json._orjson_loads is not None


@pytest.mark.parametrize("use_orjson", [True, False])
def test_loads_special_values_and_encodings(monkeypatch: pytest.MonkeyPatch, use_orjson: bool) -> None:
    if not use_orjson:
        monkeypatch.setattr(_json, "_orjson_loads", None)
    nan = _json.loads("[NaN, Infinity, -Infinity]")
    assert nan[0] != nan[0] and nan[1:] == [float("inf"), float("-inf")]
    assert _json.loads('"x"'.encode("utf-16")) == "x"  # the stdlib detects UTF-16/32 bytes
    with pytest.raises(ValueError):
        _json.loads("{")

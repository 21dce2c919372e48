"""The envelope package: lazy names, no protobuf import, life without protobuf, the old alias."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import tomodachi.envelope
from tomodachi.envelope import EnvelopeEncodeError, MessageEnvelope
from tomodachi.errors import TomodachiError

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def test_importing_and_using_jsonbase_does_not_import_protobuf() -> None:
    code = """
import asyncio, json, sys
import tomodachi.envelope
from tomodachi.envelope import JsonBase, ProtobufBase, protobuf_base
payload = asyncio.run(JsonBase.build_message(None, "t", {"a": 1}))
assert asyncio.run(JsonBase.parse_message(payload))[0]["data"] == {"a": 1}
print(json.dumps(sorted(sys.modules)))
"""
    modules = set(json.loads(_run(code)))
    assert "tomodachi.envelope.json_base" in modules
    assert not {m for m in modules if m == "google.protobuf" or m.startswith("google.protobuf.")}
    assert "tomodachi.envelope._sns_sqs_message" not in modules


def test_without_protobuf_protobufbase_imports_and_explains_how_to_install() -> None:
    code = """
import asyncio, json, sys
sys.modules["google"] = None  # makes every google.* import fail, as when protobuf is absent
from tomodachi.envelope import ProtobufBase
from tomodachi.envelope import protobuf_base
from tomodachi.errors import TomodachiError
errors = []
calls = [
    lambda: ProtobufBase.validate(proto_class=object),
    lambda: asyncio.run(ProtobufBase.build_message(None, "t", b"")),
    lambda: asyncio.run(ProtobufBase.parse_message("", proto_class=object)),
    lambda: protobuf_base.SNSSQSMessage,
]
for call in calls:
    try:
        call()
    except TomodachiError as exc:
        errors.append(str(exc))
print(json.dumps(errors))
"""
    errors = json.loads(_run(code))
    assert len(errors) == 4
    assert all('pip install "tomodachi[protobuf]"' in error for error in errors)


def test_lazy_names_are_the_module_objects() -> None:
    from tomodachi.envelope import json_base, protobuf_base

    assert tomodachi.envelope.JsonBase is json_base.JsonBase
    assert tomodachi.envelope.ProtobufBase is protobuf_base.ProtobufBase
    assert tomodachi.envelope.json_base is importlib.import_module("tomodachi.envelope.json_base")
    assert tomodachi.envelope.protobuf_base is importlib.import_module("tomodachi.envelope.protobuf_base")
    assert set(tomodachi.envelope.__all__) >= {"JsonBase", "ProtobufBase", "MessageEnvelope"}
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        tomodachi.envelope.Nope  # noqa: B018


def test_encode_error_is_a_tomodachi_error_and_a_value_error() -> None:
    assert issubclass(EnvelopeEncodeError, TomodachiError)
    assert issubclass(EnvelopeEncodeError, ValueError)


def test_any_object_with_the_two_async_methods_is_an_envelope() -> None:
    class Custom:
        @classmethod
        async def build_message(cls, service: Any, topic: str, data: Any, **kwargs: Any) -> str:
            return str(data)

        @classmethod
        async def parse_message(cls, payload: str, **kwargs: Any) -> tuple[Any, str | None, float | None]:
            return {"data": payload}, None, None

    class OnlyBuild:
        async def build_message(self) -> str:
            return ""

    assert isinstance(Custom, MessageEnvelope)
    assert not isinstance(OnlyBuild, MessageEnvelope)
    assert not isinstance(object(), MessageEnvelope)


def test_protocol_alias_warns_and_resolves_to_the_same_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "tomodachi.protocol", raising=False)
    with pytest.warns(DeprecationWarning, match="use|tomodachi.envelope"):
        protocol = importlib.import_module("tomodachi.protocol")

    from tomodachi.envelope import json_base, protobuf_base

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # using the names does not warn again
        assert protocol.JsonBase is json_base.JsonBase
        assert protocol.ProtobufBase is protobuf_base.ProtobufBase
        assert protocol.json_base is json_base
        assert protocol.protobuf_base is protobuf_base
    with pytest.raises(AttributeError):
        protocol.MessageEnvelope  # noqa: B018


def test_protocol_alias_warning_points_at_the_importer() -> None:
    code = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import tomodachi.protocol
print(json.dumps([(w.category.__name__, w.filename, str(w.message)) for w in caught]))
"""
    message = "tomodachi.protocol is deprecated; import from tomodachi.envelope instead"
    assert ["DeprecationWarning", "<string>", message] in json.loads(_run(code))

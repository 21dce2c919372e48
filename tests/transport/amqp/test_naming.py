"""AMQP names exactly as the original makes them (reference 6.6), so fleets can mix both."""

from __future__ import annotations

import pytest

import tomodachi
from tomodachi.testing import run_services
from tomodachi.transport.amqp.naming import decode_routing_key, encode_routing_key, queue_name

UUID = "5d0b530f-5c44-4981-b01f-342801bd48f5"


def test_queue_name_vectors() -> None:
    assert (
        queue_name("test.topic", "func", UUID, competing=None)
        == "b444917b9b922e8c29235737c7775c823e092c2374d1bfde071d42c637e3b4fd"
    )
    assert (
        queue_name("test.topic", "func", UUID, competing=True)
        == "540e8e5bc604e4ea618f7e0517a04f030ad1dcbff2e121e9466ddd1c811450bf"
    )


def test_prefixes_and_explicit_names() -> None:
    competing = queue_name("test.topic", "func", UUID, competing=True)
    assert queue_name("test.topic", "func", UUID, competing=True, prefix="p-") == "p-" + competing
    assert queue_name("x", "func", UUID, competing=None, explicit_name="jobs", prefix="p-") == "p-jobs"


@pytest.mark.parametrize("key", ["order.created", "a.*.c", "logs.#", "with space", "åäö.ü", "tab\there"])
def test_routing_key_encoding_round_trips_and_keeps_wildcards(key: str) -> None:
    encoded = encode_routing_key(key)
    assert decode_routing_key(encoded) == key
    assert encoded.isascii() and " " not in encoded
    if key.isascii() and " " not in key and "\t" not in key:
        assert encoded == key


async def test_explicit_queue_name_cannot_be_non_competing() -> None:
    class Svc(tomodachi.Service):
        name = "svc"

        @tomodachi.amqp("a.b", queue_name="shared", competing=False)
        async def on_message(self, message: str) -> None:
            pass

    with pytest.raises(tomodachi.TomodachiError, match="cannot be competing=False"):
        async with run_services(Svc):
            pass

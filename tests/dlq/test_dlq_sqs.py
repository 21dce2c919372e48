"""tomodachi.dlq on SQS (moto's server): counts, peek leaves messages (and counts as a receive),
re-drive sends before it deletes, keeps attributes and FIFO groups, and errors are one line."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiobotocore.session import get_session  # type: ignore[import-untyped]

import tomodachi.dlq as dlq
from tests.dlq.conftest import ACCESS_KEY_ID, REGION, SECRET, aws_options
from tomodachi.messaging.dead_letters import DeadLetterRoute
from tomodachi.options import Options

pytestmark = pytest.mark.aws


@dataclass
class Sqs:
    client: Any
    queue: str
    dead_letters: str
    fifo: bool

    async def url(self, name: str) -> str:
        return str((await self.client.get_queue_url(QueueName=name))["QueueUrl"])

    async def dead_letter(self, *bodies: str) -> None:
        url = await self.url(self.dead_letters)
        for index, body in enumerate(bodies):
            request: dict[str, Any] = {
                "QueueUrl": url,
                "MessageBody": body,
                "MessageAttributes": {
                    "origin": {"DataType": "String", "StringValue": "test"},
                    "n": {"DataType": "Number", "StringValue": str(index)},
                },
            }
            if self.fifo:
                request["MessageGroupId"] = f"group-{index % 2}"
                request["MessageDeduplicationId"] = f"dedup-{index}"
            await self.client.send_message(**request)

    async def drain(self, name: str) -> list[dict[str, Any]]:
        url = await self.url(name)
        messages: list[dict[str, Any]] = []
        while True:
            response = await self.client.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            batch = response.get("Messages") or []
            if not batch:
                return messages
            for message in batch:
                await self.client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            messages.extend(batch)

    async def count(self, name: str) -> int:
        attributes = await self.client.get_queue_attributes(
            QueueUrl=await self.url(name), AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


async def _sqs(moto_url: str, fifo: bool) -> AsyncIterator[Sqs]:
    session = get_session()
    async with session.create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=moto_url,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET,
    ) as client:
        suffix = ".fifo" if fifo else ""
        base = f"h4-{uuid.uuid4().hex[:8]}"
        attributes = {"FifoQueue": "true"} if fifo else {}
        queue, dead = f"{base}{suffix}", f"{base}-dlq{suffix}"
        for name in (queue, dead):
            await client.create_queue(QueueName=name, Attributes=attributes)
        yield Sqs(client, queue, dead, fifo)


@pytest.fixture
async def sqs(moto_url: str) -> AsyncIterator[Sqs]:
    async for value in _sqs(moto_url, fifo=False):
        yield value


@pytest.fixture
async def fifo(moto_url: str) -> AsyncIterator[Sqs]:
    async for value in _sqs(moto_url, fifo=True):
        yield value


def target(moto_url: str, sqs: Sqs, **extra: Any) -> dlq.DeadLetterTarget:
    route = DeadLetterRoute("orders", "on_order", "aws_sns_sqs", sqs.queue, sqs.dead_letters)
    return dlq.DeadLetterTarget(route, Options({**aws_options(moto_url), **extra}))


async def test_inspect_counts_the_dead_letter_queue(moto_url: str, sqs: Sqs) -> None:
    await sqs.dead_letter("a", "b", "c")
    [status] = await dlq.inspect(target(moto_url, sqs))
    assert (status.messages, status.in_flight, status.note) == (3, 0, "")


async def test_peek_leaves_the_messages_visible(moto_url: str, sqs: Sqs) -> None:
    await sqs.dead_letter(*(f'{{"n": {i}, "pad": "{"x" * 300}"}}' for i in range(12)))
    seen = await dlq.peek(target(moto_url, sqs), limit=11, body_bytes=8)
    assert len(seen) == 11
    assert len({m.message_id for m in seen}) == 11
    assert all(m.body.startswith(b'{"n": ') and len(m.body) == 8 for m in seen)
    assert all(m.headers["origin"] == "test" for m in seen)
    assert all(m.receive_count == 1 for m in seen)
    [status] = await dlq.inspect(target(moto_url, sqs))
    assert (status.messages, status.in_flight) == (12, 0)  # all visible again at once
    again = await dlq.peek(target(moto_url, sqs), limit=20)
    assert len(again) == 12
    assert max(m.receive_count or 0 for m in again) == 2  # peeking counts as a receive


async def test_redrive_moves_every_message_with_its_attributes(moto_url: str, sqs: Sqs) -> None:
    await sqs.dead_letter("one", "two", "three")
    assert await dlq.redrive(target(moto_url, sqs), limit=2) == 2
    assert await sqs.count(sqs.dead_letters) == 1
    assert await dlq.redrive(target(moto_url, sqs)) == 1
    assert await sqs.count(sqs.dead_letters) == 0
    moved = await sqs.drain(sqs.queue)
    assert sorted(m["Body"] for m in moved) == ["one", "three", "two"]
    for message in moved:
        assert message["MessageAttributes"]["origin"] == {"DataType": "String", "StringValue": "test"}
        assert message["MessageAttributes"]["n"]["DataType"] == "Number"
    assert await dlq.redrive(target(moto_url, sqs)) == 0


async def test_redrive_keeps_fifo_groups_and_order(moto_url: str, fifo: Sqs) -> None:
    await fifo.dead_letter("a0", "b1", "c0", "d1")
    assert await dlq.redrive(target(moto_url, fifo)) == 4
    moved = await fifo.drain(fifo.queue)
    groups: dict[str, list[str]] = {}
    for message in moved:
        groups.setdefault(message["Attributes"]["MessageGroupId"], []).append(message["Body"])
    assert groups == {"group-0": ["a0", "c0"], "group-1": ["b1", "d1"]}
    # Re-driven again (same bodies, same groups): a new deduplication id, so nothing is dropped.
    await fifo.dead_letter("a0", "b1")
    assert await dlq.redrive(target(moto_url, fifo)) == 2
    assert sorted(m["Body"] for m in await fifo.drain(fifo.queue)) == ["a0", "b1"]


async def test_redrive_to_a_missing_queue_moves_nothing(moto_url: str, sqs: Sqs) -> None:
    await sqs.dead_letter("kept")
    route = DeadLetterRoute("orders", "on_order", "aws_sns_sqs", f"{sqs.queue}-missing", sqs.dead_letters)
    with pytest.raises(dlq.DeadLetterError, match=r"does not exist.*nothing was moved"):
        await dlq.redrive(dlq.DeadLetterTarget(route, Options(aws_options(moto_url))))
    assert await sqs.count(sqs.dead_letters) == 1


async def test_missing_dead_letter_queue(moto_url: str, sqs: Sqs) -> None:
    route = DeadLetterRoute("orders", "on_order", "aws_sns_sqs", sqs.queue, f"{sqs.queue}-nothing")
    missing = dlq.DeadLetterTarget(route, Options(aws_options(moto_url)))
    [status] = await dlq.inspect(missing)
    assert (status.messages, status.note, status.exists) == (None, "not found", False)
    with pytest.raises(dlq.DeadLetterError, match="does not exist"):
        await dlq.redrive(missing)


async def test_unreachable_endpoint_is_one_line_without_the_secret(sqs: Sqs) -> None:
    url = "http://127.0.0.1:1"
    route = DeadLetterRoute("orders", "on_order", "aws_sns_sqs", sqs.queue, sqs.dead_letters)
    with pytest.raises(dlq.DeadLetterError) as info:
        await dlq.inspect(dlq.DeadLetterTarget(route, Options(aws_options(url))))
    text = str(info.value)
    assert "127.0.0.1:1" in text
    assert "\n" not in text
    assert SECRET not in text


async def test_redrive_stops_at_the_first_failed_send(
    moto_url: str, sqs: Sqs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second SendMessage fails: the re-drive stops, the message is not deleted, and the messages
    it had received but not moved are visible again at once."""
    from tomodachi.transport.aws_sns_sqs import aws_publish
    from tomodachi.transport.aws_sns_sqs.errors import AWSSNSSQSException

    real = aws_publish.send_message
    calls: list[str] = []

    async def flaky(*args: Any, **kwargs: Any) -> str:
        calls.append(args[2])
        if len(calls) == 2:
            raise AWSSNSSQSException("sending to SQS queue failed: ServiceUnavailable (after 3 attempts)")
        return str(await real(*args, **kwargs))

    monkeypatch.setattr(aws_publish, "send_message", flaky)  # as tomodachi.dlq.sqs calls it
    await sqs.dead_letter("one", "two", "three")
    with pytest.raises(dlq.RedriveError) as info:
        await dlq.redrive(target(moto_url, sqs))
    assert info.value.moved == 1
    assert "re-drive stopped after 1 message(s): sending message" in str(info.value)
    assert str(info.value).endswith(
        f"failed (sending to SQS queue failed: ServiceUnavailable (after 3 attempts)); "
        f"it is still in {sqs.dead_letters!r}"
    )
    [status] = await dlq.inspect(target(moto_url, sqs))
    assert (status.messages, status.in_flight) == (2, 0)
    assert [m["Body"] for m in await sqs.drain(sqs.queue)] == calls[:1]

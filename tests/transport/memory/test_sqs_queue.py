"""SQS queue semantics on a manual clock: visibility, delays, long polling, redrive, FIFO, dedup."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tomodachi.clock import ManualClock
from tomodachi.transport.memory import sqs_queue
from tomodachi.transport.memory.sns_sqs_broker import SnsSqsBroker
from tomodachi.transport.memory.sqs_queue import DedupWindow, SqsMessage


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def broker(clock: ManualClock) -> SnsSqsBroker:
    broker = SnsSqsBroker(clock)
    broker.create_queue("q")
    return broker


async def _receive_now(broker: SnsSqsBroker, queue: str = "q", **kwargs: Any) -> list[SqsMessage]:
    return await broker.receive(queue, wait_seconds=0, **kwargs)


async def _start_receive(
    broker: SnsSqsBroker, queue: str = "q", **kwargs: Any
) -> asyncio.Task[list[SqsMessage]]:
    task = asyncio.ensure_future(broker.receive(queue, **kwargs))
    await asyncio.sleep(0)
    assert not task.done()
    return task


def _counts(broker: SnsSqsBroker, queue: str = "q") -> tuple[int, int, int]:
    attributes = broker.queue_attributes(queue)
    return (
        attributes["ApproximateNumberOfMessages"],
        attributes["ApproximateNumberOfMessagesNotVisible"],
        attributes["ApproximateNumberOfMessagesDelayed"],
    )


# -- receive, delete, visibility --------------------------------------------------------------
async def test_received_message_carries_body_attributes_and_a_receipt_handle(
    broker: SnsSqsBroker, clock: ManualClock
) -> None:
    attributes = {"kind": {"DataType": "String", "StringValue": "a"}}
    message_id = broker.send_message("q", "hello", message_attributes=attributes)
    (message,) = await _receive_now(broker)
    assert (message.message_id, message.body, message.message_attributes) == (message_id, "hello", attributes)
    assert (message.receive_count, message.group_id, message.deduplication_id) == (1, None, None)
    assert message.sent_timestamp == clock.now().timestamp()
    assert _counts(broker) == (0, 1, 0)
    broker.delete_message("q", message.receipt_handle)
    assert _counts(broker) == (0, 0, 0)
    broker.delete_message("q", message.receipt_handle)  # already deleted: ignored


async def test_messages_come_oldest_first_up_to_max_messages(broker: SnsSqsBroker) -> None:
    for i in range(12):
        broker.send_message("q", str(i))
    assert [m.body for m in await _receive_now(broker, max_messages=10)] == [str(i) for i in range(10)]
    assert [m.body for m in await _receive_now(broker)] == ["10", "11"]
    with pytest.raises(ValueError, match="max_messages"):
        await _receive_now(broker, max_messages=11)


async def test_visibility_timeout_expiry_redelivers_with_a_higher_receive_count(
    broker: SnsSqsBroker, clock: ManualClock
) -> None:
    broker.send_message("q", "x")
    (first,) = await _receive_now(broker)
    await clock.advance(29.9)
    assert await _receive_now(broker) == []
    await clock.advance(0.1)
    (second,) = await _receive_now(broker)
    assert (second.message_id, second.receive_count) == (first.message_id, 2)
    assert second.receipt_handle != first.receipt_handle
    broker.delete_message("q", first.receipt_handle)  # stale handle: ignored, the message stays
    assert _counts(broker) == (0, 1, 0)
    with pytest.raises(ValueError, match="not valid"):
        broker.change_visibility("q", first.receipt_handle, 0)
    broker.delete_message("q", second.receipt_handle)
    assert _counts(broker) == (0, 0, 0)


async def test_receive_visibility_timeout_overrides_the_queues(
    broker: SnsSqsBroker, clock: ManualClock
) -> None:
    broker.send_message("q", "x")
    await _receive_now(broker, visibility_timeout=5)
    await clock.advance(5)
    assert len(await _receive_now(broker)) == 1


async def test_a_handle_stays_valid_after_expiry_until_the_message_is_received_again(
    broker: SnsSqsBroker, clock: ManualClock
) -> None:
    broker.send_message("q", "x")
    (message,) = await _receive_now(broker)
    await clock.advance(31)
    broker.delete_message("q", message.receipt_handle)
    assert await _receive_now(broker) == []


async def test_change_visibility_zero_makes_the_message_visible_and_wakes_receivers(
    broker: SnsSqsBroker,
) -> None:
    broker.send_message("q", "x")
    (message,) = await _receive_now(broker)
    waiting = await _start_receive(broker)
    broker.change_visibility("q", message.receipt_handle, 0)
    (again,) = await waiting
    assert again.receive_count == 2
    with pytest.raises(ValueError, match="not valid"):
        broker.change_visibility("q", message.receipt_handle, 10)


async def test_change_visibility_extends_and_shortens(broker: SnsSqsBroker, clock: ManualClock) -> None:
    broker.send_message("q", "x")
    (message,) = await _receive_now(broker)
    broker.change_visibility("q", message.receipt_handle, 60)
    await clock.advance(30)
    assert await _receive_now(broker) == []
    waiting = await _start_receive(broker, wait_seconds=20)
    broker.change_visibility("q", message.receipt_handle, 5)  # sooner than the receiver planned to wake
    await clock.advance(5)
    assert waiting.done() and len(waiting.result()) == 1


async def test_visibility_timeout_zero_on_receive_leaves_the_message_visible(broker: SnsSqsBroker) -> None:
    broker.send_message("q", "x")
    await _receive_now(broker, visibility_timeout=0)
    (again,) = await _receive_now(broker)
    assert again.receive_count == 2


# -- delays ----------------------------------------------------------------------------------
async def test_queue_delay_keeps_new_messages_invisible(broker: SnsSqsBroker, clock: ManualClock) -> None:
    broker.create_queue("q", delay_seconds=10)
    broker.send_message("q", "late")
    broker.send_message("q", "now", delay_seconds=0)  # the per-message delay wins
    assert [m.body for m in await _receive_now(broker)] == ["now"]
    assert _counts(broker) == (0, 1, 1)
    waiting = await _start_receive(broker, wait_seconds=20)
    await clock.advance(9.5)
    assert not waiting.done()
    await clock.advance(0.5)
    assert [m.body for m in waiting.result()] == ["late"]


async def test_per_message_delay(broker: SnsSqsBroker, clock: ManualClock) -> None:
    broker.send_message("q", "x", delay_seconds=3)
    assert await _receive_now(broker) == []
    await clock.advance(3)
    assert len(await _receive_now(broker)) == 1


# -- long polling ----------------------------------------------------------------------------
async def test_long_poll_returns_empty_after_the_wait(broker: SnsSqsBroker, clock: ManualClock) -> None:
    waiting = await _start_receive(broker, wait_seconds=20)
    await clock.advance(19.999)
    assert not waiting.done()
    await clock.advance(0.001)
    assert waiting.result() == []
    assert clock.sleepers == 0  # nothing left sleeping on the clock


async def test_long_poll_returns_as_soon_as_a_message_arrives(
    broker: SnsSqsBroker, clock: ManualClock
) -> None:
    waiting = await _start_receive(broker, wait_seconds=20)
    start = clock.now()
    broker.send_message("q", "hi")
    await clock.settle()
    assert [m.body for m in waiting.result()] == ["hi"]
    assert clock.now() == start and clock.sleepers == 0


async def test_long_poll_wakes_when_a_message_becomes_visible_again(
    broker: SnsSqsBroker, clock: ManualClock
) -> None:
    broker.send_message("q", "x")
    await _receive_now(broker, visibility_timeout=10)
    waiting = await _start_receive(broker, wait_seconds=20)
    await clock.advance(10)
    assert [m.receive_count for m in waiting.result()] == [2]


async def test_a_long_poll_that_loses_the_race_gets_the_message_when_it_is_visible_again(
    broker: SnsSqsBroker, clock: ManualClock
) -> None:
    waiting = await _start_receive(broker, wait_seconds=20)
    broker.send_message("q", "x")
    (taken,) = await _receive_now(broker, visibility_timeout=5)  # runs before the long poll wakes
    await clock.settle()
    assert not waiting.done()
    await clock.advance(5)
    (again,) = waiting.result()
    assert (again.message_id, again.receive_count) == (taken.message_id, 2)


async def test_cancelled_long_poll_leaves_nothing_behind(broker: SnsSqsBroker, clock: ManualClock) -> None:
    waiting = await _start_receive(broker, wait_seconds=20)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await clock.settle()
    assert clock.sleepers == 0
    broker.send_message("q", "x")
    assert len(await _receive_now(broker)) == 1


# -- redrive ---------------------------------------------------------------------------------
async def test_redrive_moves_the_message_after_max_receive_count(
    broker: SnsSqsBroker, clock: ManualClock
) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    broker.on_event.append(lambda event, details: events.append((event, details)))
    broker.create_queue("dlq")
    broker.create_queue("work", visibility_timeout=10, redrive=("dlq", 3))
    attributes = {"a": {"DataType": "Number", "StringValue": "1"}}
    message_id = broker.send_message("work", "payload", message_attributes=attributes)
    for count in (1, 2, 3):
        (message,) = await _receive_now(broker, "work")
        assert message.receive_count == count
        await clock.advance(10)
    assert await _receive_now(broker, "work") == []  # the 4th receive moves it instead
    assert _counts(broker, "work") == (0, 0, 0)
    (dead,) = await _receive_now(broker, "dlq")
    assert (dead.message_id, dead.body, dead.message_attributes) == (message_id, "payload", attributes)
    assert dead.receive_count == 4  # SQS keeps counting in the dead-letter queue
    assert (
        "dead_lettered",
        {"queue": "work", "dlq": "dlq", "message_id": message_id, "receive_count": 3},
    ) in events


async def test_redrive_settings_are_validated(broker: SnsSqsBroker) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        broker.create_queue("work", redrive=("missing", 3))
    assert not broker.queue_exists("work")
    broker.create_queue("dlq.fifo", fifo=True)
    with pytest.raises(ValueError, match="same type"):
        broker.create_queue("work", redrive=("dlq.fifo", 3))
    with pytest.raises(ValueError, match="at least 1"):
        broker.create_queue("work", redrive=("q", 0))
    with pytest.raises(ValueError, match="another queue"):
        broker.set_queue_attributes("q", redrive=("q", 1))


# -- FIFO ------------------------------------------------------------------------------------
@pytest.fixture
def fifo(broker: SnsSqsBroker) -> SnsSqsBroker:
    broker.create_queue("f.fifo", fifo=True)
    return broker


def _send_fifo(broker: SnsSqsBroker, body: str, group: str, dedup: str | None = None) -> str:
    return broker.send_message("f.fifo", body, group_id=group, deduplication_id=dedup or body)


async def test_fifo_keeps_group_order_and_blocks_a_group_in_flight(fifo: SnsSqsBroker) -> None:
    for body, group in (("a1", "a"), ("b1", "b"), ("a2", "a"), ("b2", "b")):
        _send_fifo(fifo, body, group)
    (a1,) = await _receive_now(fifo, "f.fifo", max_messages=1)
    assert (a1.body, a1.group_id, a1.deduplication_id) == ("a1", "a", "a1")
    # Group "a" is blocked while a1 is in flight; group "b" is served in parallel, in order.
    assert [m.body for m in await _receive_now(fifo, "f.fifo")] == ["b1", "b2"]
    assert await _receive_now(fifo, "f.fifo") == []
    fifo.delete_message("f.fifo", a1.receipt_handle)
    assert [m.body for m in await _receive_now(fifo, "f.fifo")] == ["a2"]


async def test_fifo_message_becoming_visible_again_comes_before_the_rest_of_its_group(
    fifo: SnsSqsBroker, clock: ManualClock
) -> None:
    _send_fifo(fifo, "1", "g")
    _send_fifo(fifo, "2", "g")
    (first,) = await _receive_now(fifo, "f.fifo", max_messages=1)
    await clock.advance(30)
    (again,) = await _receive_now(fifo, "f.fifo", max_messages=1)
    assert (again.body, again.receive_count) == ("1", 2)
    waiting = await _start_receive(fifo, "f.fifo", wait_seconds=20)
    fifo.delete_message("f.fifo", again.receipt_handle)  # unblocks the group: wakes the long poll
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert [m.body for m in await waiting] == ["2"]
    assert first.receipt_handle != again.receipt_handle


async def test_one_fifo_receive_returns_consecutive_messages_of_groups(fifo: SnsSqsBroker) -> None:
    for body, group in (("a1", "a"), ("b1", "b"), ("a2", "a")):
        _send_fifo(fifo, body, group)
    received = await _receive_now(fifo, "f.fifo")
    assert [m.body for m in received] == ["a1", "a2", "b1"]
    fifo.delete_message("f.fifo", received[1].receipt_handle)  # a2 done, a1 still in flight
    _send_fifo(fifo, "a3", "a")
    assert await _receive_now(fifo, "f.fifo") == []


async def test_fifo_redrive_moves_the_head_and_unblocks_the_group(
    fifo: SnsSqsBroker, clock: ManualClock
) -> None:
    fifo.create_queue("dlq.fifo", fifo=True)
    fifo.create_queue("f.fifo", fifo=True, redrive=("dlq.fifo", 1))
    _send_fifo(fifo, "1", "g")
    _send_fifo(fifo, "2", "g")
    await _receive_now(fifo, "f.fifo", max_messages=1)
    await clock.advance(30)
    assert [m.body for m in await _receive_now(fifo, "f.fifo", max_messages=1)] == ["2"]
    (dead,) = await _receive_now(fifo, "dlq.fifo")
    assert (dead.body, dead.group_id) == ("1", "g")


async def test_fifo_deduplication_window(fifo: SnsSqsBroker, clock: ManualClock) -> None:
    original = _send_fifo(fifo, "first", "g", dedup="d")
    assert _send_fifo(fifo, "second", "g", dedup="d") == original
    assert _counts(fifo, "f.fifo") == (1, 0, 0)
    await clock.advance(299)
    (message,) = await _receive_now(fifo, "f.fifo")
    fifo.delete_message("f.fifo", message.receipt_handle)
    assert _send_fifo(fifo, "third", "g", dedup="d") == original  # deleting does not reset the window
    await clock.advance(1)
    assert _send_fifo(fifo, "fourth", "g", dedup="d") != original
    assert [m.body for m in await _receive_now(fifo, "f.fifo")] == ["fourth"]


async def test_fifo_deduplication_ids_are_bounded(
    fifo: SnsSqsBroker, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqs_queue, "DEDUPLICATION_IDS", 3)
    fifo.create_queue("small.fifo", fifo=True)
    sent = [
        fifo.send_message("small.fifo", str(n), group_id="g", deduplication_id=f"d{n}") for n in range(10)
    ]
    # The latest ids are still deduplicated; the oldest was forgotten before its window ended.
    assert fifo.send_message("small.fifo", "again", group_id="g", deduplication_id="d9") == sent[9]
    assert fifo.send_message("small.fifo", "again", group_id="g", deduplication_id="d0") not in sent


async def test_dedup_window_is_bounded_by_time_and_count(clock: ManualClock) -> None:
    window = DedupWindow(clock, 10, limit=5)
    for n in range(100):
        window.remember(f"d{n}", f"m{n}")
    assert len(window) == 5
    assert window.original("d99") == "m99" and window.original("d94") is None
    await clock.advance(10)
    assert window.original("d99") is None and len(window) == 0


async def test_send_validation(fifo: SnsSqsBroker) -> None:
    with pytest.raises(ValueError, match="required"):
        fifo.send_message("f.fifo", "x", deduplication_id="d")
    with pytest.raises(ValueError, match="required"):
        fifo.send_message("f.fifo", "x", group_id="g")
    with pytest.raises(ValueError, match="per-message delay"):
        fifo.send_message("f.fifo", "x", group_id="g", deduplication_id="d", delay_seconds=1)
    with pytest.raises(ValueError, match="FIFO queues only"):
        fifo.send_message("q", "x", group_id="g")
    with pytest.raises(ValueError, match="DataType"):
        fifo.send_message("q", "x", message_attributes={"a": {"DataType": "Text", "StringValue": "x"}})
    with pytest.raises(ValueError, match="BinaryValue"):
        fifo.send_message("q", "x", message_attributes={"a": {"DataType": "Binary", "StringValue": "x"}})
    with pytest.raises(ValueError, match="no queue"):
        fifo.send_message("missing", "x")
    with pytest.raises(ValueError, match=">= 0"):
        fifo.send_message("q", "x", delay_seconds=-1)


# -- purge -----------------------------------------------------------------------------------
async def test_purge_removes_visible_delayed_and_in_flight_messages(broker: SnsSqsBroker) -> None:
    broker.send_message("q", "a")
    (received,) = await _receive_now(broker)
    broker.send_message("q", "b")
    broker.send_message("q", "c", delay_seconds=5)
    broker.purge("q")
    assert _counts(broker) == (0, 0, 0)
    assert await _receive_now(broker) == []
    broker.delete_message("q", received.receipt_handle)  # ignored
    broker.send_message("q", "d")
    assert [m.body for m in await _receive_now(broker)] == ["d"]


# -- model check -----------------------------------------------------------------------------
_operation = st.one_of(
    st.tuples(st.just("send"), st.sampled_from("ab"), st.sampled_from([None, 0, 5])),
    st.tuples(st.just("receive"), st.integers(1, 3), st.sampled_from([0, 5, 30])),
    st.tuples(st.just("delete"), st.integers(0, 20), st.none()),
    st.tuples(st.just("visibility"), st.integers(0, 20), st.sampled_from([0, 7])),
    st.tuples(st.just("advance"), st.sampled_from([1, 5, 31]), st.none()),
)


@settings(max_examples=150, deadline=None)
@given(st.booleans(), st.lists(_operation, max_size=40))
def test_no_message_is_lost_duplicated_or_reordered_within_a_group(fifo: bool, operations: list[Any]) -> None:
    async def run() -> None:
        clock = ManualClock()
        broker = SnsSqsBroker(clock)
        queue = "m.fifo" if fifo else "m"
        broker.create_queue(queue, fifo=fifo, visibility_timeout=10)
        sent: dict[str, tuple[str, int]] = {}  # body -> (group, index in group)
        deleted: set[str] = set()
        handles: list[tuple[str, str]] = []  # (receipt handle, body), every handle seen
        for name, arg, extra in operations:
            if name == "send":
                body = f"{arg}{len(sent)}"
                sent[body] = (arg, sum(1 for group, _ in sent.values() if group == arg))
                if fifo:
                    broker.send_message(queue, body, group_id=arg, deduplication_id=body)
                else:
                    broker.send_message(queue, body, delay_seconds=extra)
            elif name == "receive":
                batch = await broker.receive(
                    queue, max_messages=arg, wait_seconds=0, visibility_timeout=extra
                )
                for position, message in enumerate(batch):
                    assert message.body not in deleted
                    if fifo:  # every earlier message of its group is deleted, or before it in this batch
                        group, index = sent[message.body]
                        earlier = {b for b, (g, i) in sent.items() if g == group and i < index}
                        assert earlier <= deleted | {m.body for m in batch[:position]}
                    handles.append((message.receipt_handle, message.body))
            elif name == "delete" and handles:
                handle, body = handles[arg % len(handles)]
                before = sum(_counts(broker, queue))
                broker.delete_message(queue, handle)
                if sum(_counts(broker, queue)) < before:
                    deleted.add(body)
            elif name == "visibility" and handles:
                with contextlib.suppress(ValueError):  # stale handles and visible messages refuse
                    broker.change_visibility(queue, handles[arg % len(handles)][0], extra)
            elif name == "advance":
                await clock.advance(arg)
            assert sum(_counts(broker, queue)) == len(sent) - len(deleted)
        # Drain: everything not deleted is still there, exactly once.
        await clock.advance(60)
        drained: list[str] = []
        while batch := await broker.receive(queue, wait_seconds=0):
            for message in batch:
                drained.append(message.body)
                broker.delete_message(queue, message.receipt_handle)
        assert sorted(drained) == sorted(set(sent) - deleted)

    asyncio.run(run())

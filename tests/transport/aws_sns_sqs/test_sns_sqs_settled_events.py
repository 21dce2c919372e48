"""The SNS+SQS consumer reports every settled delivery to the run's observers (in-memory broker)."""

from __future__ import annotations

from typing import Any

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.messaging.observe import Settled, observers_of
from tomodachi.testing import ManualClock, run_services


class Reported(tomodachi.Service):
    name = "reported"
    message_envelope = JsonBase
    options = tomodachi.Options(aws_sns_sqs={"broker": "memory"})

    @tomodachi.aws_sns_sqs("settled.events", visibility_timeout=30)
    async def on_event(self, data: Any, approximate_receive_count: int) -> None:
        if data == "retry once" and approximate_receive_count < 2:
            raise tomodachi.RetryMessage("not yet")


async def test_each_settled_delivery_is_reported_with_both_message_ids(wait_until: Any) -> None:
    events: list[Settled] = []
    async with run_services(Reported, clock=ManualClock()) as app:
        observers_of(app.runtime).settled.append(events.append)
        delivery = await app.publish("settled.events", "retry once")
        report = await delivery.outcome(timeout=5)
        assert report.handled
        await wait_until(lambda: len(events) >= 2, 5, "two settled events")
    first, second = events
    assert (first.result, first.attempt, second.result, second.attempt) == ("retry", 1, "handled", 2)
    for event in events:
        assert (event.service, event.kind, event.handler) == ("reported", "aws_sns_sqs", "on_event")
        assert len(event.message_ids) == 2  # the SNS and the SQS message ids
    assert first.message_ids == second.message_ids
    assert first.reason == "retry requested" and isinstance(first.error, tomodachi.RetryMessage)
    assert second.reason == "handled" and second.error is None

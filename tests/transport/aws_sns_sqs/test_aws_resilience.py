"""Concurrency, visibility extension, graceful stop and recovery on AWS (moto)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.transport.aws_sns_sqs import consumer as consumer_module

pytestmark = pytest.mark.aws


async def test_visibility_is_extended_while_a_handler_runs(
    proxied_options: Any, serve: Any, wait_until: Any, boto: Any, prefix: str, aws_proxy: Any
) -> None:
    calls: list[int] = []
    finished: list[int] = []

    class Service(tomodachi.Service):
        name = "slow"
        options = proxied_options()
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("slow", queue_name="slow", visibility_timeout=2)
        async def handler(self, data: Any, approximate_receive_count: int) -> None:
            calls.append(approximate_receive_count)
            await asyncio.sleep(3.5)  # longer than the visibility timeout: it must be extended
            finished.append(approximate_receive_count)

    async with serve(Service) as running:
        await tomodachi.aws_sns_sqs_publish(running.service, {}, "slow")
        await wait_until(lambda: finished, 10, "the slow handler to finish")
        assert calls == [1]  # never delivered a second time
        extended = [
            entry["VisibilityTimeout"]
            for operation, params in aws_proxy.calls
            if operation == "change_message_visibility_batch"
            for entry in params["Entries"]
        ]
        assert extended and set(extended) == {2}
        assert await boto.drain(prefix + "slow") == []


async def test_a_slow_message_does_not_hold_back_the_next_receive(
    make_options: Any, serve: Any, wait_until: Any
) -> None:
    release = asyncio.Event()
    done: list[Any] = []  # the numbers, and "slow"
    running_now = 0
    most = 0

    class Service(tomodachi.Service):
        name = "batches"
        options = make_options()
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("work", competing=True, max_number_of_consumed_messages=3)
        async def handler(self, data: Any) -> None:
            nonlocal running_now, most
            running_now += 1
            most = max(most, running_now)
            try:
                if data == "slow":
                    await release.wait()
                else:
                    await asyncio.sleep(0.05)
                done.append(data)
            finally:
                running_now -= 1

    async with serve(Service) as running:
        await tomodachi.aws_sns_sqs_publish(running.service, "slow", "work")
        await wait_until(lambda: running_now == 1, 10, "the slow handler")
        for n in range(8):
            await tomodachi.aws_sns_sqs_publish(running.service, n, "work")
        await wait_until(lambda: len(done) == 8, 15, "the fast messages, while the slow one runs")
        assert "slow" not in done
        release.set()
        await wait_until(lambda: "slow" in done, 10, "the slow message")
    assert most <= 3


async def test_graceful_stop_returns_unfinished_messages_at_once(
    make_options: Any, serve: Any, wait_until: Any, boto: Any, prefix: str
) -> None:
    started: list[str] = []
    finished: list[str] = []

    class Service(tomodachi.Service):
        name = "stopping"
        options = make_options(**{"http.termination_grace_period_seconds": 1})
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("stop", queue_name="stop", max_number_of_consumed_messages=2)
        async def handler(self, data: str) -> None:
            started.append(data)
            await asyncio.sleep(0.3 if data == "quick" else 60)
            finished.append(data)

    async with serve(Service, stop=False) as running:
        await tomodachi.aws_sns_sqs_publish(running.service, "quick", "stop")
        await tomodachi.aws_sns_sqs_publish(running.service, "stuck", "stop")
        await wait_until(lambda: len(started) == 2, 10, "both handlers")
        loop = asyncio.get_running_loop()
        begun = loop.time()
        await running.container.stop()
        assert loop.time() - begun < 5
        await running.runtime.aclose()
    assert finished == ["quick"]  # finished within the grace period, and deleted
    # The stuck one was made visible again at once, although its visibility timeout is 30 s.
    left = await boto.drain(prefix + "stop")
    assert len(left) == 1
    assert int(left[0]["Attributes"]["ApproximateReceiveCount"]) >= 2


async def test_receive_errors_are_retried_and_logged_once_per_outage(
    proxied_options: Any,
    serve: Any,
    wait_until: Any,
    json_logs: Any,
    monkeypatch: pytest.MonkeyPatch,
    aws_proxy: Any,
) -> None:
    monkeypatch.setattr(consumer_module.Outage, "first_delay", 0.01)
    got: list[Any] = []

    class Service(tomodachi.Service):
        name = "flaky"
        options = proxied_options()
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("flaky", queue_name="flaky")
        async def handler(self, data: Any) -> None:
            got.append(data)

    aws_proxy.fail("receive_message", 4)
    async with serve(Service) as running:
        await tomodachi.aws_sns_sqs_publish(running.service, "after the outage", "flaky")
        await wait_until(lambda: got, 15, "the message")
    messages = [record["message"] for record in json_logs()]
    assert messages.count("receive failed, retrying") == 1
    assert messages.count("receiving again") == 1
    failed = next(r for r in json_logs() if r["message"] == "receive failed, retrying")
    assert "ThrottlingException" in failed["error"]


async def test_a_deleted_queue_is_set_up_again(
    make_options: Any, serve: Any, wait_until: Any, boto: Any, prefix: str, json_logs: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(consumer_module, "WAIT_TIME_SECONDS", 1)  # the deleted queue's poll ends sooner
    monkeypatch.setattr(consumer_module.Outage, "first_delay", 0.05)
    got: list[Any] = []

    class Service(tomodachi.Service):
        name = "phoenix"
        options = make_options()
        message_envelope = JsonBase

        @tomodachi.aws_sns_sqs("phoenix", queue_name="phoenix", visibility_timeout=5)
        async def handler(self, data: Any) -> None:
            got.append(data)

    async with serve(Service) as running:
        await boto.sqs.delete_queue(QueueUrl=await boto.queue_url(prefix + "phoenix"))
        await wait_until(
            lambda: any(r["message"] == "queue set up again" for r in json_logs()), 10, "the new queue"
        )
        assert (await boto.queue_attributes(prefix + "phoenix"))["VisibilityTimeout"] == "5"
        await tomodachi.aws_sns_sqs_publish(running.service, "reborn", "phoenix")
        await wait_until(lambda: got == ["reborn"], 10, "the message through the new subscription")

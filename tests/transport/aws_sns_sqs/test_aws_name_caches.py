"""The topic ARN and queue URL caches of a service's AWS clients are bounded (moto)."""

from __future__ import annotations

from typing import Any

import pytest

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.runtime import current_runtime
from tomodachi.transport.aws_sns_sqs import clients as clients_module

pytestmark = pytest.mark.aws


async def test_name_caches_stay_bounded_and_publishing_still_works(
    make_options: Any, serve: Any, wait_until: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clients_module, "NAME_CACHE_SIZE", 2)
    got: list[tuple[str, Any]] = []

    class Inbox(tomodachi.Service):
        name = "inbox"
        message_envelope = JsonBase
        options = make_options()

        @tomodachi.aws_sns_sqs("t0", queue_name="q0")
        async def q0(self, data: Any) -> None:
            got.append(("q0", data))

        @tomodachi.aws_sns_sqs("t1", queue_name="q1")
        async def q1(self, data: Any) -> None:
            got.append(("q1", data))

        @tomodachi.aws_sns_sqs("t2", queue_name="q2")
        async def q2(self, data: Any) -> None:
            got.append(("q2", data))

    async with serve(Inbox) as running:
        service = running.service
        for topic in ("t0", "t1", "t2", "t3", "t4", "t0"):
            await tomodachi.aws_sns_sqs_publish(service, {"topic": topic}, topic)
        for queue in ("q0", "q1", "q2", "q0"):
            await tomodachi.sqs_send_message(service, {"queue": queue}, queue)
        await wait_until(lambda: len(got) == 8, 20, "eight messages")
        assert sorted(got, key=repr) == sorted(
            [("q0", {"topic": "t0"})] * 2
            + [("q1", {"topic": "t1"}), ("q2", {"topic": "t2"})]
            + [("q0", {"queue": "q0"})] * 2
            + [("q1", {"queue": "q1"}), ("q2", {"queue": "q2"})],
            key=repr,
        )
        runtime = current_runtime()
        assert runtime is not None
        aws = clients_module.clients_for(service, runtime)
        assert len(aws.topic_arns) <= 2 and len(aws.queue_urls) <= 2
        assert any(name.endswith("t0") for name in aws.topic_arns)  # the most recent are kept

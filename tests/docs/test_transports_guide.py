"""Step 8 of docs/transports.md: testing the guide's transport with tomodachi.testing.run_services."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import tomodachi
from tests.examples.test_examples_use_public_names import private_uses
from tomodachi.envelope import JsonBase
from tomodachi.testing import run_services

from .list_queue import MemoryLists, list_queue, list_queue_push


class Mailer(tomodachi.Service):
    name = "mailer"
    message_envelope = JsonBase
    options = tomodachi.Options(list_queue={"concurrency": 2}, retry={"initial_delay": 0.05})

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.attempts = 0
        self.done = asyncio.Event()

    @list_queue("emails")
    async def send(self, data: dict[str, Any], queue: str) -> None:
        self.attempts += 1
        if data.get("flaky") and self.attempts == 1:
            raise tomodachi.RetryMessage("smtp busy")
        if data.get("poison"):
            raise tomodachi.RejectMessage("no such address")
        self.sent.append({**data, "queue": queue})
        self.done.set()


async def test_messages_are_handled_retried_and_dead_lettered_in_memory() -> None:
    async with run_services(Mailer) as app:
        mailer = app[Mailer]
        assert isinstance(mailer, Mailer)
        assert mailer.readiness == {"list_queue": True}
        await list_queue_push(mailer, "emails", {"to": "a@example.com", "flaky": True})
        await asyncio.wait_for(mailer.done.wait(), 5)
        assert mailer.sent == [{"to": "a@example.com", "flaky": True, "queue": "emails"}]
        assert mailer.attempts == 2  # RetryMessage: pushed back after the policy's delay, handled again

        await list_queue_push(mailer, "emails", {"poison": True})
        model = tomodachi.runtime_of(mailer).resource(("tomodachi.memory", "list_queue"), MemoryLists)
        dead, _attempt = await asyncio.wait_for(model.pop("emails.dead"), 5)
        assert '"poison": true' in dead


async def test_options_reach_the_transport_and_bad_ones_fail_the_start() -> None:
    async with run_services(Mailer, options={"list_queue.concurrency": 3}) as app:
        assert app.service.options["list_queue.concurrency"] == 3
    with pytest.raises(tomodachi.TomodachiError, match=r"did you mean 'list_queue.concurrency'\?"):
        async with run_services(Mailer, options={"list_queue.concurency": 3}):
            pass


def test_the_guide_uses_only_public_tomodachi_names() -> None:
    source = (Path(__file__).parent / "list_queue.py").read_text()
    assert private_uses(source) == []

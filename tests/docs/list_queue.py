"""The transport docs/transports.md builds step by step ("From zero to a tested transport").

``@list_queue("emails")`` handles the messages pushed onto a list; in memory the lists are an
in-process model shared by the services of a run (a real backend, e.g. Redis ``BLPOP``/``RPUSH``,
would implement the same two-method protocol). Only public tomodachi names are used.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import tomodachi
from tomodachi.clock import Clock, get_clock
from tomodachi.messaging.backend import memory_model, register_message_family, uses_memory_broker
from tomodachi.messaging.envelopes import DEFAULT, build_payload, resolve_envelope
from tomodachi.messaging.pipeline import MessageHandler, handler_for_subscription
from tomodachi.messaging.retry import Verdict
from tomodachi.messaging.slots import Slots
from tomodachi.options import OptionsInterface, checks, option, register_section

F = TypeVar("F", bound=Callable[..., Any])


# -- 1. the declaration: data, nothing else --------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ListQueueSubscription:
    """What ``@list_queue(...)`` declares; its envelope fields satisfy ``Subscription``."""

    queue: str
    message_envelope: Any = DEFAULT
    message_protocol: Any = DEFAULT
    callback_kwargs: tuple[str, ...] | None = None
    envelope_kwargs: Mapping[str, Any] = field(default_factory=dict)


# -- 4. the options section, 6. the message family ---------------------------------------------------
class ListQueueOptions(OptionsInterface):
    url: str = option("redis://127.0.0.1:6379", checks.check_str)
    concurrency: int = option(10, checks.int_check(1))
    broker: str = option("redis", checks.choice_check("redis", "memory"))


register_section("list_queue", ListQueueOptions)
FAMILY = register_message_family("list_queue", broker_option="list_queue.broker")


# -- 5. the backend: a small protocol, one implementation per broker, a run resource --------------
class ListBackend(Protocol):
    async def pop(self, queue: str) -> tuple[str, int]:
        """The next payload and its attempt number (1 for a fresh one)."""

    async def push(self, queue: str, payload: str, *, attempt: int = 1, delay: float = 0.0) -> None:
        """Push *payload*, visible to ``pop`` after *delay* seconds (a retry)."""


class MemoryLists:
    """The in-memory model: one per run (``memory_model``), so services exchange messages.

    Like a broker, it holds a delayed message itself (on the run's clock), so a service that
    stops meanwhile loses nothing.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or get_clock()
        self.lists: defaultdict[str, asyncio.Queue[tuple[str, int]]] = defaultdict(asyncio.Queue)
        self._timers: set[asyncio.Task[None]] = set()

    async def pop(self, queue: str) -> tuple[str, int]:
        return await self.lists[queue].get()

    async def push(self, queue: str, payload: str, *, attempt: int = 1, delay: float = 0.0) -> None:
        if delay <= 0:
            self.lists[queue].put_nowait((payload, attempt))
            return
        timer = asyncio.get_running_loop().create_task(self._later(queue, payload, attempt, delay))
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    async def _later(self, queue: str, payload: str, attempt: int, delay: float) -> None:
        await self.clock.sleep(delay)
        self.lists[queue].put_nowait((payload, attempt))

    async def close(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)


async def _close_lists(model: MemoryLists) -> None:
    await model.close()


def backend_for(service: tomodachi.Service, runtime: tomodachi.Runtime) -> ListBackend:
    if uses_memory_broker(service, runtime, FAMILY):
        return memory_model(runtime, FAMILY, lambda: MemoryLists(get_clock(runtime)), _close_lists)
    raise tomodachi.ConfigurationError("this guide's transport runs in memory only (list_queue.broker)")


# -- 2. the transport, 3. the message pipeline, 7. readiness ---------------------------------------
class ListQueueTransport(tomodachi.Transport):
    kind = "list_queue"

    async def setup(self) -> None:
        self.settings = self.service.options.section(ListQueueOptions)
        self.consumers: list[tuple[str, MessageHandler]] = []
        for handler in self.handlers:
            (subscription,) = handler.args
            where = f"@list_queue({subscription.queue!r}) on {handler.name}"
            pipeline = handler_for_subscription(
                self.service, handler, subscription, kind=self.kind, positional_key="queue", where=where
            )
            self.consumers.append((subscription.queue, pipeline))

    async def start(self) -> None:
        self.backend = backend_for(self.service, self.runtime)

    async def started(self) -> None:
        for queue, pipeline in self.consumers:
            self.intake.spawn(self._receive(queue, pipeline), name=f"list_queue:{queue}")

    async def _receive(self, queue: str, pipeline: MessageHandler) -> None:
        slots = Slots(self.settings.concurrency)
        while True:
            await slots.wait_free()
            payload, attempt = await self.backend.pop(queue)
            slots.take()
            self.tasks.spawn(
                self._handle(queue, pipeline, payload, attempt, slots), name=f"list_queue:{queue}"
            )

    async def _handle(
        self, queue: str, pipeline: MessageHandler, payload: str, attempt: int, slots: Slots
    ) -> None:
        try:
            message_id = uuid.uuid4().hex
            outcome = await pipeline(payload, {"queue": queue}, message_id=message_id)
            # The retry policy decides (and logs); the transport supplies "again after N seconds".
            decision = pipeline.decide(
                outcome, attempt, message_id=message_id, dead_letter_to=f"{queue}.dead"
            )
            if decision.verdict is Verdict.RETRY:
                await self.backend.push(queue, payload, attempt=attempt + 1, delay=decision.delay)
            elif decision.verdict is Verdict.DEAD_LETTER:
                await self.backend.push(f"{queue}.dead", payload)
        finally:
            slots.give()

    @property
    def ready(self) -> bool:
        return len(self.intake) == len(self.consumers)


# -- the decorator and the publish function ----------------------------------------------------------
def list_queue(queue: str, *, message_envelope: Any = DEFAULT, **envelope_kwargs: Any) -> Callable[[F], F]:
    """Handle the messages pushed onto the list *queue*."""
    subscription = ListQueueSubscription(queue, message_envelope, envelope_kwargs=envelope_kwargs)
    return ListQueueTransport.decorator(subscription)


async def list_queue_push(service: Any, queue: str, data: Any, *, message_envelope: Any = DEFAULT) -> None:
    """Push *data* onto *queue*, in the service's envelope (like ``amqp_publish``)."""
    envelope = resolve_envelope(service, message_envelope)
    payload = await build_payload(service, envelope, queue, data)
    await backend_for(service, tomodachi.runtime_of(service)).push(queue, payload)

"""``AWSSNSSQSTransport``: the ``@tomodachi.aws_sns_sqs`` handlers of one service, on any backend.

- ``setup``: resolve every declaration (:mod:`.resolve`) and pick the broker client
  (:func:`.client.client_for`: AWS through aiobotocore, or the in-memory broker when
  ``aws_sns_sqs.broker`` is ``"memory"`` or the run was started with ``--message-broker memory``);
- ``start``: set up (or verify, with ``manage_topology`` off) every handler's topology, in
  declaration order; a wrong endpoint or refused credentials fail here with one line; then one
  WARNING per handler without a dead-letter queue (its failed messages would be dropped);
- ``started``: one receive loop and one visibility extender per handler (:mod:`.consumer`);
- ``stop``: cancel the receive loops, let in-flight handlers finish within the grace period,
  then make the messages of the cancelled ones visible again.

:meth:`AWSSNSSQSTransport.dead_letter_routes` says where each handler's failed messages go.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from tomodachi.logging import get_logger
from tomodachi.messaging.dead_letters import DeadLetterRoute
from tomodachi.messaging.observe import observers_of
from tomodachi.tasks import TaskTracker, gather_or_cancel
from tomodachi.transport.aws_sns_sqs.client import QueueBinding, SnsSqsClient, client_class, client_for
from tomodachi.transport.aws_sns_sqs.consumer import QueueConsumer
from tomodachi.transport.aws_sns_sqs.resolve import SqsConsumer, resolve
from tomodachi.transport.base import Transport

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime
    from tomodachi.service import Service

__all__ = ["AWSSNSSQSTransport"]


class AWSSNSSQSTransport(Transport):
    """The SNS+SQS handlers of one service; the broker is behind :attr:`client`."""

    kind = "aws_sns_sqs"

    def __init__(self, service: Service, runtime: Runtime) -> None:
        super().__init__(service, runtime)
        self.consumers: list[SqsConsumer] = []
        self.queue_consumers: list[QueueConsumer] = []
        self._client: SnsSqsClient | None = None
        # Visibility extenders outlive the drain (in-flight messages keep being extended), so
        # they are neither intake nor in-flight work.
        self._extenders = TaskTracker()
        self._log = get_logger("tomodachi.aws_sns_sqs")

    @classmethod
    def implementation(cls, service: Service, runtime: Runtime) -> type[Transport]:
        client_class(service, runtime)  # a missing 'aws' extra fails here, naming the service
        return cls

    @property
    def client(self) -> SnsSqsClient:
        if self._client is None:
            self._client = client_for(self.service, self.runtime)
        return self._client

    async def setup(self) -> None:
        self.consumers.extend(resolve(self.service, handler) for handler in self.handlers)

    def dead_letter_routes(self) -> list[DeadLetterRoute]:
        """Each handler's queue and dead-letter queue (``None``: failed messages are dropped).

        Known after :meth:`setup`, without a connection, from the declarations and options.
        Once started, a handler that leaves its queue's redrive policy as it is (no
        ``dead_letter_queue_name``) reports the dead-letter queue found in that policy.
        """
        found = {id(q.consumer): q.binding.dead_letter_name for q in self.queue_consumers}
        service = self.service.name
        return [
            DeadLetterRoute(service, c.handler.name, self.kind, c.queue, c.dead_letter_to or found.get(id(c)))
            for c in self.consumers
        ]

    def _warn_dropping(self) -> None:
        for route in self.dead_letter_routes():
            if route.drops:
                self._log.warning(
                    "failed messages of this handler will be dropped: it has no dead-letter queue "
                    "(give @aws_sns_sqs dead_letter_queue_name= and max_receive_count=, or set the "
                    "option aws_sns_sqs.dead_letter_queues=True)",
                    handler=route.handler,
                    queue=route.queue,
                )

    async def start(self) -> None:
        if not self.consumers:
            return
        client = self.client
        # Queues are set up concurrently; handlers sharing a queue one after the other (they
        # build one queue policy together).
        by_queue: dict[str, list[SqsConsumer]] = {}
        for consumer in self.consumers:
            by_queue.setdefault(consumer.queue, []).append(consumer)
        done: dict[int, QueueBinding | None] = {}

        async def set_up(consumers: list[SqsConsumer]) -> None:
            for consumer in consumers:
                done[id(consumer)] = await client.set_up(consumer)

        await gather_or_cancel(*map(set_up, by_queue.values()))
        bindings = [(c, b) for c in self.consumers if (b := done[id(c)]) is not None]
        client.raise_if_incomplete()
        prefix = self.service.options.aws_sns_sqs.topic_prefix
        observers = observers_of(self.runtime)
        for consumer, binding in bindings:
            self.queue_consumers.append(
                QueueConsumer(
                    consumer,
                    client,
                    binding,
                    self.tasks,
                    topic_prefix=prefix,
                    set_up_again=self._again(consumer),
                    observers=observers,
                    service_name=self.service.name,
                )
            )
            self._log.info(
                "consuming SQS queue",
                handler=consumer.handler.name,
                queue=binding.name,
                topics=[arn.rsplit(":", 1)[-1] for arn in binding.topic_arns],
            )
        self._warn_dropping()

    def _again(self, consumer: SqsConsumer) -> Callable[[], Awaitable[QueueBinding]]:
        async def again() -> QueueBinding:
            binding = await self.client.set_up(consumer)
            self.client.raise_if_incomplete()
            assert binding is not None
            return binding

        return again

    async def started(self) -> None:
        for queue_consumer in self.queue_consumers:
            name = queue_consumer.consumer.handler.name
            self.intake.spawn(queue_consumer.receive_loop(), name=f"aws_sns_sqs:receive:{name}")
            self._extenders.spawn(queue_consumer.extend_loop(), name=f"aws_sns_sqs:extend:{name}")

    async def stop(self) -> None:
        await self.intake.cancel_all()  # stop intake: cancels the long polls
        cancelled = await self.tasks.drain(self.grace_period)
        if cancelled:
            self._log.warning(
                "handlers still running at the end of the grace period were cancelled; "
                "their messages are returned to the queue",
                count=len(cancelled),
                grace_period=self.grace_period,
            )
        await self._extenders.cancel_all()
        await asyncio.gather(*(c.release_unfinished() for c in self.queue_consumers))

    async def close(self) -> None:
        await self.intake.cancel_all()
        await self.tasks.cancel_all()
        await self._extenders.cancel_all()

    @property
    def ready(self) -> bool:
        return len(self.intake) == len(self.queue_consumers)

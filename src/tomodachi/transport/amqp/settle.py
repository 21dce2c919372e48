"""Settling an AMQP delivery by its handler's retry policy, on any backend.

:meth:`Settler.settle` asks the handler's policy (``MessageHandler.decide``) and carries the
decision out with the broker: ack; a delayed retry through a retry queue (:mod:`.retries`), or
an immediate requeue; a dead-letter to ``<queue>.dlq``, to ``amqp.dead_letter_exchange`` or
dropped; then it records the attempt (the backend's ``settled`` and the run's observers).
A copy is always confirmed by the broker before the original is acked: nothing is lost.

The usual case, a handled delivery that no instrumentation or observer watches
(:meth:`Settler.unwatched`), does not come here: the transport acks it and calls
:meth:`Settler.acked` (one coroutine less per message).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tomodachi.errors import describe_exception
from tomodachi.messaging.observe import Settled, observers_of
from tomodachi.messaging.pipeline import Outcome
from tomodachi.messaging.retry import Decision, Verdict
from tomodachi.observability import hooks as _hooks
from tomodachi.transport.amqp.redelivery import RedeliveryCounter
from tomodachi.transport.amqp.retries import (
    RetryQueues,
    bucket_ms,
    dead_letter_headers,
    failed_attempts,
    origin,
    retry_headers,
)

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime
    from tomodachi.transport.amqp.backend import AmqpBackend, Delivery
    from tomodachi.transport.amqp.transport import AmqpSubscriber

__all__ = ["Settler", "channel_closed"]

_RESULTS = {
    Verdict.ACK: "handled",
    Verdict.RETRY: "retry",
    Verdict.DEAD_LETTER: "dead_lettered",
    Verdict.DROP: "dropped",
}


def _quantize(delay: float) -> float:
    """The delay a retry queue gives (the ladder of :func:`.retries.bucket_ms`)."""
    return bucket_ms(delay) / 1000 if delay > 0 else 0.0


class Settler:
    """The settling of one transport's deliveries (one per ``AmqpTransport``)."""

    def __init__(self, service_name: str, runtime: Runtime) -> None:
        self.service_name = service_name
        #: The delivery counts of requeued messages, where the broker does not count.
        self.redeliveries = RedeliveryCounter()
        #: ``amqp.dead_letter_exchange`` (set by the transport's setup).
        self.dead_letter_exchange: str | None = None
        self._retry_queues = RetryQueues()
        self._observers = observers_of(runtime)

    async def settle(
        self, consumer: AmqpSubscriber, backend: AmqpBackend, delivery: Delivery, local: int, outcome: Outcome
    ) -> None:
        """Carry out the retry policy's decision with the broker (see :mod:`.retries`).

        *local* is the broker's delivery count of this copy of the message; the attempt number
        adds the deliveries that failed before a delayed retry republished it.
        """
        attempt = failed_attempts(delivery) + local
        decision = consumer.pipeline.decide(
            outcome,
            attempt,
            message_id=delivery.message_id,
            dead_letter_to=consumer.dead_letter_to,
            quantize=_quantize,
        )
        try:
            result = await self._carry_out(consumer, backend, delivery, local, decision, outcome)
        except backend.settle_errors as exc:
            channel_closed(consumer, delivery, exc)
            return
        backend.settled(consumer.handler.name, delivery, attempt, result, outcome)
        if self._observers.settled:
            self._report(consumer, delivery, decision, result, outcome)

    def unwatched(self) -> bool:
        """True when nobody watches settling (no instrumentation, no observer): the transport
        then acks a handled delivery itself and calls :meth:`acked`, without asking the policy
        (its verdict for a handled message is always "ack", and is not logged)."""
        return _hooks.active is None and not self._observers.settled

    def acked(
        self, consumer: AmqpSubscriber, backend: AmqpBackend, delivery: Delivery, local: int, outcome: Outcome
    ) -> None:
        """The records after a handled delivery was acked without :meth:`settle` (see :meth:`unwatched`)."""
        if delivery.redelivered:
            self.redeliveries.settled(delivery)
        if backend.records_settled:
            attempt = failed_attempts(delivery) + local
            backend.settled(consumer.handler.name, delivery, attempt, "handled", outcome)

    async def _carry_out(
        self,
        consumer: AmqpSubscriber,
        backend: AmqpBackend,
        delivery: Delivery,
        local: int,
        decision: Decision,
        outcome: Outcome,
    ) -> str:
        """Do what *decision* says; returns the attempt's result (``handled``, ``retry``, ...)."""
        verdict = decision.verdict
        result = _RESULTS[verdict]
        if verdict is Verdict.ACK:
            await backend.ack(delivery)
            self.redeliveries.settled(delivery)
        elif verdict is Verdict.RETRY:
            if not await self._retry_later(consumer, backend, delivery, decision.attempt, decision.delay):
                self.redeliveries.requeued(delivery, local)
                await backend.requeue(delivery)
        elif verdict is Verdict.DEAD_LETTER and consumer.dead_letter_queue is not None:
            moved = await self._move(
                consumer, backend, delivery, decision, outcome, "", consumer.dead_letter_queue
            )
            result = result if moved else "retry"
        elif verdict is Verdict.DEAD_LETTER and self.dead_letter_exchange and (first := origin(delivery)):
            # A retried copy: to the dead-letter exchange with its original routing key.
            moved = await self._move(
                consumer, backend, delivery, decision, outcome, self.dead_letter_exchange, first[1]
            )
            result = result if moved else "retry"
        elif verdict is Verdict.DEAD_LETTER:
            # To the queue's dead-letter exchange; without one, the broker drops it (logged).
            self.redeliveries.settled(delivery)
            await backend.reject(delivery)
            if not self.dead_letter_exchange:
                result = "dropped"
        else:  # DROP (after_last_attempt="drop"): gone, even with a dead-letter exchange
            self.redeliveries.settled(delivery)
            await backend.ack(delivery)
        return result

    async def _retry_later(
        self, consumer: AmqpSubscriber, backend: AmqpBackend, delivery: Delivery, attempt: int, delay: float
    ) -> bool:
        """Move the message to the retry queue for *delay*, then ack it; False: requeue it at once."""
        if delay <= 0:
            return False  # RetryPolicy.immediate(): the original's requeue
        loop = asyncio.get_running_loop()
        try:
            queue = await self._retry_queues.ensure(backend, consumer.queue, bucket_ms(delay), loop.time())
            await backend.republish(delivery, "", queue, retry_headers(delivery, attempt))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # broker refused or unreachable: requeue now (counted as an attempt)
            self._retry_queues.forget()
            consumer.pipeline.logger.warning(
                "could not delay the retry: message requeued at once",
                message_id=delivery.message_id,
                error=describe_exception(exc),
            )
            return False
        await backend.ack(delivery)
        self.redeliveries.settled(delivery)
        return True

    async def _move(
        self,
        consumer: AmqpSubscriber,
        backend: AmqpBackend,
        delivery: Delivery,
        decision: Decision,
        outcome: Outcome,
        exchange: str,
        routing_key: str,
    ) -> bool:
        """Publish the message to its dead-letter destination (confirmed), then ack it; if the
        broker does not take it, it is requeued rather than lost (False)."""
        error = describe_exception(outcome.error) if outcome.error is not None else None
        headers = dead_letter_headers(delivery, decision.attempt, consumer.queue, decision.reason, error)
        try:
            await backend.republish(delivery, exchange, routing_key, headers)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            consumer.pipeline.logger.warning(
                "could not move the message to its dead-letter destination: requeued",
                message_id=delivery.message_id,
                dead_letter_to=consumer.dead_letter_to,
                error=describe_exception(exc),
            )
            await backend.requeue(delivery)
            return False
        self.redeliveries.settled(delivery)
        await backend.ack(delivery)
        return True

    def _report(
        self, consumer: AmqpSubscriber, delivery: Delivery, decision: Decision, result: str, outcome: Outcome
    ) -> None:
        self._observers.report_settled(
            Settled(
                frozenset((delivery.message_id,)) if delivery.message_id else frozenset(),
                self.service_name,
                "amqp",
                consumer.handler.name,
                decision.attempt,
                result,
                outcome.reason,
                outcome.error,
                decision.delay if decision.verdict is Verdict.RETRY else None,
            )
        )


def channel_closed(consumer: AmqpSubscriber, delivery: Delivery, exc: BaseException) -> None:
    # The channel closed (broker outage) while the handler ran: the broker has already put the
    # message back and delivers it again after the reconnection.
    consumer.pipeline.logger.debug(
        "delivery not settled: channel closed; the broker redelivers it",
        message_id=delivery.message_id,
        error=repr(exc),
    )

"""How many times a message was delivered, where the broker does not say."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from tomodachi.transport.amqp.backend import Delivery

__all__ = ["REDELIVERY_MEMORY", "RedeliveryCounter"]

#: How many requeued messages a transport remembers to count their redeliveries.
REDELIVERY_MEMORY = 10_000


class RedeliveryCounter:
    """The delivery count of redelivered messages.

    A broker that counts says so (the in-memory broker; quorum queues in the
    ``x-delivery-count`` header); classic queues only flag a redelivery. For those, the
    transport remembers the delivery count of each message it requeues (keyed by
    ``message_id``, or by the body when there is none), in memory, in this process, for the last
    :data:`REDELIVERY_MEMORY` requeued messages. A redelivered message it does not remember
    (requeued by another process, or forgotten) counts as its 2nd delivery.
    """

    __slots__ = ("_counts", "_limit")

    def __init__(self, limit: int = REDELIVERY_MEMORY) -> None:
        self._counts: OrderedDict[Hashable, int] = OrderedDict()
        self._limit = limit

    def count(self, delivery: Delivery) -> int:
        """The delivery count of *delivery* (1 unless redelivered)."""
        if not delivery.redelivered:
            return 1
        if delivery.delivery_count is not None:
            return delivery.delivery_count
        header = delivery.headers.get("x-delivery-count")
        if isinstance(header, int) and not isinstance(header, bool):
            return header + 1
        return self._counts.get(_identity(delivery), 1) + 1

    def requeued(self, delivery: Delivery, count: int) -> None:
        key = _identity(delivery)
        self._counts[key] = count
        self._counts.move_to_end(key)
        if len(self._counts) > self._limit:
            self._counts.popitem(last=False)

    def settled(self, delivery: Delivery) -> None:
        """Forget a redelivered message once it was acked or dead-lettered."""
        if self._counts and delivery.redelivered:
            self._counts.pop(_identity(delivery), None)


def _identity(delivery: Delivery) -> Hashable:
    return delivery.message_id or hash(delivery.body)

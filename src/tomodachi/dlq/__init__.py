"""Inspect and re-drive dead letters on RabbitMQ and Amazon SQS (``tomodachi dlq ...``).

::

    import tomodachi.dlq

    for status in await tomodachi.dlq.inspect("service.py"):
        print(status.target.name, status.messages)
    target = (await tomodachi.dlq.targets("service.py"))[0]
    for message in await tomodachi.dlq.peek(target, limit=5):
        print(message.message_id, message.reason, message.body)
    moved = await tomodachi.dlq.redrive(target)

A *target* is one handler's :class:`~tomodachi.messaging.dead_letters.DeadLetterRoute` and its
service's options (which say how to reach the broker). Peeking leaves the messages in the queue;
re-driving moves them to the handler's queue one at a time, each removed from the dead-letter
queue only after the broker accepted the copy, and stops at the first failure
(:class:`RedriveError`). See docs/dead_letters.md. The in-memory broker's dead letters live in
the process that runs it: see ``tomodachi.testing``.
"""

from tomodachi.dlq.api import inspect, peek, redrive
from tomodachi.dlq.load import Source, targets
from tomodachi.dlq.model import (
    DeadLetter,
    DeadLetterError,
    DeadLetterTarget,
    DeadLetterUsageError,
    MissingQueueError,
    QueueStatus,
    RedriveError,
)

__all__ = [
    "DeadLetter",
    "DeadLetterError",
    "DeadLetterTarget",
    "DeadLetterUsageError",
    "MissingQueueError",
    "QueueStatus",
    "RedriveError",
    "Source",
    "inspect",
    "peek",
    "redrive",
    "targets",
]

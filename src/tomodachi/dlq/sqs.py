"""Dead letters on Amazon SQS (aiobotocore, imported when a call is made): count, peek, re-drive.

The clients are the ones the SNS+SQS transport would use for the same options
(:func:`tomodachi.transport.aws_sns_sqs.clients.clients_for`, a resource of the caller's
:class:`~tomodachi.runtime.Runtime`): ``aws_sns_sqs.region_name``, the credentials and
``aws_endpoint_urls.*`` are read exactly as a running service reads them. Queue names, URLs and
ARNs are resolved, and messages sent, by the transport's own helpers (``aws_publish``).

- *count*: ``GetQueueAttributes`` (``ApproximateNumberOfMessages``, ``...NotVisible``).
- *peek*: ``ReceiveMessage`` with a short visibility timeout (so further receives return further
  messages), then ``ChangeMessageVisibility`` 0 for every message received: they are visible again
  at once (after :data:`PEEK_HOLD` seconds should the release fail). Peeking **is a receive**: it
  adds one to each message's ``ApproximateReceiveCount``, and a FIFO group is held meanwhile.
- *re-drive*: receive, ``SendMessage`` to the handler's queue (same body and message attributes;
  FIFO: the same group id and a new deduplication id), and only after SQS accepted it,
  ``DeleteMessage`` from the dead-letter queue. Without a limit, at most the messages the queue
  held when the re-drive began (SQS's approximate count) are moved, so messages that fail again
  meanwhile are not moved in a loop.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Final

from tomodachi.dlq.model import (
    DeadLetter,
    DeadLetterError,
    DeadLetterTarget,
    MissingQueueError,
    QueueStatus,
    RedriveError,
)
from tomodachi.transport.aws_sns_sqs import aws_publish
from tomodachi.transport.aws_sns_sqs.clients import AwsClients, aws_error, clients_for
from tomodachi.transport.aws_sns_sqs.errors import AWSSNSSQSException, QueueDoesNotExistError

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime

__all__ = ["PEEK_HOLD", "REDRIVE_HOLD", "count", "peek", "redrive"]

#: Seconds a peeked message stays invisible if releasing it fails.
PEEK_HOLD: Final = 30
#: Seconds a message being re-driven stays invisible to others (it is sent and deleted well within).
REDRIVE_HOLD: Final = 60
#: Seconds each receive waits for messages (a long poll asks every SQS server, a short one a sample).
WAIT_SECONDS: Final = 1
_ATTRIBUTE_FIELDS: Final = ("DataType", "StringValue", "BinaryValue")
_COUNTS: Final = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]


def _clients(runtime: Runtime, target: DeadLetterTarget) -> AwsClients:
    return clients_for(SimpleNamespace(options=target.options), runtime)


async def _url(clients: AwsClients, name: str) -> str | None:
    try:
        return await aws_publish.queue_url(clients, name)
    except QueueDoesNotExistError:
        return None
    except AWSSNSSQSException as exc:
        raise DeadLetterError(str(exc)) from None


async def _call(clients: AwsClients, what: str, operation: str, **request: Any) -> dict[str, Any]:
    try:
        return await clients.call("sqs", operation, **request)
    except Exception as exc:
        raise DeadLetterError(str(aws_error(exc, clients.settings, "sqs", what))) from None


async def count(runtime: Runtime, target: DeadLetterTarget, queue: str) -> QueueStatus:
    clients = _clients(runtime, target)
    url = await _url(clients, queue)
    if url is None:
        return QueueStatus(target, None, note="not found", exists=False)
    response = await _call(
        clients, f"reading SQS queue {queue!r}", "get_queue_attributes", QueueUrl=url, AttributeNames=_COUNTS
    )
    attributes = response.get("Attributes") or {}
    return QueueStatus(
        target,
        int(attributes.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    )


async def _receive(
    clients: AwsClients, url: str, queue: str, at_most: int, hold: int
) -> list[dict[str, Any]]:
    parameter = await clients.system_attributes_parameter()
    response = await _call(
        clients,
        f"receiving from SQS queue {queue!r}",
        "receive_message",
        QueueUrl=url,
        MaxNumberOfMessages=max(1, min(10, at_most)),
        VisibilityTimeout=hold,
        WaitTimeSeconds=WAIT_SECONDS,
        MessageAttributeNames=["All"],
        **{parameter: ["All"]},
    )
    return list(response.get("Messages") or [])


async def _release(clients: AwsClients, url: str, messages: Sequence[dict[str, Any]]) -> None:
    """Make *messages* visible again now (best effort: otherwise when their hold ends)."""
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages[start : start + 10])
        ]
        try:
            await clients.call("sqs", "change_message_visibility_batch", QueueUrl=url, Entries=entries)
        except Exception:
            pass  # they come back by themselves when their hold ends


async def _existing(clients: AwsClients, queue: str) -> str:
    url = await _url(clients, queue)
    if url is None:
        raise MissingQueueError(
            f"the dead-letter queue {queue!r} does not exist (no message was dead-lettered yet?)"
        )
    return url


async def peek(
    runtime: Runtime, target: DeadLetterTarget, queue: str, limit: int, body_bytes: int
) -> list[DeadLetter]:
    clients = _clients(runtime, target)
    url = await _existing(clients, queue)
    held: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        while len(held) < limit:
            batch = await _receive(clients, url, queue, limit - len(held), PEEK_HOLD)
            fresh = [m for m in batch if m.get("MessageId") not in seen]
            held.extend(batch)
            seen.update(str(m.get("MessageId")) for m in batch)
            if not fresh:
                break
    finally:
        await _release(clients, url, held)
    unique = {str(m.get("MessageId")): m for m in held}
    return [_view(m, body_bytes) for m in unique.values()][:limit]


async def redrive(runtime: Runtime, target: DeadLetterTarget, queue: str, limit: int | None) -> int:
    clients = _clients(runtime, target)
    destination = target.route.queue
    destination_url = await _url(clients, destination)
    if destination_url is None:
        raise MissingQueueError(
            f"{target.name}: the handler's queue {destination!r} does not exist (start the service once "
            "to create it); nothing was moved"
        )
    url = await _existing(clients, queue)
    waiting = (await count(runtime, target, queue)).messages or 0
    budget = waiting if limit is None else min(limit, waiting)
    fifo = destination_url.endswith(".fifo")
    moved = 0
    while moved < budget:
        try:
            batch = await _receive(clients, url, queue, budget - moved, REDRIVE_HOLD)
        except DeadLetterError as exc:
            raise RedriveError(f"{exc} (re-drive stopped after {moved} message(s))", moved) from None
        if not batch:
            break
        for index, message in enumerate(batch):
            what = f"message {message.get('MessageId')!r}"
            try:
                await _send(clients, destination_url, message, fifo)
            except Exception as exc:
                await _release(clients, url, batch[index:])
                raise RedriveError(
                    f"{target.name}: re-drive stopped after {moved} message(s): sending {what} to "
                    f"{destination!r} failed ({exc}); it is still in {queue!r}",
                    moved,
                ) from None
            try:
                await _call(
                    clients, f"deleting from SQS queue {queue!r}", "delete_message",
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                )  # fmt: skip
            except DeadLetterError as exc:
                await _release(clients, url, batch[index + 1 :])
                raise RedriveError(
                    f"{target.name}: re-drive stopped after {moved + 1} message(s): {what} was sent to "
                    f"{destination!r} but not deleted from {queue!r} ({exc}): it may be in both queues",
                    moved + 1,
                ) from None
            moved += 1
    return moved


async def _send(clients: AwsClients, url: str, message: dict[str, Any], fifo: bool) -> None:
    attributes = {
        name: {k: v for k, v in value.items() if k in _ATTRIBUTE_FIELDS}
        for name, value in (message.get("MessageAttributes") or {}).items()
        if isinstance(value, dict)
    }
    system = message.get("Attributes") or {}
    await aws_publish.send_message(
        clients,
        url,
        str(message.get("Body") or ""),
        message_attributes=attributes,
        delay_seconds=None,
        # FIFO: the message's group keeps its order; a new deduplication id, so that SQS does not
        # drop the copy as a duplicate of the message it was (or of an earlier re-drive of it).
        group_id=(system.get("MessageGroupId") or "tomodachi") if fifo else None,
        deduplication_id=uuid.uuid4().hex if fifo else None,
    )


def _view(message: dict[str, Any], body_bytes: int) -> DeadLetter:
    body = str(message.get("Body") or "").encode("utf-8")
    system = message.get("Attributes") or {}
    attributes = {
        name: value.get("StringValue", value.get("BinaryValue"))
        for name, value in (message.get("MessageAttributes") or {}).items()
        if isinstance(value, dict)
    }
    count_text = system.get("ApproximateReceiveCount")
    source = system.get("DeadLetterQueueSourceArn")
    return DeadLetter(
        message_id=message.get("MessageId"),
        size=len(body),
        body=body[:body_bytes],
        headers=attributes,
        reason=f"moved by the redrive policy of {source.rsplit(':', 1)[-1]!r}" if source else None,
        receive_count=int(count_text) if isinstance(count_text, str) and count_text.isdigit() else None,
        group_id=system.get("MessageGroupId"),
    )

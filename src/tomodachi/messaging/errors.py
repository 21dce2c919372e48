"""Exceptions a message handler raises to decide what happens to its message.

Raising anything else from a handler (or a middleware) is a failure: it is logged with the
message id and the message is dead-lettered where the transport has a dead-letter destination,
otherwise acknowledged and dropped (logged, never silently). These two say more:

- :class:`RetryMessage`: leave the message for redelivery (AMQP: nack with requeue; SQS: do not
  delete, it becomes visible again after its visibility timeout and the redrive policy counts it).
- :class:`RejectMessage`: the message can never succeed; dead-letter it now (or drop it, logged).

The original library's ``AmqpInternalServiceError`` and ``AWSSNSSQSInternalServiceError``
families are subclasses of :class:`RetryMessage`, so services written for it keep their meaning.
"""

from __future__ import annotations

from typing import Any

from tomodachi.errors import TomodachiError

__all__ = ["MessageError", "RejectMessage", "RetryMessage"]


class MessageError(TomodachiError):
    """Root of the exceptions that settle a message. Accepts the original's ``log_level=`` keyword."""

    def __init__(self, *args: Any, log_level: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args)
        self.log_level = log_level
        self.details = kwargs


class RetryMessage(MessageError):
    """Leave the message on the broker to be delivered again."""


class RejectMessage(MessageError):
    """The message can never succeed: dead-letter it (or drop it, logged) without retrying."""

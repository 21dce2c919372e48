"""The AMQP exception family (names kept from the original library)."""

from __future__ import annotations

from tomodachi.errors import ServiceStartError
from tomodachi.messaging.errors import MessageError, RetryMessage

__all__ = [
    "AmqpChannelClosed",
    "AmqpConnectionException",
    "AmqpException",
    "AmqpExclusiveQueueLockedException",
    "AmqpInternalServiceError",
    "AmqpInternalServiceErrorException",
    "AmqpInternalServiceException",
    "AmqpPublishError",
    "AmqpTooManyConsumersException",
]


class AmqpException(MessageError):
    """Root of the AMQP transport's exceptions."""


class AmqpInternalServiceError(AmqpException, RetryMessage):
    """Raise from a handler to have the message requeued and delivered again."""


class AmqpInternalServiceErrorException(AmqpInternalServiceError):
    """Alias kept from the original library."""


class AmqpInternalServiceException(AmqpInternalServiceError):
    """Alias kept from the original library."""


class AmqpConnectionException(AmqpException, ServiceStartError):
    """The broker cannot be reached, or refused the credentials."""


class AmqpExclusiveQueueLockedException(AmqpException, ServiceStartError):
    """The queue is exclusively locked by another connection."""


class AmqpTooManyConsumersException(AmqpException, ServiceStartError):
    """A non-competing (per-instance) queue already has a consumer."""


class AmqpChannelClosed(AmqpException):
    """The channel was closed by the broker."""


class AmqpPublishError(AmqpException):
    """A publish could not be completed (broker unreachable past the publish timeout)."""

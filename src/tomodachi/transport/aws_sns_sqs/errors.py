"""The AWS SNS+SQS exception family (names kept from the original library)."""

from __future__ import annotations

from tomodachi.errors import ServiceStartError
from tomodachi.messaging.errors import MessageError, RetryMessage

__all__ = [
    "AWSSNSSQSConnectionException",
    "AWSSNSSQSException",
    "AWSSNSSQSInternalServiceError",
    "AWSSNSSQSInternalServiceErrorException",
    "AWSSNSSQSInternalServiceException",
    "QueueDoesNotExistError",
]


class AWSSNSSQSException(MessageError):
    """Root of the SNS+SQS transport's exceptions (accepts the original's ``log_level=``)."""


class AWSSNSSQSInternalServiceError(AWSSNSSQSException, RetryMessage):
    """Raise from a handler to leave the message in the queue for another attempt."""


class AWSSNSSQSInternalServiceErrorException(AWSSNSSQSInternalServiceError):
    """Alias kept from the original library."""


class AWSSNSSQSInternalServiceException(AWSSNSSQSInternalServiceError):
    """Alias kept from the original library."""


class AWSSNSSQSConnectionException(AWSSNSSQSException, ServiceStartError):
    """AWS (or the configured endpoint) cannot be reached, or refused the credentials."""


class QueueDoesNotExistError(AWSSNSSQSException):
    """``sqs_send_message`` to a queue that does not exist."""

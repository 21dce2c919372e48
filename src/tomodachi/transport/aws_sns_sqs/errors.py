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
    "missing_queue_error",
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


_CLIENT_ERROR_TYPES: dict[type, type] = {}


def missing_queue_error(name: str, cause: BaseException | None = None) -> QueueDoesNotExistError:
    """A :class:`QueueDoesNotExistError` for queue *name* that is also botocore's ``ClientError``.

    On AWS it also is the type botocore raised (*cause*, e.g. ``QueueDoesNotExist``); on the
    in-memory broker it is a plain ``ClientError`` (when botocore is installed), so code written
    against either catches it the same way.
    """
    message = f"SQS queue {name!r} does not exist"
    if cause is not None and hasattr(cause, "response") and hasattr(cause, "operation_name"):
        base: type = type(cause)
        response, operation = cause.response, cause.operation_name
    else:
        try:
            from botocore.exceptions import ClientError  # type: ignore[import-untyped]
        except ImportError:  # the in-memory broker without the aws extra
            return QueueDoesNotExistError(message)
        base = ClientError
        code = "AWS.SimpleQueueService.NonExistentQueue"
        response, operation = {"Error": {"Code": code, "Message": message}}, "GetQueueUrl"
    cls = _CLIENT_ERROR_TYPES.get(base)
    if cls is None:
        cls = type("QueueDoesNotExistError", (QueueDoesNotExistError, base), {"__module__": __name__})
        _CLIENT_ERROR_TYPES[base] = cls
    error: QueueDoesNotExistError = cls(response, operation)
    error.args = (message,)
    return error

"""AWS SNS+SQS messaging: ``@tomodachi.aws_sns_sqs`` handlers, publishing and sending.

aiobotocore is imported only when a service actually talks to AWS.
"""

from __future__ import annotations

from typing import Any

from tomodachi.envelope import MessageEnvelope
from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.transport.aws_sns_sqs.declaration import SnsSqsSubscription
from tomodachi.transport.aws_sns_sqs.decorators import aws_sns_sqs, awssnssqs
from tomodachi.transport.aws_sns_sqs.errors import (
    AWSSNSSQSConnectionException,
    AWSSNSSQSException,
    AWSSNSSQSInternalServiceError,
    AWSSNSSQSInternalServiceErrorException,
    AWSSNSSQSInternalServiceException,
    QueueDoesNotExistError,
)
from tomodachi.transport.aws_sns_sqs.publish import (
    MessageBodyFormatter,
    MessageBodyFormatterContext,
    MessageBodyFormatterProtocol,
    aws_sns_sqs_publish,
    sqs_send_message,
)
from tomodachi.transport.aws_sns_sqs.transport import AWSSNSSQSTransport

#: Typing names of the original (``from tomodachi.transport.aws_sns_sqs import ...``).
MessageAttributesType = dict[str, Any]
FilterPolicyDictValueType = list[Any]
FilterPolicyDictType = dict[str, FilterPolicyDictValueType | dict[str, Any]]
#: What ``message_envelope=`` accepts: ``build_message`` / ``parse_message`` (``tomodachi.envelope``).
MessageEnvelopeProtocol = MessageEnvelope

MESSAGE_ENVELOPE_DEFAULT = DEFAULT
MESSAGE_TOPIC_PREFIX = DEFAULT
QUEUE_NAME_PREFIX = DEFAULT
FILTER_POLICY_DEFAULT = DEFAULT
DEAD_LETTER_QUEUE_DEFAULT = DEFAULT
VISIBILITY_TIMEOUT_DEFAULT = -1
MAX_RECEIVE_COUNT_DEFAULT = -1
MAX_NUMBER_OF_CONSUMED_MESSAGES = 10
DLQ_MESSAGE_RETENTION_PERIOD_DEFAULT = 1209600

publish = sns_publish = awssnssqs_publish = aws_sns_sqs_publish
send_message = aws_sns_sqs_send_message = awssnssqs_send_message = sqs_send_message

__all__ = [
    "AWSSNSSQSConnectionException",
    "AWSSNSSQSException",
    "AWSSNSSQSInternalServiceError",
    "AWSSNSSQSInternalServiceErrorException",
    "AWSSNSSQSInternalServiceException",
    "AWSSNSSQSTransport",
    "FilterPolicyDictType",
    "FilterPolicyDictValueType",
    "MessageAttributesType",
    "MessageBodyFormatter",
    "MessageBodyFormatterContext",
    "MessageBodyFormatterProtocol",
    "MessageEnvelopeProtocol",
    "QueueDoesNotExistError",
    "SnsSqsSubscription",
    "aws_sns_sqs",
    "aws_sns_sqs_publish",
    "aws_sns_sqs_send_message",
    "awssnssqs",
    "awssnssqs_publish",
    "awssnssqs_send_message",
    "publish",
    "send_message",
    "sns_publish",
    "sqs_send_message",
]

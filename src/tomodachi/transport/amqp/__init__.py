"""AMQP (RabbitMQ) messaging: ``@tomodachi.amqp`` handlers and ``tomodachi.amqp_publish``.

aio-pika is imported only when a service actually connects to RabbitMQ.
"""

from __future__ import annotations

from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.transport.amqp.declaration import AmqpSubscription
from tomodachi.transport.amqp.decorators import amqp
from tomodachi.transport.amqp.errors import (
    AmqpChannelClosed,
    AmqpConnectionException,
    AmqpException,
    AmqpExclusiveQueueLockedException,
    AmqpInternalServiceError,
    AmqpInternalServiceErrorException,
    AmqpInternalServiceException,
    AmqpPublishError,
    AmqpTooManyConsumersException,
)
from tomodachi.transport.amqp.publish import amqp_publish, publish
from tomodachi.transport.amqp.transport import AmqpProperties, AmqpTransport

MESSAGE_ENVELOPE_DEFAULT = DEFAULT
MESSAGE_ROUTING_KEY_PREFIX = DEFAULT

__all__ = [
    "MESSAGE_ENVELOPE_DEFAULT",
    "MESSAGE_ROUTING_KEY_PREFIX",
    "AmqpChannelClosed",
    "AmqpConnectionException",
    "AmqpException",
    "AmqpExclusiveQueueLockedException",
    "AmqpInternalServiceError",
    "AmqpInternalServiceErrorException",
    "AmqpInternalServiceException",
    "AmqpProperties",
    "AmqpPublishError",
    "AmqpSubscription",
    "AmqpTooManyConsumersException",
    "AmqpTransport",
    "amqp",
    "amqp_publish",
    "publish",
]

"""``AWSSNSRegistration``: announce a service's start and stop on SNS topics.

On ``_register_service`` it publishes ``{"name", "uuid", "http_endpoints"}`` to the topic
``services-registration-register``; on ``_deregister_service`` it publishes ``{"name", "uuid"}``
to ``services-registration-deregister``. ``http_endpoints`` is a list of
``[host, port, method, pattern]`` (see :class:`~tomodachi.discovery.registry.HttpEndpoint`).

Publishing goes through ``tomodachi.aws_sns_sqs_publish`` as the service itself, so the
service's ``message_envelope``, ``aws_sns_sqs.topic_prefix`` and credentials apply, and the
in-memory broker is used when the service's SNS+SQS transport runs on it. A service without a
message envelope publishes the document as JSON text.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from tomodachi.discovery.registry import (
    HttpEndpoint,
    drop_service_record,
    peek_service_record,
    service_record,
)

__all__ = ["DEREGISTER_TOPIC", "REGISTER_TOPIC", "AWSSNSRegistration"]

REGISTER_TOPIC = "services-registration-register"
DEREGISTER_TOPIC = "services-registration-deregister"


class AWSSNSRegistration:
    """Publishes service registrations and deregistrations to SNS."""

    name: ClassVar[str] = "tomodachi.discovery.aws_sns_registration"
    register_topic: ClassVar[str] = REGISTER_TOPIC
    deregister_topic: ClassVar[str] = DEREGISTER_TOPIC

    @classmethod
    async def add_http_endpoint(cls, service: Any, host: str, port: int, method: str, pattern: str) -> None:
        endpoints: list[HttpEndpoint] = service_record(service, cls, list)
        endpoints.append(HttpEndpoint(host, port, method, pattern))

    @classmethod
    async def _register_service(cls, service: Any) -> None:
        endpoints = peek_service_record(service, cls) or []
        data = {
            "name": getattr(service, "name", None),
            "uuid": getattr(service, "uuid", None),
            "http_endpoints": [list(endpoint) for endpoint in endpoints],
        }
        await cls._publish(service, data, cls.register_topic)

    @classmethod
    async def _deregister_service(cls, service: Any) -> None:
        drop_service_record(service, cls)
        data = {"name": getattr(service, "name", None), "uuid": getattr(service, "uuid", None)}
        await cls._publish(service, data, cls.deregister_topic)

    @classmethod
    async def _publish(cls, service: Any, data: dict[str, Any], topic: str) -> None:
        from tomodachi.messaging.envelopes import resolve_envelope
        from tomodachi.transport.aws_sns_sqs.publish import aws_sns_sqs_publish

        payload: Any = data if resolve_envelope(service) is not None else json.dumps(data)
        await aws_sns_sqs_publish(service, payload, topic, wait=True)

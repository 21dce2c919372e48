"""AMQP handlers as the original's users write them: JsonBase envelope, injected keywords,
competing queues, wildcards, callback_kwargs, raw payloads, a custom envelope and a retry."""

import asyncio
import json
import os
import uuid
from typing import Any, Dict, Optional

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.transport.amqp import AmqpInternalServiceError, amqp, amqp_publish

PREFIX = os.environ.get("COMPAT_AMQP_PREFIX", "")


def report(event: str, **values: Any) -> None:
    print("COMPAT " + json.dumps({"event": event, **values}, default=repr), flush=True)


class CustomEnvelope:
    @classmethod
    async def build_message(cls, service: Any, topic: str, data: Any, **kwargs: Any) -> str:
        return json.dumps({"envelope": "custom", "data": data})

    @classmethod
    async def parse_message(cls, payload: str, **kwargs: Any) -> Any:
        return json.loads(payload), None, None


class AMQPService(tomodachi.Service):
    name = "compat_amqp"
    log_level = "INFO"
    message_envelope = JsonBase
    options = {
        "amqp": {
            "login": "guest",
            "password": "guest",
            "routing_key_prefix": PREFIX,
            "queue_name_prefix": PREFIX,
            "queue_ttl": 60,
        }
    }

    closer: asyncio.Future
    data_uuid = str(uuid.uuid4())
    seen: Dict[str, Any]
    shared_queue_calls = 0
    retry_calls = 0

    expected = (
        "test",
        "wildcard",
        "callback_kwargs",
        "transport_kwargs",
        "kwargs",
        "sync",
        "raw",
        "plain",
        "custom",
        "retried",
        "shared",
    )

    def check_closer(self) -> None:
        if all(key in self.seen for key in self.expected) and not self.closer.done():
            self.closer.set_result(None)

    @amqp("compat.topic")
    async def test(self, data: Any, metadata: Any, service: Any) -> None:
        if data == self.data_uuid:
            self.seen["test"] = {
                "metadata_topic": metadata.get("topic"),
                "service_uuid": service.get("uuid"),
                "service_name": service.get("name"),
                "protocol_version": metadata.get("protocol_version"),
                "has_message_uuid": bool(metadata.get("message_uuid")),
            }
            self.check_closer()

    @amqp("compat.topic", queue_name="compat-shared")
    async def test_specified_queue_name(self, data: Any, metadata: Any, service: Any) -> None:
        if data == self.data_uuid:
            self.shared_queue_calls += 1
            self.seen["shared"] = self.shared_queue_calls
            self.check_closer()

    @amqp("compat.topic", queue_name="compat-shared")
    async def test_specified_queue_name_again(self, data: Any, metadata: Any, service: Any) -> None:
        if data == self.data_uuid:
            self.shared_queue_calls += 1
            self.seen["shared"] = self.shared_queue_calls
            self.check_closer()

    @amqp("compat.#")
    async def wildcard_topic(self, metadata: Any, data: Any) -> None:
        if data == self.data_uuid:
            self.seen.setdefault("wildcard", []).append(metadata.get("topic"))
            self.check_closer()

    @amqp("compat.topic", ("data", "routing_key"))
    async def with_callback_kwargs(self, data: Any, routing_key: str, metadata: Any = "untouched") -> None:
        if data == self.data_uuid:
            self.seen["callback_kwargs"] = {"routing_key": routing_key, "metadata": metadata}
            self.check_closer()

    @amqp("compat.*")
    async def transport_kwargs(
        self,
        message: Any,
        routing_key: str,
        exchange_name: str,
        properties: Any,
        message_uuid: str,
        data: Any = None,
        not_injected: Optional[str] = "default",
    ) -> None:
        if data == self.data_uuid and routing_key == "compat.topic":
            self.seen["transport_kwargs"] = {
                "message_keys": sorted(message) if isinstance(message, dict) else repr(message),
                "routing_key": routing_key,
                "exchange_name": exchange_name,
                "has_properties": properties is not None,
                "message_uuid_matches": message_uuid == message["metadata"]["message_uuid"],
                "not_injected": not_injected,
            }
            self.check_closer()

    @amqp("compat.topic")
    async def everything(self, **kwargs: Any) -> None:
        if kwargs.get("data") == self.data_uuid:
            self.seen["kwargs"] = sorted(kwargs)
            self.check_closer()

    @amqp("compat.topic")
    def sync_handler(self, data: Any) -> None:
        if data == self.data_uuid:
            self.seen["sync"] = True
            self.check_closer()

    @amqp("compat.topic", message_envelope=None)
    async def raw_json(self, value: str, routing_key: str) -> None:
        # without an envelope the first positional parameter gets the payload, whatever its name
        decoded = json.loads(value)
        if decoded.get("data") == self.data_uuid:
            self.seen["raw"] = {"type": type(value).__name__, "routing_key": routing_key}
            self.check_closer()

    @amqp("compat.plain", message_envelope=None)
    async def plain(self, payload: Any, another: str = "default") -> None:
        if payload == "plain " + self.data_uuid:
            self.seen["plain"] = {"payload": payload, "another": another}
            self.check_closer()

    @amqp("compat.custom", message_envelope=CustomEnvelope)
    async def custom(self, data: Any, envelope: str, metadata: Any = None) -> None:
        if data == self.data_uuid:
            self.seen["custom"] = {"envelope": envelope, "metadata": metadata}
            self.check_closer()

    @amqp("compat.retry")
    async def retry(self, data: Any) -> None:
        if data == self.data_uuid:
            self.retry_calls += 1
            if self.retry_calls == 1:
                raise AmqpInternalServiceError("try again")
            self.seen["retried"] = self.retry_calls
            self.check_closer()

    async def _start_service(self) -> None:
        self.closer = asyncio.Future()
        self.seen = {}

    async def _started_service(self) -> None:
        async def _async() -> None:
            async def sleep_and_kill() -> None:
                await asyncio.sleep(8.0)
                if not self.closer.done():
                    self.closer.set_result(None)

            task = asyncio.ensure_future(sleep_and_kill())
            await self.closer
            if not task.done():
                task.cancel()
            await asyncio.sleep(0.2)  # a second delivery to the shared queue would show up here
            report("seen", **self.seen)
            tomodachi.exit()

        asyncio.ensure_future(_async())

        await amqp_publish(self, self.data_uuid, routing_key="compat.topic", wait=True)
        await amqp_publish(self, "plain " + self.data_uuid, "compat.plain", message_envelope=None)
        await amqp_publish(self, self.data_uuid, "compat.custom", message_envelope=CustomEnvelope)
        task = await amqp_publish(self, self.data_uuid, "compat.retry", wait=False)
        await task

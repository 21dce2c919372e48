"""AWS SNS+SQS handlers as the original's users write them: legacy ``aws`` option keys read from
the environment, JsonBase, callback_kwargs, every transport keyword, competing and explicit
queues, filter policies, sqs_send_message to a queue-only handler, raw payloads, a custom
envelope, message attributes, FIFO and a retry with AWSSNSSQSInternalServiceError."""

import asyncio
import base64
import json
import os
import uuid as uuid_
from typing import Any, Dict, List

import tomodachi
from tomodachi.envelope import JsonBase, ProtobufBase
from tomodachi.envelope.protobuf_base import SNSSQSMessage
from tomodachi.transport.aws_sns_sqs import (
    AWSSNSSQSInternalServiceError,
    QueueDoesNotExistError,
    aws_sns_sqs,
    aws_sns_sqs_publish,
    awssnssqs,
    sqs_send_message,
)

data_uuid = str(uuid_.uuid4())


def report(event: str, **values: Any) -> None:
    def default(value: Any) -> Any:
        if isinstance(value, bytes):
            return {"bytes": base64.b64encode(value).decode()}
        return repr(value)

    print("COMPAT " + json.dumps({"event": event, **values}, default=default), flush=True)


class CustomEnvelope:
    @classmethod
    async def build_message(cls, service: Any, topic: str, data: Any, **kwargs: Any) -> str:
        return json.dumps({"envelope": "custom", "data": data})

    @classmethod
    async def parse_message(cls, payload: str, **kwargs: Any) -> Any:
        return json.loads(payload), None, None


class KeywordsEnvelope:
    """Records the keywords parse_message and validate get (decorator extras, message_attributes)."""

    validated: Dict[str, Any] = {}

    @classmethod
    def validate(cls, **kwargs: Any) -> None:
        cls.validated = dict(kwargs)

    @classmethod
    async def build_message(cls, service: Any, topic: str, data: Any, **kwargs: Any) -> str:
        return json.dumps({"data": data, "build_kwargs": sorted(kwargs)})

    @classmethod
    async def parse_message(cls, payload: str, **kwargs: Any) -> Any:
        message = json.loads(payload)
        message["parse_kwargs"] = sorted(kwargs)
        return message, None, None


class AWSSNSSQSService(tomodachi.Service):
    name = "compat_aws_sns_sqs"
    log_level = "INFO"
    message_envelope = JsonBase
    options = {
        "aws": {
            "region_name": os.environ.get("TOMODACHI_TEST_AWS_REGION"),
            "aws_access_key_id": os.environ.get("TOMODACHI_TEST_AWS_ACCESS_KEY_ID"),
            "aws_secret_access_key": os.environ.get("TOMODACHI_TEST_AWS_ACCESS_SECRET"),
        },
        "aws_sns_sqs": {
            "queue_name_prefix": os.environ.get("TOMODACHI_TEST_SQS_QUEUE_PREFIX") or "",
            "topic_prefix": os.environ.get("TOMODACHI_TEST_SNS_TOPIC_PREFIX") or "",
        },
        "aws_endpoint_urls": {
            "sns": os.environ.get("TOMODACHI_TEST_AWS_SNS_ENDPOINT_URL") or None,
            "sqs": os.environ.get("TOMODACHI_TEST_AWS_SQS_ENDPOINT_URL") or None,
        },
    }

    closer: asyncio.Future
    data_uuid = data_uuid
    seen: Dict[str, Any]
    filtered: List[Any]
    shared_calls = 0
    retry_calls = 0

    expected = (
        "test",
        "callback_kwargs",
        "competing",
        "shared",
        "transport_kwargs",
        "filtered",
        "direct",
        "raw",
        "custom",
        "attributes",
        "fifo",
        "retried",
        "protobuf",
        "envelope_kwargs",
        "message_protocol",
        "large",
    )

    def check_closer(self) -> None:
        if all(key in self.seen for key in self.expected) and not self.closer.done():
            self.closer.set_result(None)

    @aws_sns_sqs("compat-topic")
    async def test(self, data: Any, metadata: Any, service: Any) -> None:
        if data == self.data_uuid:
            self.seen["test"] = {
                "metadata_topic": metadata.get("topic"),
                "service_name": service.get("name"),
                "service_uuid_matches": service.get("uuid") == self.uuid,
            }
            self.check_closer()

    @aws_sns_sqs("compat-topic", ("data",))
    async def with_callback_kwargs(self, data: Any, topic: str = "untouched") -> None:
        if data == self.data_uuid:
            self.seen["callback_kwargs"] = {"topic": topic}
            self.check_closer()

    @awssnssqs("compat-topic", competing=True)
    async def competing_alias(self, data: Any) -> None:
        if data == self.data_uuid:
            self.seen["competing"] = True
            self.check_closer()

    @aws_sns_sqs("compat-topic", queue_name="compat-shared-{}".format(data_uuid))
    async def test_specified_queue_name(self, data: Any) -> None:
        if data == self.data_uuid:
            self.shared_calls += 1
            self.seen["shared"] = self.shared_calls
            self.check_closer()

    @aws_sns_sqs("compat-topic", queue_name="compat-shared-{}".format(data_uuid))
    async def test_specified_queue_name_again(self, data: Any) -> None:
        if data == self.data_uuid:
            self.shared_calls += 1
            self.seen["shared"] = self.shared_calls
            self.check_closer()

    @aws_sns_sqs("compat-topic")
    async def transport_kwargs(
        self,
        message: Any,
        topic: str,
        message_uuid: str,
        receipt_handle: str,
        queue_url: str,
        message_attributes: Dict,
        approximate_receive_count: int,
        sns_message_id: str,
        sqs_message_id: str,
        message_type: str,
        raw_message_body: str,
        message_timestamp: str,
        message_deduplication_id: Any,
        message_group_id: Any,
        data: Any = None,
        not_injected: str = "default",
    ) -> None:
        if data == self.data_uuid:
            self.seen["transport_kwargs"] = {
                "message_keys": sorted(message) if isinstance(message, dict) else repr(message),
                "topic": topic,
                "message_uuid_matches": message_uuid == message["metadata"]["message_uuid"],
                "has_receipt_handle": bool(receipt_handle),
                "has_queue_url": bool(queue_url),
                "message_attributes": message_attributes,
                "approximate_receive_count": approximate_receive_count,
                "has_sns_message_id": bool(sns_message_id),
                "has_sqs_message_id": bool(sqs_message_id),
                "message_type": message_type,
                "raw_body_message_type": json.loads(raw_message_body).get("Type"),
                "has_message_timestamp": bool(message_timestamp),
                "message_deduplication_id": message_deduplication_id,
                "message_group_id": message_group_id,
                "not_injected": not_injected,
            }
            self.check_closer()

    @aws_sns_sqs(
        "compat-filtered",
        filter_policy={"currency": ["SEK", "EUR"], "amount": [{"numeric": [">=", 99.51]}]},
    )
    async def filtered_handler(self, data: Any, message_attributes: Dict) -> None:
        self.filtered.append(data)
        self.seen["filtered"] = self.filtered
        self.check_closer()

    @aws_sns_sqs(queue_name="compat-direct-{}".format(data_uuid))
    async def direct(self, data: Any, topic: str, message_type: str, message_attributes: Dict) -> None:
        if data == self.data_uuid:
            self.seen["direct"] = {
                "topic": topic,
                "message_type": message_type,
                "message_attributes": message_attributes,
            }
            self.check_closer()

    @aws_sns_sqs("compat-raw", message_envelope=None)
    async def raw(self, value: Any, default_value: int = 42) -> None:
        if value == "raw " + self.data_uuid:
            self.seen["raw"] = {"value": value, "default_value": default_value}
            self.check_closer()

    @aws_sns_sqs("compat-custom", message_envelope=CustomEnvelope)
    async def custom(self, data: Any, envelope: str) -> None:
        if data == self.data_uuid:
            self.seen["custom"] = {"envelope": envelope}
            self.check_closer()

    @aws_sns_sqs("compat-attributes")
    async def attributes(self, data: Any, message_attributes: Dict) -> None:
        if data == self.data_uuid:
            self.seen["attributes"] = message_attributes
            self.check_closer()

    @aws_sns_sqs("compat-fifo", fifo=True)
    async def fifo(self, data: Any, message_group_id: str, message_deduplication_id: str) -> None:
        if data == self.data_uuid:
            self.seen["fifo"] = {"group": message_group_id, "dedup": message_deduplication_id}
            self.check_closer()

    @aws_sns_sqs("compat-retry", visibility_timeout=1)
    async def retry(self, data: Any, approximate_receive_count: int) -> None:
        if data == self.data_uuid:
            self.retry_calls += 1
            if self.retry_calls == 1:
                raise AWSSNSSQSInternalServiceError("try again")
            self.seen["retried"] = {"calls": self.retry_calls, "receive_count": approximate_receive_count}
            self.check_closer()

    @aws_sns_sqs("compat-protobuf", message_envelope=ProtobufBase, proto_class=SNSSQSMessage)
    async def protobuf(self, data: Any, metadata: Any, service: Any) -> None:
        if data.service.name == self.data_uuid:
            self.seen["protobuf"] = {
                "type": type(data).__name__,
                "metadata_topic": metadata.get("topic"),
                "service_name": service.get("name"),
            }
            self.check_closer()

    @aws_sns_sqs("compat-envelope-kwargs", message_envelope=KeywordsEnvelope, custom_option="x")
    async def envelope_kwargs(self, data: Any, parse_kwargs: Any, build_kwargs: Any) -> None:
        if data == self.data_uuid:
            self.seen["envelope_kwargs"] = {
                "validated": KeywordsEnvelope.validated,
                "parse_kwargs": parse_kwargs,
                "build_kwargs": build_kwargs,
            }
            self.check_closer()

    @aws_sns_sqs("compat-message-protocol", message_protocol=CustomEnvelope)
    async def message_protocol_kwarg(self, data: Any, envelope: str) -> None:
        if data == self.data_uuid:
            self.seen["message_protocol"] = {"envelope": envelope}
            self.check_closer()

    @aws_sns_sqs("compat-large")
    async def large(self, data: Any, metadata: Any) -> None:
        if isinstance(data, dict) and data.get("id") == self.data_uuid:
            self.seen["large"] = {"length": len(data["text"]), "data_encoding": metadata.get("data_encoding")}
            self.check_closer()

    async def _start_service(self) -> None:
        self.closer = asyncio.Future()
        self.seen = {}
        self.filtered = []

    async def _started_service(self) -> None:
        async def publish(data: Any, topic: str, **kwargs: Any) -> Any:
            return await aws_sns_sqs_publish(self, data, topic=topic, wait=False, **kwargs)

        async def _async() -> None:
            async def sleep_and_kill() -> None:
                await asyncio.sleep(12.0)
                if not self.closer.done():
                    self.closer.set_result(None)

            task = asyncio.ensure_future(sleep_and_kill())
            await self.closer
            if not task.done():
                task.cancel()
            await asyncio.sleep(0.5)  # a filtered-out message or a second shared delivery shows up here
            report("seen", **self.seen)
            tomodachi.exit()

        asyncio.ensure_future(_async())

        proto_message = SNSSQSMessage()  # any protobuf message class will do as the payload
        proto_message.service.name = self.data_uuid

        message_id = await aws_sns_sqs_publish(self, self.data_uuid, "compat-topic", wait=True)
        report("published", message_id_type=type(message_id).__name__)
        tasks = [
            await publish(
                "no match", "compat-filtered", message_attributes={"currency": "USD", "amount": 100}
            ),
            await publish(
                "too small", "compat-filtered", message_attributes={"currency": "SEK", "amount": 50}
            ),
            await publish(
                "match", "compat-filtered", message_attributes={"currency": "SEK", "amount": 99.52}
            ),
            await publish("raw " + self.data_uuid, "compat-raw", message_envelope=None),
            await publish(self.data_uuid, "compat-custom", message_envelope=CustomEnvelope),
            await publish(
                self.data_uuid,
                "compat-attributes",
                message_attributes={"n": 1, "f": 1.5, "s": "x", "b": True, "l": ["a", 1], "bin": b"\x00\x01"},
            ),
            await publish(self.data_uuid, "compat-fifo", group_id="group-1", deduplication_id="dedup-1"),
            await publish(self.data_uuid, "compat-retry"),
            await publish(proto_message, "compat-protobuf", message_envelope=ProtobufBase),
            await publish(self.data_uuid, "compat-envelope-kwargs", message_envelope=KeywordsEnvelope),
            await publish(self.data_uuid, "compat-message-protocol", message_protocol=CustomEnvelope),
            await publish({"id": self.data_uuid, "text": "x" * 70000}, "compat-large"),
        ]
        report("publish_wait_false", task_types=sorted({type(t).__name__ for t in tasks}))
        try:
            await sqs_send_message(self, "lost", queue_name="compat-no-such-queue-{}".format(self.data_uuid))
            report("missing_queue", raised=None)
        except QueueDoesNotExistError as exc:
            import botocore.exceptions

            report(
                "missing_queue",
                raised=type(exc).__name__,
                is_client_error=isinstance(exc, botocore.exceptions.ClientError),
            )
        except Exception as exc:
            report("missing_queue", raised=type(exc).__name__, is_client_error=None)
        await asyncio.gather(*tasks)
        await sqs_send_message(
            self,
            self.data_uuid,
            queue_name="compat-direct-{}".format(self.data_uuid),
            message_attributes={"attribute": "value", "number": 4711},
        )

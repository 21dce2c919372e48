"""The import paths and names original-style services use (reference section 1), in-process."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import pytest

#: module -> names a service (or its tests) imports from it.
NAMES: dict[str, str] = {
    "tomodachi": (
        "Service service exit run Options OptionsInterface Logger LoggerProtocol get_logger get_service "
        "get_instance get_services decorator amqp amqp_publish aws_sns_sqs awssnssqs aws_sns_sqs_publish "
        "awssnssqs_publish sns_publish aws_sns_sqs_send_message awssnssqs_send_message sqs_send_message http "
        "http_error http_static websocket ws HttpException HttpResponse get_http_response_status "
        "get_http_response_status_sync get_forwarded_remote_ip schedule scheduler heartbeat every_second "
        "minutely hourly daily monthly SERVICE_EXIT_CODE DEFAULT_SERVICE_EXIT_CODE __version__ "
        "__version_info__ TomodachiServiceMeta get_execution_context set_execution_context "
        "increase_execution_context_value decrease_execution_context_value get_contextvar context"
    ),
    "tomodachi.envelope": "JsonBase ProtobufBase json_base protobuf_base",
    "tomodachi.envelope.json_base": "JsonBase PROTOCOL_VERSION",
    "tomodachi.envelope.protobuf_base": "ProtobufBase PROTOCOL_VERSION SNSSQSMessage",
    "tomodachi.protocol": "JsonBase ProtobufBase json_base protobuf_base",
    "tomodachi.protocol.json_base": "JsonBase PROTOCOL_VERSION",
    "tomodachi.protocol.protobuf_base": "ProtobufBase PROTOCOL_VERSION",
    "tomodachi.options": "Options OptionsInterface",
    "tomodachi.transport.http": (
        "http http_error http_static websocket ws Response HttpException get_http_response_status "
        "get_http_response_status_sync get_forwarded_remote_ip"
    ),
    "tomodachi.transport.amqp": (
        "amqp amqp_publish publish AmqpException AmqpInternalServiceError AmqpInternalServiceErrorException "
        "AmqpInternalServiceException AmqpExclusiveQueueLockedException AmqpTooManyConsumersException "
        "AmqpConnectionException AmqpChannelClosed MESSAGE_ENVELOPE_DEFAULT MESSAGE_ROUTING_KEY_PREFIX"
    ),
    "tomodachi.transport.aws_sns_sqs": (
        "aws_sns_sqs awssnssqs publish aws_sns_sqs_publish awssnssqs_publish sns_publish send_message "
        "aws_sns_sqs_send_message awssnssqs_send_message sqs_send_message AWSSNSSQSException "
        "AWSSNSSQSConnectionException AWSSNSSQSInternalServiceError AWSSNSSQSInternalServiceErrorException "
        "AWSSNSSQSInternalServiceException QueueDoesNotExistError MessageAttributesType FilterPolicyDictType "
        "FilterPolicyDictValueType MessageBodyFormatter MessageBodyFormatterContext "
        "MessageBodyFormatterProtocol MessageEnvelopeProtocol MESSAGE_ENVELOPE_DEFAULT MESSAGE_TOPIC_PREFIX "
        "QUEUE_NAME_PREFIX FILTER_POLICY_DEFAULT DEAD_LETTER_QUEUE_DEFAULT MAX_RECEIVE_COUNT_DEFAULT "
        "VISIBILITY_TIMEOUT_DEFAULT"
    ),
    "tomodachi.transport.awssnssqs": "aws_sns_sqs awssnssqs publish send_message",
    "tomodachi.transport.schedule": "schedule scheduler heartbeat every_second minutely hourly daily monthly",
    "tomodachi.discovery": "AWSSNSRegistration awssns aws_sns DummyRegistry dummy example",
    "tomodachi.discovery.dummy_registry": "DummyRegistry",
    "tomodachi.discovery.aws_sns_registration": "AWSSNSRegistration",
    "tomodachi.invoker": "Invoker decorator",
    "tomodachi.validation.validation": (
        "validate_field_regex validate_field_length RegexMissmatchException TooSmallException "
        "TooLargeException"
    ),
    "tomodachi.logging": (
        "get_logger getLogger Logger LoggerProtocol configure remove_handlers reset_context bind_logger "
        "set_default_formatter set_custom_logger_factory ConsoleFormatter NoColorConsoleFormatter "
        "JSONFormatter DisabledFormatter PythonLoggingFormatter CustomLoggerFormatter DefaultHandler "
        "StderrHandler DEFAULT_FORMAT"
    ),
}

#: (module, name) -> why it is expected to be missing (xfail, strict: passing means fixed).
MISSING: dict[tuple[str, str], str] = {}


def _cases() -> list[Any]:
    cases: list[Any] = []
    for module, names in NAMES.items():
        for name in names.split():
            reason = MISSING.get((module, name))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(module, name, marks=marks, id=f"{module}.{name}"))
    return cases


@pytest.mark.parametrize(("module", "name"), _cases())
def test_name_is_importable(module: str, name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        imported = importlib.import_module(module)
        exec(f"from {module} import {name}", {})  # the `from x import y` form services use
    assert getattr(imported, name) is not None


def test_aliases_are_the_same_objects() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import tomodachi
        import tomodachi.envelope.json_base
        import tomodachi.protocol
        import tomodachi.transport.aws_sns_sqs
        import tomodachi.transport.awssnssqs

    assert tomodachi.protocol.JsonBase is tomodachi.envelope.json_base.JsonBase
    assert tomodachi.transport.awssnssqs is tomodachi.transport.aws_sns_sqs
    assert tomodachi.awssnssqs is tomodachi.aws_sns_sqs
    assert tomodachi.sns_publish is tomodachi.aws_sns_sqs_publish
    assert tomodachi.sqs_send_message is tomodachi.aws_sns_sqs_send_message
    assert tomodachi.ws is tomodachi.websocket
    assert tomodachi.get_instance is tomodachi.get_service
    assert tomodachi.HttpResponse is tomodachi.transport.http.Response


def test_unknown_attribute_raises_attribute_error() -> None:
    import tomodachi

    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = tomodachi.no_such_name

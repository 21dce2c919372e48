"""Original-style SNS+SQS services, run by ``tomodachi run`` on the in-memory broker and on moto."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compat._compat_support import Backend, Corpus, Result


@pytest.fixture(scope="module")
def handlers_run(corpus: Corpus, sns_sqs_backend: Backend) -> Result:
    return corpus.result("aws_sns_sqs_service.py", sns_sqs_backend)


@pytest.fixture(scope="module")
def middleware_run(corpus: Corpus, sns_sqs_backend: Backend) -> Result:
    return corpus.result("aws_sns_sqs_middleware_service.py", sns_sqs_backend)


def seen(result: Result) -> dict[str, Any]:
    assert result.returncode == 0, result.describe()
    return result.event("seen")


def test_envelope_keys_callback_kwargs_and_queues(handlers_run: Result) -> None:
    got = seen(handlers_run)
    assert got["test"] == {
        "metadata_topic": "compat-topic",
        "service_name": "compat_aws_sns_sqs",
        "service_uuid_matches": True,
    }
    # callback_kwargs=("data",) (positional #2): `topic` is not injected and keeps its default
    assert got["callback_kwargs"] == {"topic": "untouched"}
    assert got["competing"] is True  # the awssnssqs alias, competing=True
    assert got["shared"] == 1  # two handlers on one explicit queue_name compete for one delivery


def test_every_transport_keyword(handlers_run: Result) -> None:
    tk = seen(handlers_run)["transport_kwargs"]
    assert tk == {
        "message_keys": ["data", "metadata", "service"],
        "topic": "compat-topic",  # the actual topic, prefix stripped
        "message_uuid_matches": True,
        "has_receipt_handle": True,
        "has_queue_url": True,
        "message_attributes": {},
        "approximate_receive_count": 1,
        "has_sns_message_id": True,
        "has_sqs_message_id": True,
        "message_type": "Notification",
        "raw_body_message_type": "Notification",
        "has_message_timestamp": True,
        "message_deduplication_id": None,
        "message_group_id": None,
        "not_injected": "default",
    }


def test_filter_policy_and_message_attributes(handlers_run: Result) -> None:
    got = seen(handlers_run)
    assert got["filtered"] == ["match"]
    # reference 6.4: attributes round-trip with their types (bytes as Binary)
    assert got["attributes"] == {
        "n": 1,
        "f": 1.5,
        "s": "x",
        "b": True,
        "l": ["a", 1],
        "bin": {"bytes": "AAE="},
    }


def test_sqs_send_message_to_a_queue_only_handler(handlers_run: Result) -> None:
    assert seen(handlers_run)["direct"] == {
        "topic": "",
        "message_type": "Message",
        "message_attributes": {"attribute": "value", "number": 4711},
    }


def test_raw_payload_custom_envelope_fifo_and_retry(handlers_run: Result) -> None:
    got = seen(handlers_run)
    # no envelope: the first positional parameter gets the raw string; defaults are kept
    assert got["raw"]["value"].startswith("raw ") and got["raw"]["default_value"] == 42
    assert got["custom"] == {"envelope": "custom"}
    assert got["fifo"] == {"group": "group-1", "dedup": "dedup-1"}
    # AWSSNSSQSInternalServiceError leaves the message in the queue: it comes back
    assert got["retried"] == {"calls": 2, "receive_count": 2}


def test_publish_returns_the_message_id_or_a_task(handlers_run: Result) -> None:
    assert handlers_run.event("published")["message_id_type"] == "str"
    assert handlers_run.event("publish_wait_false")["task_types"] == ["Task"]


def received(result: Result, service: str) -> dict[str, Any]:
    assert result.returncode == 0, result.describe()
    got: dict[str, Any] = result.event(service)["received"]
    assert got is not None, f"the handler of {service!r} was never called; {result.describe()}"
    return got


def test_readme_style_middleware(middleware_run: Result) -> None:
    assert received(middleware_run, "readme_style") == {"data_ok": True, "topic": "compat-mw-readme"}
    [(name, topic, keywords)] = middleware_run.event("readme_style")["calls"]
    assert (name, topic) == ("readme", "compat-mw-readme")
    # **kwargs gets the transport's keywords (not the envelope's data/metadata/service)
    assert {"message_attributes", "message_uuid", "queue_url", "receipt_handle", "sns_message_id"} <= set(
        keywords
    )
    assert not {"data", "metadata", "service"} & set(keywords)


def test_the_original_middleware_test_chain_on_a_topic(middleware_run: Result) -> None:
    assert received(middleware_run, "chain_on_topic") == {
        "data_ok": True,
        "kwarg_abc": 4711,
        "kwarg_xyz": 4712,
        "initial_a_value": 5,
        "a_value": 30,
        "another_value": 42,
        "topic": "compat-mw-chain",
        "message_attributes": {"attr_1": "value_1", "initial_a_value": 5},
        "has_queue_url": True,
        "has_receipt_handle": True,
        "approximate_receive_count": 1,
        "message_deduplication_id": None,
        "middlewares_called": ["middleware_init", "middleware_abc", "middleware_xyz", "middleware_last"],
    }


def test_the_original_middleware_test_chain_on_sqs_send_message(middleware_run: Result) -> None:
    assert received(middleware_run, "chain_on_queue") == {
        "data_ok": True,
        "kwarg_abc": 4711,
        "kwarg_xyz": 4712,
        "initial_a_value": 7,
        "a_value": 42,
        "topic": "",
        "message_type": "Message",
        "middlewares_called": ["middleware_init", "middleware_abc", "middleware_xyz", "middleware_last"],
    }


def test_example_middleware_passing_positional_arguments_to_func(middleware_run: Result) -> None:
    assert received(middleware_run, "positional_pass_through") == {"data_ok": True, "attribute_count": 1}


def test_protobuf_envelope_with_proto_class(handlers_run: Result) -> None:
    assert seen(handlers_run)["protobuf"] == {
        "type": "SNSSQSMessage",
        "metadata_topic": "compat-protobuf",
        "service_name": "compat_aws_sns_sqs",
    }


def test_decorator_extras_reach_the_envelope(handlers_run: Result) -> None:
    """Reference 2.2/6.4: decorator extras go to validate() and parse_message() (with
    message_attributes=), and build_message() gets message_attributes=."""
    assert seen(handlers_run)["envelope_kwargs"] == {
        "validated": {"custom_option": "x"},
        "parse_kwargs": ["custom_option", "message_attributes"],
        "build_kwargs": ["message_attributes"],
    }


def test_deprecated_message_protocol_keyword(handlers_run: Result) -> None:
    assert seen(handlers_run)["message_protocol"] == {"envelope": "custom"}


def test_two_service_files_in_one_run_exchange_messages(corpus: Corpus, sns_sqs_backend: Backend) -> None:
    result = corpus.result("pubsub_orders_service.py pubsub_shipping_service.py", sns_sqs_backend)
    assert result.returncode == 0, result.describe()
    assert result.event("shipped") == {
        "event": "shipped",
        "data": {"order": 1},
        "from": "compat_orders",
        "orders_uuid_matches": True,  # get_service() finds the other file's service
        "services": ["compat_orders", "compat_shipping"],
    }


def test_queue_does_not_exist_error(handlers_run: Result) -> None:
    missing = handlers_run.event("missing_queue")
    assert missing["raised"] == "QueueDoesNotExistError"
    assert missing["is_client_error"] is True


@pytest.fixture(scope="module")
def dlq_run(corpus: Corpus, sns_sqs_backend: Backend) -> Result:
    return corpus.result("aws_sns_sqs_dlq_service.py", sns_sqs_backend)


def test_dead_letter_queue_after_max_receive_count(dlq_run: Result) -> None:
    assert dlq_run.returncode == 0, dlq_run.describe()
    got = dlq_run.event("dlq")
    assert got["receive_counts"] == [1, 2]
    assert got["dead_lettered"] is not None, dlq_run.describe()
    assert got["dead_lettered"]["topic"] == "compat-dlq-topic"


def test_the_dead_letter_queue_gets_a_copy_after_the_last_attempt(dlq_run: Result) -> None:
    # Deliberate difference (docs/aws_sns_sqs.md, "Retries"): the retry policy, capped by
    # max_receive_count, sends the message to the dead-letter queue after its last attempt, as a
    # new message (same body and attributes) whose receive count starts again at 1. In the
    # original the redrive policy moved it on the next receive, and the count went on (3).
    assert dlq_run.event("dlq")["dead_lettered"]["receive_count"] == 1


def test_large_json_base_payload_is_compressed(handlers_run: Result) -> None:
    assert seen(handlers_run)["large"] == {"length": 70000, "data_encoding": "base64_gzip_json"}

"""Original-style AMQP services, run by ``tomodachi run`` on the in-memory broker and on RabbitMQ."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compat._compat_support import Backend, Corpus, Result


def test_amqp_handlers_receive_the_documented_keywords(corpus: Corpus, amqp_backend: Backend) -> None:
    result = corpus.result("amqp_service.py", amqp_backend)
    assert result.returncode == 0, result.describe()
    seen = result.event("seen")

    # JsonBase: `data`, `metadata` and `service` are injected by name (reference 2.2/2.3)
    assert seen["test"]["metadata_topic"] == "compat.topic"  # the unprefixed routing key
    assert seen["test"]["service_name"] == "compat_amqp"
    assert seen["test"]["protocol_version"] == "tomodachi-json-base--1.0.0"
    assert seen["test"]["has_message_uuid"]
    # two handlers on one explicit queue_name compete: one delivery between them
    assert seen["shared"] == 1
    assert "compat.topic" in seen["wildcard"]
    # callback_kwargs restricts injection; other parameters keep their defaults
    assert seen["callback_kwargs"] == {"routing_key": "compat.topic", "metadata": "untouched"}
    tk = seen["transport_kwargs"]
    assert tk["message_keys"] == ["data", "metadata", "service"]
    # docs/amqp.md: routing_key is the key the message was published with (the original passed
    # the subscription pattern "compat.*")
    assert tk["routing_key"] == "compat.topic"
    assert tk["exchange_name"] == "amq.topic"
    assert tk["has_properties"] and tk["message_uuid_matches"]
    assert tk["not_injected"] == "default"
    assert set(seen["kwargs"]) >= {
        "data",
        "metadata",
        "service",
        "message",
        "message_uuid",
        "routing_key",
        "exchange_name",
        "properties",
    }
    assert seen["sync"] is True
    # no envelope: the first positional parameter gets the raw payload (a str), whatever its name
    assert seen["raw"] == {"type": "str", "routing_key": "compat.topic"}
    assert seen["plain"]["payload"].startswith("plain ") and seen["plain"]["another"] == "default"
    assert seen["custom"] == {"envelope": "custom", "metadata": None}
    # AmqpInternalServiceError: the message is redelivered
    assert seen["retried"] == 2


@pytest.fixture(scope="module")
def middleware_run(corpus: Corpus, amqp_backend: Backend) -> Result:
    """amqp_middleware_service.py, run once per backend; each test checks one service class."""
    return corpus.result("amqp_middleware_service.py", amqp_backend)


def received(result: Result, service: str) -> dict[str, Any]:
    assert result.returncode == 0, result.describe()
    got: dict[str, Any] = result.event(service)["received"]
    assert got is not None, f"the handler of {service!r} was never called; {result.describe()}"
    return got


def test_readme_style_message_middleware(middleware_run: Result) -> None:
    """``(func, service, message, routing_key, context, *args, **kwargs)`` calling
    ``func(*args, **kwargs)``: the middleware example of the original's README."""
    assert received(middleware_run, "readme_style") == {"data_ok": True, "routing_key": "compat.mw.readme"}
    calls = middleware_run.event("readme_style")["calls"]
    assert calls == ["readme_middleware:before", "handler", "readme_middleware:after"]


def test_middleware_passing_positional_arguments_to_func(middleware_run: Result) -> None:
    assert received(middleware_run, "positional_pass_through") == {
        "data_ok": True,
        "seen_routing_key": "compat.mw.positional",
    }


def test_middleware_chain_builds_keywords(middleware_run: Result) -> None:
    """The original's 4-middleware chain: extras flow on, transport values win, defaults stay."""
    assert received(middleware_run, "chain") == {
        "data_ok": True,
        "kwarg_abc": 4711,
        "kwarg_xyz": 4712,
        "initial_a_value": 5,
        "a_value": 30,
        "another_value": 42,
        "routing_key": "compat.mw.chain",
        "middlewares_called": ["chain_init", "chain_abc", "chain_xyz", "chain_last"],
    }


def test_bound_method_callable_object_sync_and_keyword_only_middlewares(middleware_run: Result) -> None:
    assert received(middleware_run, "objects") == {
        "data_ok": True,
        "bound_self_is_service": True,
        "object_calls": 1,
        "sync_seen": True,
        "keyword_only": ["compat.mw.objects", ["data", "metadata", "service"], True],
    }


def test_middleware_can_replace_the_envelope_data(middleware_run: Result) -> None:
    """``func(data=...)``: envelope keys are not transport values, so a middleware may replace them."""
    got = received(middleware_run, "data_override")
    assert got["data"] == got["expected"]


def test_retry_raised_by_a_middleware_redelivers(middleware_run: Result) -> None:
    assert received(middleware_run, "retry_from_middleware") == {"data_ok": True, "deliveries": 2}


def test_legacy_decorated_amqp_service_with_message_protocol(corpus: Corpus, amqp_backend: Backend) -> None:
    result = corpus.result("amqp_legacy_service.py", amqp_backend)
    assert result.returncode == 0, result.describe()  # it sent itself SIGINT
    assert result.event("received") == {
        "event": "received",
        "test": True,
        "wildcard": True,
        "metadata_topic": "test.topic",
        "service_uuid_matches": True,
    }

"""Registries in a running service (``tomodachi.testing.run_services``): the HTTP transport tells
them every route once bound; the container registers after start and deregisters at stop."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

import tomodachi
from tomodachi.discovery import AWSSNSRegistration, DummyRegistry, HttpEndpoint
from tomodachi.envelope import JsonBase
from tomodachi.testing import run_services
from tomodachi.transport.memory.broker import MemoryBroker


def service_class(registries: list[Any]) -> type[tomodachi.Service]:
    with pytest.warns(DeprecationWarning, match="discovery is deprecated"):

        class Discovered(tomodachi.Service):
            name = "discovered"
            message_envelope = JsonBase
            discovery = registries

            @tomodachi.http("GET", r"/health")
            async def health(self, request: Any) -> str:
                return "ok"

            @tomodachi.http("POST", r"/orders/(?P<id>\d+)")
            async def order(self, request: Any, id: str) -> str:
                return id

            async def _start_service(self) -> None:
                # On the in-memory broker: a queue that sees every (de)registration, subscribed
                # before anything can be published.
                runtime = tomodachi.runtime_of(self)
                sns_sqs = MemoryBroker.of(runtime).sns_sqs
                for topic in ("services-registration-register", "services-registration-deregister"):
                    sns_sqs.create_topic(topic)
                    sns_sqs.create_queue(topic + "-probe")
                    sns_sqs.subscribe(topic, topic + "-probe", raw_message_delivery=True)

    return Discovered


async def test_the_http_transport_tells_registries_its_routes() -> None:
    async with run_services(service_class([DummyRegistry])) as app:
        port = app.service.context["_http_port"]
        endpoints = DummyRegistry.endpoints(app.service)
        assert HttpEndpoint("0.0.0.0", port, "GET", "^/health$") in endpoints
        assert HttpEndpoint("0.0.0.0", port, "POST", r"^/orders/(?P<id>\d+)$") in endpoints
        assert {e.method for e in endpoints} == {"GET", "HEAD", "POST"}  # GET routes also answer HEAD


async def test_a_service_without_discovery_is_not_touched() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)

        class Plain(tomodachi.Service):
            name = "plain"

            @tomodachi.http("GET", r"/")
            async def index(self, request: Any) -> str:
                return "ok"

    async with run_services(Plain) as app:
        assert not hasattr(app.service, "_tomodachi_discovery_records")


async def test_dummy_registry_sees_register_then_deregister() -> None:
    async with run_services(service_class([DummyRegistry])) as app:
        service = app.service
        assert DummyRegistry.is_registered(service)
        actions = [event.action for event in DummyRegistry.events(service)]
        assert actions[-1] == "register" and set(actions[:-1]) == {"add_http_endpoint"}
        assert len(DummyRegistry.events(service)[-1].endpoints) == 3
    assert not DummyRegistry.is_registered(service)
    assert [event.action for event in DummyRegistry.events(service)][-2:] == ["register", "deregister"]
    assert DummyRegistry.endpoints(service) == []


async def test_aws_sns_registration_in_a_run_on_the_in_memory_broker() -> None:
    async with run_services(service_class([AWSSNSRegistration])) as app:
        service, broker, port = app.service, app.broker, app.service.context["_http_port"]
    (message,) = await broker.sns_sqs.receive("services-registration-register-probe", wait_seconds=0)
    registered, _, _ = await JsonBase.parse_message(message.body)
    assert registered["data"]["name"] == "discovered"
    assert registered["data"]["uuid"] == service.uuid
    assert ["0.0.0.0", port, "GET", "^/health$"] in registered["data"]["http_endpoints"]
    (message,) = await broker.sns_sqs.receive("services-registration-deregister-probe", wait_seconds=0)
    deregistered, _, _ = await JsonBase.parse_message(message.body)
    assert deregistered["data"] == {"name": "discovered", "uuid": service.uuid}

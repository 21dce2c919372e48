"""``tomodachi.discovery``: the import surface, DummyRegistry, and the fan-out helpers with
user-supplied registries (classes, instances, modules; sync and async; failing ones)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import types
from collections.abc import Callable
from typing import Any

import tomodachi
from tests import _support
from tomodachi import discovery
from tomodachi.discovery import (
    DummyRegistry,
    HttpEndpoint,
    RegistryEvent,
    add_http_endpoint,
    deregister_service,
    register_service,
    registries_of,
)


class FakeService:
    """The registries only read ``name``, ``uuid`` and ``discovery`` of a service."""

    def __init__(self, name: str, discovery: Any) -> None:
        self.name = name
        self.uuid = f"uuid-{name}"
        self.discovery = discovery


def test_the_package_and_its_aliases() -> None:
    assert tomodachi.discovery is discovery
    assert discovery.dummy is discovery.example is DummyRegistry
    assert discovery.dummy_registry.DummyRegistry is DummyRegistry
    aws = discovery.AWSSNSRegistration
    assert discovery.awssns is discovery.aws_sns is aws
    assert discovery.aws_sns_registration.AWSSNSRegistration is aws
    for registry in (DummyRegistry, aws):
        assert isinstance(registry.name, str) and registry.name
        for method in ("add_http_endpoint", "_register_service", "_deregister_service"):
            assert callable(getattr(registry, method))
    try:
        discovery.nothing_here  # noqa: B018
    except AttributeError as exc:
        assert "tomodachi.discovery" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_package_does_not_import_the_aws_transport() -> None:
    code = (
        "import sys, tomodachi.discovery as d; "
        "assert d.DummyRegistry; "
        "heavy = [m for m in sys.modules if m.startswith(('aiobotocore', 'botocore', "
        "'tomodachi.transport.aws_sns_sqs'))]; "
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=_support.cli_env(), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


async def test_dummy_registry_remembers_per_service_and_clears_at_deregister() -> None:
    one, two = FakeService("one", [DummyRegistry]), FakeService("two", [DummyRegistry])
    await add_http_endpoint(one, "0.0.0.0", 8080, "GET", "^/a$")
    await add_http_endpoint(one, "0.0.0.0", 8080, "POST", "^/b$")
    await register_service(one)
    await register_service(two)

    assert DummyRegistry.endpoints(one) == [
        HttpEndpoint("0.0.0.0", 8080, "GET", "^/a$"),
        HttpEndpoint("0.0.0.0", 8080, "POST", "^/b$"),
    ]
    assert DummyRegistry.endpoints(two) == []
    assert DummyRegistry.is_registered(one) and DummyRegistry.is_registered(two)

    await deregister_service(one)
    assert not DummyRegistry.is_registered(one)
    assert DummyRegistry.is_registered(two)
    assert DummyRegistry.endpoints(one) == []
    assert [event.action for event in DummyRegistry.events(one)] == [
        "add_http_endpoint",
        "add_http_endpoint",
        "register",
        "deregister",
    ]
    register = DummyRegistry.events(one)[2]
    assert register == RegistryEvent("register", tuple(DummyRegistry.events(one)[1].endpoints))
    assert len(register.endpoints) == 2
    assert DummyRegistry.events(two) == [RegistryEvent("register", ())]
    # Nothing is kept on the class: a service it never saw has no record.
    assert DummyRegistry.events(FakeService("three", [])) == []


async def test_a_subclass_of_dummy_registry_keeps_its_own_record() -> None:
    class Mine(DummyRegistry):
        name = "mine"

    service = FakeService("svc", [DummyRegistry, Mine])
    await add_http_endpoint(service, "h", 1, "GET", "^/$")
    await register_service(service)
    assert DummyRegistry.endpoints(service) == Mine.endpoints(service) == [HttpEndpoint("h", 1, "GET", "^/$")]


async def test_dummy_registry_logs(json_logs: Callable[[], list[dict[str, Any]]]) -> None:
    service = FakeService("logged", [DummyRegistry])
    await register_service(service)
    await deregister_service(service)
    lines = [
        (r["message"], r.get("service"), r.get("uuid"))
        for r in json_logs()
        if r.get("logger") == "tomodachi.discovery"
    ]
    assert lines == [
        ("registering service", "logged", "uuid-logged"),
        ("deregistering service", "logged", "uuid-logged"),
    ]


async def test_custom_registries_of_every_shape_are_called_in_order() -> None:
    calls: list[tuple[str, str, tuple[Any, ...]]] = []

    class SyncClassRegistry:  # classmethods, not awaitable
        name = "sync-class"

        @classmethod
        def add_http_endpoint(cls, service: Any, host: str, port: int, method: str, pattern: str) -> None:
            calls.append((cls.name, "add_http_endpoint", (service.name, host, port, method, pattern)))

        @classmethod
        def _register_service(cls, service: Any) -> None:
            calls.append((cls.name, "register", (service.name,)))

        @classmethod
        def _deregister_service(cls, service: Any) -> None:
            calls.append((cls.name, "deregister", (service.name,)))

    class InstanceRegistry:  # an object with async methods; no add_http_endpoint (skipped)
        def __init__(self, name: str) -> None:
            self.name = name

        async def _register_service(self, service: Any) -> None:
            await asyncio.sleep(0)
            calls.append((self.name, "register", (service.name,)))

        async def _deregister_service(self, service: Any) -> None:
            calls.append((self.name, "deregister", (service.name,)))

    module = types.ModuleType("my_registry_module")  # a module with functions, no name attribute

    async def module_register(service: Any) -> None:
        calls.append(("module", "register", (service.name,)))

    def module_deregister(service: Any) -> None:
        calls.append(("module", "deregister", (service.name,)))

    module._register_service = module_register  # type: ignore[attr-defined]
    module._deregister_service = module_deregister  # type: ignore[attr-defined]

    service = FakeService("svc", [SyncClassRegistry, InstanceRegistry("instance"), module])
    assert registries_of(service) == service.discovery
    await add_http_endpoint(service, "0.0.0.0", 80, "GET", "^/$")
    await register_service(service)
    await deregister_service(service)
    assert calls == [
        ("sync-class", "add_http_endpoint", ("svc", "0.0.0.0", 80, "GET", "^/$")),
        ("sync-class", "register", ("svc",)),
        ("instance", "register", ("svc",)),
        ("module", "register", ("svc",)),
        ("sync-class", "deregister", ("svc",)),
        ("instance", "deregister", ("svc",)),
        ("module", "deregister", ("svc",)),
    ]


async def test_a_single_registry_or_none_is_accepted() -> None:
    assert registries_of(FakeService("a", DummyRegistry)) == [DummyRegistry]
    assert registries_of(FakeService("b", None)) == []
    assert registries_of(FakeService("c", (DummyRegistry, None))) == [DummyRegistry]
    assert registries_of(object()) == []
    await register_service(object())  # no discovery attribute: nothing to do


async def test_failing_registries_are_logged_as_one_line_and_the_others_still_run(
    json_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    class Broken:
        name = "broken"

        @classmethod
        async def _register_service(cls, service: Any) -> None:
            raise RuntimeError("registry is down")

        @classmethod
        async def _deregister_service(cls, service: Any) -> None:
            await asyncio.sleep(60)

    class Incomplete:  # no _register_service / _deregister_service at all
        name = "incomplete"

    service = FakeService("svc", [Broken, Incomplete, DummyRegistry])
    await register_service(service)
    await deregister_service(service, timeout=0.05)
    assert [e.action for e in DummyRegistry.events(service)] == ["register", "deregister"]

    records = [
        r
        for r in json_logs()
        if r.get("logger") == "tomodachi.discovery" and r.get("registry") != DummyRegistry.name
    ]
    summary = [(r["level"], r["message"], r["registry"], r["service"]) for r in records]
    assert summary == [
        ("error", "discovery registry failed in _register_service()", "broken", "svc"),
        ("warning", "discovery registry has no _register_service(): skipped", "incomplete", "svc"),
        ("error", "discovery registry timed out in _deregister_service()", "broken", "svc"),
        ("warning", "discovery registry has no _deregister_service(): skipped", "incomplete", "svc"),
    ]
    assert records[0]["error"].startswith("RuntimeError: registry is down (")
    assert records[2]["error"] == "no answer within 0.05 s"
    for record in records:
        assert "exception" not in record and "Traceback" not in str(record)

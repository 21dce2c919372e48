"""``DummyRegistry``: a discovery registry that only remembers and logs what it is told.

Useful as an example of the registry interface and in tests::

    class Service(tomodachi.Service):
        discovery = [DummyRegistry]

    DummyRegistry.events(service)     # [RegistryEvent("register", (...)), RegistryEvent("deregister", ())]
    DummyRegistry.endpoints(service)  # the HTTP routes it was told about (cleared at deregister)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from tomodachi.discovery.registry import HttpEndpoint, peek_service_record, service_record

__all__ = ["DummyRegistry", "RegistryEvent"]


class RegistryEvent(NamedTuple):
    """One call a :class:`DummyRegistry` received: ``"add_http_endpoint"``, ``"register"`` or
    ``"deregister"``, with the endpoints it knew of for the service at that moment."""

    action: str
    endpoints: tuple[HttpEndpoint, ...]


@dataclass(slots=True)
class _Record:
    endpoints: list[HttpEndpoint] = field(default_factory=list)
    events: list[RegistryEvent] = field(default_factory=list)
    registered: bool = False


class DummyRegistry:
    """Remembers, per service instance, the HTTP endpoints and (de)registrations; logs them."""

    name: ClassVar[str] = "tomodachi.discovery.dummy_registry"

    @classmethod
    async def add_http_endpoint(cls, service: Any, host: str, port: int, method: str, pattern: str) -> None:
        record = cls._record(service)
        record.endpoints.append(HttpEndpoint(host, port, method, pattern))
        record.events.append(RegistryEvent("add_http_endpoint", tuple(record.endpoints)))

    @classmethod
    async def _register_service(cls, service: Any) -> None:
        record = cls._record(service)
        record.registered = True
        record.events.append(RegistryEvent("register", tuple(record.endpoints)))
        cls._log("registering service", service, http_endpoints=len(record.endpoints))

    @classmethod
    async def _deregister_service(cls, service: Any) -> None:
        record = cls._record(service)
        record.registered = False
        record.endpoints.clear()  # a new start announces its endpoints again
        record.events.append(RegistryEvent("deregister", ()))
        cls._log("deregistering service", service)

    # -- what it was told ------------------------------------------------------------------
    @classmethod
    def endpoints(cls, service: Any) -> list[HttpEndpoint]:
        """The HTTP endpoints of *service* since it started (empty once deregistered)."""
        record = peek_service_record(service, cls)
        return list(record.endpoints) if record is not None else []

    @classmethod
    def events(cls, service: Any) -> list[RegistryEvent]:
        """Every call received for *service*, in order."""
        record = peek_service_record(service, cls)
        return list(record.events) if record is not None else []

    @classmethod
    def is_registered(cls, service: Any) -> bool:
        """True between ``_register_service`` and ``_deregister_service``."""
        record = peek_service_record(service, cls)
        return bool(record is not None and record.registered)

    @classmethod
    def _record(cls, service: Any) -> _Record:
        # Keyed by cls: a subclass listed next to DummyRegistry keeps its own record.
        return service_record(service, cls, _Record)

    @classmethod
    def _log(cls, message: str, service: Any, **extra: Any) -> None:
        from tomodachi.logging import get_logger

        get_logger("tomodachi.discovery").info(
            message,
            registry=cls.name,
            service=getattr(service, "name", None),
            uuid=getattr(service, "uuid", None),
            **extra,
        )

"""Calling the registries a service lists in ``discovery = [...]`` (deprecated).

A *registry* is anything with these attributes (a class with classmethods, an instance, a
module with functions); each method may be sync or async:

- ``add_http_endpoint(service, host, port, method, pattern)``: an HTTP route of *service* is
  served on *host*:*port* (called by the HTTP transport once per route, after binding);
- ``_register_service(service)``: the service has started (its transports are serving);
- ``_deregister_service(service)``: the service is stopping;
- ``name``: used in log lines.

The functions here call every registry of a service in list order. A registry that fails (or
lacks a method) is logged as one line and skipped: discovery never stops a service.

A registry keeps what it learns about a service with :func:`service_record`: in the run's
record of that service (:attr:`tomodachi.ServiceRecord.registry_records`), so nothing is shared
between services or between runs and nothing is written onto a running service. Only for an
object no run knows (a registry called directly, say in a test) the records are kept on the
object itself, as before.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable

from tomodachi.errors import describe_exception

__all__ = [
    "HttpEndpoint",
    "Registry",
    "add_http_endpoint",
    "deregister_service",
    "drop_service_record",
    "peek_service_record",
    "register_service",
    "registries_of",
    "registry_name",
    "service_record",
]

R = TypeVar("R")

#: Where registries keep their per-service records on an object that no run knows.
_RECORDS_ATTRIBUTE = "_tomodachi_discovery_records"


class HttpEndpoint(NamedTuple):
    """One HTTP route of a service; serialises to JSON as ``[host, port, method, pattern]``."""

    host: str
    port: int
    method: str
    pattern: str


@runtime_checkable
class Registry(Protocol):
    """The shape of a discovery registry (methods may also be plain functions returning None)."""

    name: str

    def add_http_endpoint(self, service: Any, host: str, port: int, method: str, pattern: str) -> Any: ...

    def _register_service(self, service: Any) -> Any: ...

    def _deregister_service(self, service: Any) -> Any: ...


def registries_of(service: Any) -> list[Any]:
    """The registries in *service*'s ``discovery`` attribute (a list, or a single registry)."""
    discovery = getattr(service, "discovery", None)
    if not discovery:
        return []
    if isinstance(discovery, (list, tuple, set, frozenset)):
        return [registry for registry in discovery if registry is not None]
    return [discovery]


def registry_name(registry: Any) -> str:
    """How log lines name *registry*: its ``name``, else its class or module name."""
    name = getattr(registry, "name", None)
    if isinstance(name, str) and name:
        return name
    own = getattr(registry, "__name__", None)
    return str(own) if own else type(registry).__name__


def service_record(service: Any, key: Any, factory: Callable[[], R]) -> R:
    """The record registry *key* keeps for *service*, made by *factory* on first use.

    Records belong to the service (its run's record of it), so two services (or two runs of one
    service class) never see each other's. Drop a record with :func:`drop_service_record` at
    deregister.
    """
    records = _records(service)
    if key not in records:
        records[key] = factory()
    record: R = records[key]
    return record


def peek_service_record(service: Any, key: Any) -> Any:
    """The record registry *key* keeps for *service*, or None."""
    records = _existing_records(service)
    return records.get(key) if records is not None else None


def drop_service_record(service: Any, key: Any) -> Any:
    """Forget (and return) the record registry *key* keeps for *service*."""
    records = _existing_records(service)
    return records.pop(key, None) if records is not None else None


def _existing_records(service: Any) -> dict[Any, Any] | None:
    from tomodachi.runtime import record_of

    record = record_of(service)
    if record is not None:
        return record.registry_records
    records = getattr(service, _RECORDS_ATTRIBUTE, None)
    return records if isinstance(records, dict) else None


def _records(service: Any) -> dict[Any, Any]:
    records = _existing_records(service)
    if records is None:  # an object no run knows: kept on it
        records = {}
        try:
            object.__setattr__(service, _RECORDS_ATTRIBUTE, records)
        except (AttributeError, TypeError) as exc:
            raise TypeError(
                f"discovery registries keep their records on the service instance; cannot set an "
                f"attribute on {type(service).__name__} ({exc})"
            ) from None
    return records


async def add_http_endpoint(service: Any, host: str, port: int, method: str, pattern: str) -> None:
    """Tell every registry of *service* about one HTTP route (registries without
    ``add_http_endpoint`` are skipped)."""
    for registry in registries_of(service):
        if getattr(registry, "add_http_endpoint", None) is None:
            continue
        await _call(registry, "add_http_endpoint", service, (service, host, port, method, pattern), None)


async def register_service(service: Any, *, timeout: float | None = None) -> None:  # noqa: ASYNC109 - see _call
    """Call ``_register_service(service)`` on every registry of *service*, in list order.

    *timeout* bounds each registry's call (seconds; None: no limit). Failures are logged.
    """
    for registry in registries_of(service):
        await _call(registry, "_register_service", service, (service,), timeout)


async def deregister_service(service: Any, *, timeout: float | None = None) -> None:  # noqa: ASYNC109 - see _call
    """Call ``_deregister_service(service)`` on every registry of *service*, in list order.

    *timeout* bounds each registry's call (seconds; None: no limit). Failures are logged.
    """
    for registry in registries_of(service):
        await _call(registry, "_deregister_service", service, (service,), timeout)


async def _call(registry: Any, method: str, service: Any, args: tuple[Any, ...], limit: float | None) -> None:
    """Call *registry*.*method*(*args), awaiting a result that is awaitable, within *limit*
    seconds: one failing or hung registry is logged as one line and the others still run."""
    from tomodachi.logging import get_logger

    log = get_logger("tomodachi.discovery")
    service_name = getattr(service, "name", None) or type(service).__name__
    function = getattr(registry, method, None)
    if not callable(function):
        log.warning(
            f"discovery registry has no {method}(): skipped",
            registry=registry_name(registry),
            service=service_name,
        )
        return
    try:
        result = function(*args)
        if inspect.isawaitable(result):
            if limit is None:
                await result
            else:
                await asyncio.wait_for(_awaited(result), limit)
    except Exception as exc:
        if isinstance(exc, TimeoutError) and limit is not None:
            message, detail = f"discovery registry timed out in {method}()", f"no answer within {limit} s"
        else:
            message, detail = f"discovery registry failed in {method}()", describe_exception(exc)
        log.error(message, registry=registry_name(registry), service=service_name, error=detail)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable

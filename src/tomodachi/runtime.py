"""The state of one ``tomodachi run``: its services, its stop request and its exit code.

A :class:`Runtime` is owned by the runner (or by ``tomodachi.testing``) and made current
through a context variable, so ``tomodachi.get_service()`` and ``tomodachi.exit()`` work
from any task of the run without module-level globals.

The runtime also keeps what the containers know about each service instance (a
:class:`ServiceRecord`: its transports, whether it is serving, its source file), so nothing is
written onto user objects: :func:`runtime_of` finds the run of a service, and
:meth:`Runtime.transport` one of its transports.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from tomodachi.clock import Clock
    from tomodachi.container import ServiceContainer
    from tomodachi.service import Service
    from tomodachi.transport.base import Transport

__all__ = [
    "Runtime",
    "ServiceRecord",
    "current_runtime",
    "get_service",
    "get_services",
    "record_of",
    "runtime_of",
]

T = TypeVar("T")
TransportT = TypeVar("TransportT", bound="Transport")

#: Runs that hold service records, so a service object can be traced to its run without an
#: attribute written on it. Weak: a run that is no longer referenced drops out by itself.
_runs_with_records: weakref.WeakSet[Runtime] = weakref.WeakSet()


@dataclass(eq=False)
class ServiceRecord:
    """What a container keeps about one service instance of a run (read-only for others)."""

    service: Service
    """The service instance."""
    runtime: Runtime
    """The run the service belongs to."""
    container: ServiceContainer
    """The container that runs it (one per service file)."""
    source: str = ""
    """The service file (``""`` when the classes were given directly)."""
    transports: list[Transport] = field(default_factory=list)
    """Its transports, one per kind (and per :meth:`Transport.instance_key`), in declaration order."""
    serving: bool = False
    """True from the end of start-up until a stop is requested."""
    registry_records: dict[Hashable, Any] = field(default_factory=dict)
    """What discovery registries keep about the service (:func:`tomodachi.discovery.service_record`)."""


_current: contextvars.ContextVar[Runtime | None] = contextvars.ContextVar("tomodachi.runtime", default=None)


class Runtime:
    """Services of one run, the request to stop them, and the process exit code."""

    def __init__(self) -> None:
        self.services: dict[str, Service] = {}
        self.exit_code = 0
        self.stop_requested = asyncio.Event()
        self.stop_reason = ""
        #: The clock schedulers and in-memory brokers of the run follow (``None``: the system
        #: clock); see :func:`tomodachi.clock.use_clock`.
        self.clock: Clock | None = None
        #: ``"memory"`` runs every message transport of the run on the in-process broker
        #: (``--message-broker memory``, and ``tomodachi.testing``); ``None`` follows the options.
        self.message_broker: str | None = None
        #: True when the run was started in production mode (``tomodachi run --production``,
        #: ``TOMODACHI_PRODUCTION``); transports may choose safer defaults then (GraphQL turns
        #: introspection and its GraphiQL page off). ``tomodachi.testing`` runs are not.
        self.production = False
        self._resources: dict[Hashable, object] = {}
        self._records: list[ServiceRecord] = []
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def activate(self) -> contextvars.Token[Runtime | None]:
        return _current.set(self)

    @staticmethod
    def deactivate(token: contextvars.Token[Runtime | None]) -> None:
        """Undo :meth:`activate` (the previous runtime, if any, becomes current again)."""
        _current.reset(token)

    def register(self, service: Service) -> None:
        self.services[service.name] = service

    def unregister(self, service: Service) -> None:
        if self.services.get(service.name) is service:
            del self.services[service.name]

    # -- service records ----------------------------------------------------------------------
    def add_record(self, record: ServiceRecord) -> None:
        """Keep *record* for the rest of the run (called by the container that owns it)."""
        self._records.append(record)
        _runs_with_records.add(self)

    def record(self, service: object) -> ServiceRecord | None:
        """The record of *service* in this run (``None`` for an object this run does not run)."""
        for record in self._records:  # by identity: a service class may define __eq__
            if record.service is service:
                return record
        return None

    def transports(self, service: object) -> list[Transport]:
        """The transports of *service* in this run (empty for an object this run does not run)."""
        record = self.record(service)
        return list(record.transports) if record is not None else []

    def transport(self, service: object, kind: type[TransportT]) -> TransportT | None:
        """The first transport of *service* that is a *kind* (e.g. ``HttpTransport``), or ``None``."""
        record = self.record(service)
        for transport in record.transports if record is not None else ():
            if isinstance(transport, kind):
                return transport
        return None

    # -- run-scoped resources -----------------------------------------------------------------
    def resource(
        self,
        key: Hashable,
        factory: Callable[[], T],
        close: Callable[[T], Awaitable[None]] | None = None,
    ) -> T:
        """The run-scoped resource called *key*: created by *factory* on first use, then shared.

        One broker connection per set of options, one client pool, one in-memory broker: every
        service of the run that asks for the same *key* gets the same object. *close*, if given,
        is awaited once when the run ends (after every service has stopped), resources created
        last closed first; the key is forgotten before it runs. Use a key that names its owner,
        e.g. ``("myproject.redis", url)``, and one type per key.
        """
        try:
            return cast(T, self._resources[key])
        except KeyError:
            pass
        value = factory()
        self._resources[key] = value
        if close is not None:
            close_value = close

            async def closer() -> None:
                if self._resources.get(key) is value:
                    del self._resources[key]
                await close_value(value)

            self._closers.append(closer)
        return value

    async def aclose(self) -> None:
        """Close the run's resources, last created first; errors are logged, not raised."""
        while self._closers:
            closer = self._closers.pop()
            try:
                await closer()
            except Exception as exc:
                from tomodachi.errors import describe_exception
                from tomodachi.logging import get_logger

                get_logger("tomodachi.run").warning(
                    "error releasing a shared client", error=describe_exception(exc)
                )

    def request_stop(self, reason: str, exit_code: int | None = None) -> None:
        if exit_code is not None:
            self.exit_code = exit_code
        if not self.stop_requested.is_set():
            self.stop_reason = reason
            self.stop_requested.set()


def current_runtime() -> Runtime | None:
    return _current.get()


def record_of(service: object) -> ServiceRecord | None:
    """The record of *service* in the run that runs it (the current run is looked at first)."""
    current = _current.get()
    if current is not None:
        record = current.record(service)
        if record is not None:
            return record
    for runtime in list(_runs_with_records):
        if runtime is not current:
            record = runtime.record(service)
            if record is not None:
                return record
    return None


def runtime_of(service: object) -> Runtime:
    """The run *service* belongs to; for an object no container runs, the current run.

    Raises :class:`~tomodachi.errors.TomodachiError` when there is neither (e.g. a publish
    outside any run).
    """
    record = record_of(service)
    if record is not None:
        return record.runtime
    runtime = _current.get()
    if runtime is None:
        from tomodachi.errors import TomodachiError

        raise TomodachiError(
            "no tomodachi run is active: publish from a running service (or inside tomodachi.testing)"
        )
    return runtime


def get_service(name: str | None = None) -> Service | None:
    """The running service called *name*; without a name, the most recently started one."""
    runtime = _current.get()
    if runtime is None or not runtime.services:
        return None
    if name is None:
        return next(reversed(runtime.services.values()))
    return runtime.services.get(name)


def get_services() -> dict[str, Service]:
    """All running services of the current run, by name."""
    runtime = _current.get()
    return dict(runtime.services) if runtime is not None else {}

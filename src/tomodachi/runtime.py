"""The state of one ``tomodachi run``: its services, its stop request and its exit code.

A :class:`Runtime` is owned by the runner (or by ``tomodachi.testing``) and made current
through a context variable, so ``tomodachi.get_service()`` and ``tomodachi.exit()`` work
from any task of the run without module-level globals.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from tomodachi.clock import Clock
    from tomodachi.service import Service

__all__ = ["Runtime", "current_runtime", "get_service", "get_services"]

T = TypeVar("T")

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
        self._resources: dict[Hashable, object] = {}
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

"""The Transport protocol every transport implements, built-in or custom.

A transport owns one kind of entrypoint for one service instance: the container creates one
instance per service and per :meth:`Transport.instance_key`, adds the service's handlers of
that kind in definition order, then drives the lifecycle::

    setup()    validate the declarations and options; declare nothing remote yet
    start()    bind / connect / declare / consume; after it returns, the transport is serving
    started()  called after the user's ``_started_service`` (release consumers, schedulers)
    stop()     stop intake (cancel ``intake``), drain in-flight work (``tasks``) within the
               grace period, cancel the rest
    close()    release clients and connections

Writing a transport of your own takes a subclass and a decorator::

    class TickTransport(tomodachi.Transport):
        async def started(self) -> None:
            for handler in self.handlers:
                self.intake.spawn(self._loop(handler))

    def tick(seconds: float):
        return TickTransport.decorator(seconds)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from tomodachi.entrypoint import Entrypoint, declare
from tomodachi.tasks import TaskTracker

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime
    from tomodachi.service import Service

__all__ = ["Handler", "Transport"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Handler:
    """One declared entrypoint bound to a service instance."""

    name: str
    """The attribute name of the handler on the service class."""
    func: Callable[..., Any]
    """The bound method (or callable) to invoke."""
    entrypoint: Entrypoint

    @property
    def args(self) -> tuple[Any, ...]:
        return self.entrypoint.args

    @property
    def kwargs(self) -> Any:
        return self.entrypoint.kwargs


class Transport:
    """Base class of transports. Subclasses override :meth:`start` and usually :meth:`stop`."""

    #: Short name used in log lines and error messages (defaults to the class name).
    kind: ClassVar[str] = ""

    def __init__(self, service: Service, runtime: Runtime) -> None:
        self.service = service
        self.runtime = runtime
        self.handlers: list[Handler] = []
        #: The loops that take work in (receive loops, listeners, tickers): cancelled first by
        #: the default :meth:`stop`, so that no new work starts once a stop is requested.
        self.intake = TaskTracker()
        #: The work in flight (one task per message or call): drained by the default
        #: :meth:`stop` within :attr:`grace_period`, what remains then is cancelled.
        self.tasks = TaskTracker()

    # -- declaration -------------------------------------------------------------------
    @classmethod
    def decorator(cls, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """Declare an entrypoint of this transport on a method (see :func:`tomodachi.declare`)."""
        return declare(cls, *args, **kwargs)

    @classmethod
    def instance_key(cls, service: Service, entrypoint: Entrypoint) -> Hashable:
        """Entrypoints with equal keys share one transport instance per service (default: all)."""
        return None

    @classmethod
    def implementation(cls, service: Service, runtime: Runtime) -> type[Transport]:
        """The class that serves this kind for *service* (default: the class itself).

        The built-in message transports are one class for every broker (the backend is chosen
        inside, see ``tomodachi.messaging.backend``); the SNS+SQS one uses this hook only to check
        early that the chosen backend's extra is installed, so a missing one fails start-up naming
        the service.
        """
        return cls

    @classmethod
    def display_name(cls) -> str:
        return cls.kind or cls.__name__

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)

    # -- lifecycle ----------------------------------------------------------------------
    async def setup(self) -> None:
        """Validate declarations and options; raise ``ConfigurationError`` on bad input."""

    async def start(self) -> None:
        """Start serving (bind, connect, consume). Raise ``ServiceStartError`` on failure."""

    async def started(self) -> None:
        """Called once the service's ``_started_service`` hook has returned."""

    async def stop(self) -> None:
        """Stop intake and drain in-flight work within the grace period.

        The default cancels :attr:`intake`, then drains :attr:`tasks` for :attr:`grace_period`
        seconds and cancels what is left; override it to log or to release unfinished work.
        """
        await self.intake.cancel_all()
        await self.tasks.drain(self.grace_period)

    async def close(self) -> None:
        """Release clients and connections. Called after :meth:`stop`, also after failures.

        The default cancels whatever :attr:`intake` and :attr:`tasks` still run (a failed start
        is not followed by :meth:`stop`); an override releases its clients and calls it too.
        """
        await self.intake.cancel_all()
        await self.tasks.cancel_all()

    def in_flight(self) -> int:
        """How much work is in flight now (requests, messages, runs): shown by the progress lines
        of a graceful stop. The default counts :attr:`tasks`; override it when other tasks live
        there (a scheduler loop) or the work is tracked elsewhere."""
        return len(self.tasks)

    def describe_handler(self, handler: Handler) -> str:
        """What *handler* serves, for the start-up list of handlers (``GET /orders``, a topic, an
        interval). The default shows the first argument of the declaration: the first field of a
        dataclass declaration (a routing key, a topic), else the decorator's first argument."""
        args = handler.args
        if not args:
            return ", ".join(f"{k}={v!r}" for k, v in handler.kwargs.items())
        first = args[0]
        if dataclasses.is_dataclass(first) and not isinstance(first, type):
            fields = dataclasses.fields(first)
            return str(getattr(first, fields[0].name)) if fields else type(first).__name__
        return str(first)

    def start_retryable(self, exc: BaseException) -> bool:
        """Whether a :meth:`start` that raised *exc* may succeed later: the broker or server is
        not reachable (yet), as when containers start together. With the service's
        ``start_retry_seconds`` option above 0, such a start is retried with backoff until that
        many seconds have passed, each wait logged. The default looks for a connection error
        (``OSError``, ``ConnectionError``, ``TimeoutError``) in *exc* and its causes; refused
        credentials or a bad declaration are not retried. A failed start is retried as is:
        :meth:`start` must be safe to call again after it raised."""
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            if isinstance(current, (OSError, TimeoutError)):  # ConnectionError is an OSError
                return True
            seen.add(id(current))
            current = current.__cause__ or current.__context__
        return False

    def value_names(self, handler: Handler) -> Collection[str] | None:
        """The keyword values *handler* can be given (transport values, envelope keys), or None
        when unknown. At start-up a handler parameter without a default that is none of these
        gets a warning with the nearest name ("did you mean 'data'?"): it would always be
        ``None`` or missing. The default (None) checks nothing."""
        return None

    @property
    def ready(self) -> bool:
        """Whether the transport is currently serving (used for readiness)."""
        return True

    @property
    def grace_period(self) -> float:
        """Seconds in-flight work may take to finish after a stop request: the service's
        ``termination_grace_period_seconds`` option, else ``http.termination_grace_period_seconds``
        (see :func:`tomodachi.options.grace_period_of`)."""
        from tomodachi.options import grace_period_of

        return grace_period_of(self.service.options)

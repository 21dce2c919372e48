"""Run services in-process for a test: on the in-memory broker, with an optional manual clock."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

from tomodachi.clock import Clock, ManualClock, use_clock
from tomodachi.container import ServiceContainer
from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.runtime import Runtime
from tomodachi.service import Service
from tomodachi.tasks import gather_or_cancel
from tomodachi.testing.delivery import Delivery, record_redrive, record_settled
from tomodachi.testing.library_logs import library_log_levels
from tomodachi.testing.outbound import PublishedLog, PublishedMessage
from tomodachi.transport.memory.delivery_log import DeliveryLog

if TYPE_CHECKING:
    import aiohttp

    from tomodachi.testing.dead_letters import DeadLetterMessage, DeadLetterQueue
    from tomodachi.transport.memory.broker import MemoryBroker

__all__ = ["RunningServices", "run_service_files", "run_services"]


class RunningServices:
    """Started services of one test run; see :func:`run_services`."""

    def __init__(
        self,
        containers: ServiceContainer | list[ServiceContainer],
        runtime: Runtime,
        clock: Clock,
        logs: io.StringIO | None,
    ) -> None:
        #: One container per service file (one in all for :func:`run_services`).
        self.containers = containers if isinstance(containers, list) else [containers]
        self.runtime = runtime
        self.clock = clock
        self._logs = logs
        self._sessions: list[aiohttp.ClientSession] = []
        #: Every settled delivery the run's transports reported (bounded; what ``outcome()`` reads).
        self.delivery_log = DeliveryLog()
        self._published = PublishedLog(self._instance_named)

    # -- services ---------------------------------------------------------------------------
    @property
    def container(self) -> ServiceContainer:
        """The container of the first service file (the only one for :func:`run_services`)."""
        return self.containers[0]

    @property
    def services(self) -> list[Service]:
        return [instance for container in self.containers for instance in container.instances]

    def __getitem__(self, key: type[Service] | str) -> Service:
        """The running instance of a service class (or of a service name, or a class name)."""
        for instance in self.services:
            if instance.name == key or type(instance) is key or type(instance).__name__ == key:
                return instance
        raise KeyError(f"no running service {key!r}")

    @property
    def service(self) -> Service:
        """The first service (the usual case: one service under test)."""
        return self.services[0]

    def _instance_named(self, name: str) -> Service | None:
        return next((instance for instance in self.services if instance.name == name), None)

    # -- stopping -------------------------------------------------------------------------------
    @property
    def exit_code(self) -> int:
        """The code the run would exit with now (``tomodachi.exit(n)`` sets it)."""
        import tomodachi

        return self.runtime.exit_code or int(tomodachi.SERVICE_EXIT_CODE)

    @property
    def stop_requested(self) -> bool:
        """True once a service called ``tomodachi.exit()`` (or :meth:`stop` was called)."""
        return self.runtime.stop_requested.is_set()

    def stop(self) -> None:
        """Ask the services to stop; they stop when the ``async with`` block ends."""
        self.runtime.request_stop("tomodachi.testing")

    async def wait_for_exit(self, timeout: float = 30.0) -> int:  # noqa: ASYNC109 - a deadline for the test
        """Wait until a service calls ``tomodachi.exit()`` (the original's test services do so when
        they are done); return the exit code. Raises ``TimeoutError`` after *timeout* seconds."""
        async with asyncio.timeout(timeout):
            await self.runtime.stop_requested.wait()
        return self.exit_code

    @property
    def broker(self) -> MemoryBroker:
        from tomodachi.transport.memory.broker import MemoryBroker

        return MemoryBroker.of(self.runtime)

    # -- HTTP ---------------------------------------------------------------------------------
    def url(self, path: str = "/", service: type[Service] | str | None = None) -> str:
        from tomodachi.transport.http import HttpTransport

        instance = self.service if service is None else self[service]
        transport = self.runtime.transport(instance, HttpTransport)
        port = transport.port if transport is not None else None
        if not port:
            raise LookupError(f"service {instance.name!r} has no HTTP server")
        return f"http://127.0.0.1:{port}{path}"

    def client(self, service: type[Service] | str | None = None) -> aiohttp.ClientSession:
        """An aiohttp session bound to the service's HTTP server (closed when the run ends)."""
        import aiohttp

        session = aiohttp.ClientSession(base_url=self.url("", service))
        self._sessions.append(session)
        return session

    # -- messages -----------------------------------------------------------------------------
    def _publisher(self, service: type[Service] | str | None) -> Service:
        return self.service if service is None else self[service]

    async def publish(
        self,
        topic: str,
        data: Any,
        *,
        service: type[Service] | str | None = None,
        message_attributes: Mapping[str, Any] | None = None,
        message_envelope: Any = DEFAULT,
        group_id: str | None = None,
        **kwargs: Any,
    ) -> Delivery:
        """Publish to an SNS topic as *service* would (its envelope and prefixes)."""
        from tomodachi.transport.aws_sns_sqs.publish import aws_sns_sqs_publish

        message_id = await aws_sns_sqs_publish(
            self._publisher(service),
            data,
            topic,
            message_envelope=message_envelope,
            message_attributes=message_attributes,
            group_id=group_id,
            **kwargs,
        )
        assert isinstance(message_id, str)
        return Delivery(self.delivery_log, message_id, clock=self.clock)

    async def send(
        self,
        queue_name: str,
        data: Any,
        *,
        service: type[Service] | str | None = None,
        message_attributes: Mapping[str, Any] | None = None,
        message_envelope: Any = DEFAULT,
        **kwargs: Any,
    ) -> Delivery:
        """Send straight to an SQS queue (``sqs_send_message``)."""
        from tomodachi.transport.aws_sns_sqs.publish import sqs_send_message

        message_id = await sqs_send_message(
            self._publisher(service),
            data,
            queue_name,
            message_envelope=message_envelope,
            message_attributes=message_attributes,
            **kwargs,
        )
        assert isinstance(message_id, str)
        return Delivery(self.delivery_log, message_id, clock=self.clock)

    async def publish_amqp(
        self,
        routing_key: str,
        data: Any,
        *,
        service: type[Service] | str | None = None,
        exchange_name: str = "",
        message_envelope: Any = DEFAULT,
        **kwargs: Any,
    ) -> Delivery:
        """Publish to an AMQP exchange with *routing_key* (``amqp_publish``)."""
        from tomodachi.transport.amqp.publish import publish_message

        message_id = await publish_message(
            self._publisher(service),
            data,
            routing_key,
            exchange_name,
            message_envelope=message_envelope,
            **kwargs,
        )
        return Delivery(self.delivery_log, message_id, clock=self.clock)

    async def redis_enqueue(
        self,
        queue: str,
        data: Any,
        *,
        service: type[Service] | str | None = None,
        message_envelope: Any = DEFAULT,
        **kwargs: Any,
    ) -> Delivery:
        """Enqueue on a Redis stream queue (``tomodachi.redis_enqueue``; ``delay=``, ``eta=`` too)."""
        from tomodachi.transport.redis.enqueue import redis_enqueue

        message_id = await redis_enqueue(
            self._publisher(service), data, queue, message_envelope=message_envelope, **kwargs
        )
        return Delivery(self.delivery_log, message_id, clock=self.clock)

    # -- what the services published --------------------------------------------------------
    @property
    def published(self) -> list[PublishedMessage]:
        """Every message the services published or sent so far (also those of :meth:`publish`,
        :meth:`send` and :meth:`publish_amqp`), in the order the broker took them (on a real
        broker a reply may be recorded before the message that caused it); the latest
        :data:`~tomodachi.testing.outbound.PUBLISHED_KEPT` are kept."""
        return self._published.records

    def published_to(
        self,
        destination: str | None = None,
        *,
        kind: str | None = None,
        service: type[Service] | str | None = None,
        match: Callable[[PublishedMessage], bool] | None = None,
    ) -> list[PublishedMessage]:
        """The published messages that match (the criteria of :meth:`wait_for_published`), now."""
        return self._published.matching(destination, kind=kind, service=self._name_of(service), match=match)

    async def wait_for_published(
        self,
        destination: str | None = None,
        *,
        kind: str | None = None,
        service: type[Service] | str | None = None,
        match: Callable[[PublishedMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the test
    ) -> PublishedMessage:
        """Wait until a service publishes (or published) a message that matches; return it.

        - *destination*: the routing key, topic or queue as the publisher named it;
        - *kind*: ``"amqp"``, ``"aws_sns_sqs"`` (an SNS publish) or ``"sqs"`` (an SQS send);
        - *service*: the publishing service (class or name);
        - *match*: a predicate on the :class:`PublishedMessage` (``lambda m: m.data["id"] == 7``;
          one that raises on a message does not match it).

        The first match since the run started is returned, so a message published before the
        call counts. On a :class:`~tomodachi.clock.ManualClock` the clock is moved on while
        nothing happens, as by :meth:`Delivery.outcome`. Raises
        :class:`~tomodachi.testing.PublishedTimeout` (an ``AssertionError`` listing what was
        published instead) after *timeout* real seconds.
        """
        found = await self._published.wait_for(
            destination,
            kind=kind,
            service=self._name_of(service),
            match=match,
            clock=self.clock,
            timeout=timeout,
        )
        return found[0]

    def _name_of(self, service: type[Service] | str | None) -> str | None:
        return None if service is None else self[service].name

    # -- dead letters (in-memory broker) --------------------------------------------------------
    def _dead_letter_queue(
        self, handler: Any, service: type[Service] | str | None, queue: str | None
    ) -> DeadLetterQueue:
        from tomodachi.testing.dead_letters import find_queue

        services = self.services if service is None else [self[service]]
        return find_queue(self.broker, services, self.runtime.transports, handler, queue)

    async def dead_letters(
        self,
        handler: Any = None,
        *,
        service: type[Service] | str | None = None,
        queue: str | None = None,
    ) -> list[DeadLetterMessage]:
        """The messages in *handler*'s dead-letter queue on the in-memory broker, oldest first.

        *handler* is the handler's name or function (``Orders.on_order``); *service* narrows the
        search; ``queue=`` names a dead-letter queue directly (for example the queue bound to
        ``amqp.dead_letter_exchange``; with a *handler* too, :meth:`redrive` sends the messages to
        that handler's queue). The messages stay in the queue. Raises ``LookupError``
        for a handler without a dead-letter queue, or a queue the in-memory broker does not have.
        """
        from tomodachi.testing.dead_letters import list_dead_letters

        return await list_dead_letters(self.broker, self._dead_letter_queue(handler, service, queue))

    async def redrive(
        self,
        handler: Any = None,
        *,
        service: type[Service] | str | None = None,
        queue: str | None = None,
        to: str | None = None,
    ) -> list[Delivery]:
        """Move the messages of *handler*'s dead-letter queue back to its queue (or to the queue
        *to*); returns a :class:`Delivery` per message, to await what happens to it now."""
        from tomodachi.testing.dead_letters import move_dead_letters

        moved = await move_dead_letters(self.broker, self._dead_letter_queue(handler, service, queue), to)
        return [
            Delivery(self.delivery_log, message_id, clock=self.clock, fresh=same_id)
            for message_id, same_id in moved
        ]

    # -- time and logs --------------------------------------------------------------------------
    async def advance(self, seconds: float) -> None:
        """Move the manual clock forward (visibility timeouts, delays, schedules)."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs run_services(..., clock=ManualClock())")
        await self.clock.advance(seconds)

    @property
    def logs(self) -> list[dict[str, Any]]:
        """Log records so far, as dicts: ``message``, ``level``, ``logger``, ``timestamp``, bound keys."""
        if self._logs is None:
            return []
        return [json.loads(line) for line in self._logs.getvalue().splitlines() if line.startswith("{")]

    async def _close_sessions(self) -> None:
        for session in self._sessions:
            await session.close()


@contextlib.asynccontextmanager
async def run_services(
    *classes: type[Service],
    options: Mapping[str, Any] | None = None,
    clock: Clock | None = None,
    message_broker: str | None = "memory",
    capture_logs: bool = True,
    log_level: str = "debug",
    library_log_level: str | int | None = "warning",
) -> AsyncIterator[RunningServices]:
    """Start *classes* in this event loop (lifecycle hooks and all); stop them on exit.

    - *options*: applied to every service on top of its own (``{"http.port": 0}`` is the
      default, so each test gets a free port).
    - *clock*: e.g. ``ManualClock()`` to drive schedules, visibility timeouts and delays.
    - *message_broker*: ``"memory"`` (default) runs ``@amqp`` and ``@aws_sns_sqs`` handlers (and
      every registered message family, see ``tomodachi.messaging.backend``) on the in-memory
      broker; ``None`` uses what the services' options say (RabbitMQ, AWS).
    - *capture_logs*: route tomodachi logs to :attr:`RunningServices.logs` as JSON records.
    - *log_level*: the level of the captured logs.
    - *library_log_level*: the level of the broker client libraries' loggers during the run
      (aiormq, aio-pika, botocore, ...: ``tomodachi.testing.library_logs.LIBRARY_LOGGERS``);
      ``"warning"`` keeps their debug lines out of test output, ``"debug"`` shows them, ``None``
      leaves those loggers alone.
    """
    config = {"options": {"http.port": 0, **dict(options or {})}}
    async with _run(
        lambda runtime: [ServiceContainer(classes, runtime, source="tomodachi.testing", config=config)],
        clock=clock,
        message_broker=message_broker,
        capture_logs=capture_logs,
        log_level=log_level,
        library_log_level=library_log_level,
    ) as running:
        yield running


@contextlib.asynccontextmanager
async def run_service_files(
    *paths: str | os.PathLike[str],
    options: Mapping[str, Any] | None = None,
    http_port: int | None = 0,
    clock: Clock | None = None,
    message_broker: str | None = "memory",
    capture_logs: bool = True,
    log_level: str = "debug",
    library_log_level: str | int | None = "warning",
) -> AsyncIterator[RunningServices]:
    """Start the services of service *files*, as ``tomodachi run`` would, in this event loop.

    Each file is imported as the CLI imports it (relative imports, several classes per file)
    and becomes one container; the services are stopped when the block ends.

    - *http_port*: ``0`` (default) gives every service a free port; ``None`` keeps the port the
      service's options say (a fixed port); a number uses that port.
    - *message_broker*: ``"memory"`` (default) or ``None`` to use the brokers the services'
      options name (RabbitMQ, AWS SNS+SQS): the service files' own integration tests, in-process.
    - *options*, *clock*, *capture_logs*, *log_level*, *library_log_level*: as for
      :func:`run_services`.
    """
    from tomodachi.importer import load_service_file

    overrides: dict[str, Any] = dict(options or {})
    if http_port is not None:
        overrides.setdefault("http.port", http_port)
    config = {"options": overrides} if overrides else None

    def build(runtime: Runtime) -> list[ServiceContainer]:
        return [
            ServiceContainer(
                load_service_file(os.fspath(path)), runtime, source=os.fspath(path), config=config
            )
            for path in paths
        ]

    async with _run(
        build,
        clock=clock,
        message_broker=message_broker,
        capture_logs=capture_logs,
        log_level=log_level,
        library_log_level=library_log_level,
    ) as running:
        yield running


@contextlib.asynccontextmanager
async def _run(
    build: Callable[[Runtime], list[ServiceContainer]],
    *,
    clock: Clock | None,
    message_broker: str | None,
    capture_logs: bool,
    log_level: str,
    library_log_level: str | int | None,
) -> AsyncIterator[RunningServices]:
    import tomodachi
    from tomodachi import logging as tlog
    from tomodachi.logging.state import restore_logging_state, save_logging_state

    # The caller's logging configuration is put back when the run ends (it may have configured
    # tomodachi logging or stdlib root handlers itself: a run must not undo that).
    logging_before = save_logging_state()
    tomodachi.SERVICE_EXIT_CODE = tomodachi.DEFAULT_SERVICE_EXIT_CODE  # as a new `tomodachi run`
    runtime = Runtime()
    runtime.message_broker = message_broker
    token = runtime.activate()
    if clock is not None:
        use_clock(runtime, clock)
    buffer: io.StringIO | None = None
    if capture_logs:
        buffer = io.StringIO()
        tlog.configure("json", log_level, stream=buffer)
    containers: list[ServiceContainer] = []
    running: RunningServices | None = None
    with library_log_levels(library_log_level):
        try:
            containers = build(runtime)
            running = RunningServices(containers, runtime, clock or _system_clock(), buffer)
            _observe(running)
            for container in containers:
                await container.setup()
            await gather_or_cancel(*(container.start() for container in containers))
            yield running
        finally:
            if running is not None:
                await running._close_sessions()
            await asyncio.gather(*(container.stop() for container in containers))
            await runtime.aclose()
            restore_logging_state(logging_before)
            Runtime.deactivate(token)


def _observe(running: RunningServices) -> None:
    """Record what the run's transports report (settled deliveries, publishes) for the test,
    and the in-memory broker's own redrive moves."""
    from tomodachi.messaging.observe import observers_of

    observers = observers_of(running.runtime)
    observers.settled.append(record_settled(running.delivery_log))
    observers.published.append(running._published.add)
    running.broker.sns_sqs.on_event.append(record_redrive(running.delivery_log))


def _system_clock() -> Clock:
    from tomodachi.clock import SYSTEM_CLOCK

    return SYSTEM_CLOCK

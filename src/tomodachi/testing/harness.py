"""Run services in-process for a test: on the in-memory broker, with an optional manual clock."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from tomodachi.clock import Clock, ManualClock, use_clock
from tomodachi.container import ServiceContainer
from tomodachi.messaging.envelopes import DEFAULT
from tomodachi.runtime import Runtime
from tomodachi.service import Service
from tomodachi.testing.delivery import Delivery

if TYPE_CHECKING:
    import aiohttp

    from tomodachi.transport.memory.broker import MemoryBroker

__all__ = ["RunningServices", "run_services"]


class RunningServices:
    """Started services of one test run; see :func:`run_services`."""

    def __init__(
        self, container: ServiceContainer, runtime: Runtime, clock: Clock, logs: io.StringIO | None
    ) -> None:
        self.container = container
        self.runtime = runtime
        self.clock = clock
        self._logs = logs
        self._sessions: list[aiohttp.ClientSession] = []

    # -- services ---------------------------------------------------------------------------
    @property
    def services(self) -> list[Service]:
        return list(self.container.instances)

    def __getitem__(self, key: type[Service] | str) -> Service:
        """The running instance of a service class (or of a service name)."""
        for instance in self.container.instances:
            if instance.name == key or type(instance) is key:
                return instance
        raise KeyError(f"no running service {key!r}")

    @property
    def service(self) -> Service:
        """The first service (the usual case: one service under test)."""
        return self.container.instances[0]

    @property
    def broker(self) -> MemoryBroker:
        from tomodachi.transport.memory.broker import MemoryBroker

        return MemoryBroker.of(self.runtime)

    # -- HTTP ---------------------------------------------------------------------------------
    def url(self, path: str = "/", service: type[Service] | str | None = None) -> str:
        instance = self.service if service is None else self[service]
        port = instance.context.get("_http_port")
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
        return Delivery(self.broker, message_id)

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
        return Delivery(self.broker, message_id)

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
        return Delivery(self.broker, message_id)

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
) -> AsyncIterator[RunningServices]:
    """Start *classes* in this event loop (lifecycle hooks and all); stop them on exit.

    - *options*: applied to every service on top of its own (``{"http.port": 0}`` is the
      default, so each test gets a free port).
    - *clock*: e.g. ``ManualClock()`` to drive schedules, visibility timeouts and delays.
    - *message_broker*: ``"memory"`` (default) runs ``@amqp`` and ``@aws_sns_sqs`` handlers on the
      in-memory broker; ``None`` uses what the services' options say (RabbitMQ, AWS).
    - *capture_logs*: route tomodachi logs to :attr:`RunningServices.logs` as JSON records.
    """
    from tomodachi import logging as tlog

    runtime = Runtime()
    runtime.message_broker = message_broker
    token = runtime.activate()
    if clock is not None:
        use_clock(runtime, clock)
    buffer: io.StringIO | None = None
    if capture_logs:
        buffer = io.StringIO()
        tlog.configure("json", log_level, stream=buffer)
    config = {"options": {"http.port": 0, **dict(options or {})}}
    container = ServiceContainer(classes, runtime, source="tomodachi.testing", config=config)
    running = RunningServices(container, runtime, clock or _system_clock(), buffer)
    try:
        await container.setup()
        await container.start()
        yield running
    finally:
        await running._close_sessions()
        await container.stop()
        await runtime.aclose()
        if capture_logs:
            tlog.remove_handlers()
            tlog.reset_context()
        Runtime.deactivate(token)


def _system_clock() -> Clock:
    from tomodachi.clock import SYSTEM_CLOCK

    return SYSTEM_CLOCK

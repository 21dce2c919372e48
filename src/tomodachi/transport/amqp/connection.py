"""One RabbitMQ connection per set of connection options, shared by every service of a run.

The connection is an aio-pika *robust* connection: when the broker goes away it reconnects
(first retry at once, then with a growing pause from 0.5 s up to 5 s), re-declares the
exchanges, queues and bindings that were declared through its channels, and restarts their
consumers. This module adds what a service needs around it:

- one :class:`AmqpConnection` per :class:`ConnectionParams` per :class:`~tomodachi.runtime.Runtime`
  (a run-scoped resource, ``runtime.resource``, closed once every service of the run has
  stopped), so services with different options never share a connection by accident and
  two runs in one process never share one at all;
- a start-up connect that is bounded (:data:`CONNECT_TIMEOUT`) and fails with one line:
  ``Unable to connect [amqp] to <host>:<port> (<reason>)``, never with the password;
- a ``ready`` flag that is false from the moment the connection is lost until every channel
  has been restored, and exactly one log line for each outage and one for the recovery;
- publishing with publisher confirms that waits for a reconnection for a bounded time and then
  raises :class:`~tomodachi.transport.amqp.errors.AmqpPublishError`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aio_pika
from aio_pika.abc import AbstractRobustChannel, DeliveryMode, ExchangeType
from aio_pika.connection import make_url
from aio_pika.exceptions import DeliveryError
from pamqp.commands import Basic

from tomodachi.errors import mask_url_credentials
from tomodachi.logging import get_logger
from tomodachi.transport.amqp.errors import AmqpConnectionException, AmqpPublishError
from tomodachi.transport.amqp.library_logs import (
    install_log_filter,
    last_attempt_error,
    reset_last_attempt_error,
)

if TYPE_CHECKING:
    from tomodachi.options import Options
    from tomodachi.runtime import Runtime

__all__ = [
    "CONNECT_TIMEOUT",
    "AmqpConnection",
    "ConnectionParams",
    "get_connection",
]

#: Seconds the first connection of a run may take (TCP connect + AMQP handshake).
CONNECT_TIMEOUT = 10.0
#: Pause between reconnection attempts: doubles from the first to the last value during an outage.
RECONNECT_INTERVAL_MIN = 0.5
RECONNECT_INTERVAL_MAX = 5.0
#: While the broker stays unreachable, the outage is logged again this often (seconds).
STILL_DOWN_INTERVAL = 60.0
#: Seconds to wait for the broker when closing channels and connections.
CLOSE_TIMEOUT = 5.0

_PERSISTENT = int(DeliveryMode.PERSISTENT)
#: Exchanges every broker has; they are never declared.
PREDECLARED_EXCHANGES = frozenset({"", "amq.topic"})


@dataclass(frozen=True, slots=True)
class ConnectionParams:
    """The options that identify a connection (the password is never part of a repr)."""

    host: str
    port: int
    login: str
    password: str = field(repr=False)
    virtualhost: str
    ssl: bool
    heartbeat: int

    @classmethod
    def from_options(cls, options: Options) -> ConnectionParams:
        amqp = options.amqp
        return cls(
            host=str(amqp.host),
            port=int(amqp.port),
            login=str(amqp.login),
            password=str(amqp.password),
            virtualhost=str(amqp.virtualhost),
            ssl=bool(amqp.ssl),
            heartbeat=int(amqp.heartbeat),
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def get_connection(runtime: Runtime, options: Options) -> AmqpConnection:
    """The run's connection for these connection options (created, not connected, on first use)."""
    params = ConnectionParams.from_options(options)
    key = ("tomodachi.amqp.connection", params)
    return runtime.resource(key, lambda: AmqpConnection(params), AmqpConnection.close)


class AmqpConnection:
    """A robust connection to one broker, with a publish channel opened on first publish."""

    def __init__(self, params: ConnectionParams) -> None:
        self.params = params
        self._connection: aio_pika.RobustConnection | None = None
        self._connect_lock = asyncio.Lock()
        self._up = asyncio.Event()
        self._closed = False
        self._lost_at = 0.0
        self._last_error = ""
        self._backoff: asyncio.Task[None] | None = None
        self._publish_lock = asyncio.Lock()
        self._publish_channel: AbstractRobustChannel | None = None
        self._exchanges: set[str] = set()  # exchanges ready on the publish channel
        self._log = get_logger("tomodachi.amqp")

    def __repr__(self) -> str:
        state = "ready" if self.ready else "closed" if self._closed else "not ready"
        return f"<AmqpConnection {self.params.address} vhost={self.params.virtualhost!r} {state}>"

    @property
    def ready(self) -> bool:
        """True while connected with every channel restored."""
        return self._up.is_set()

    # -- connecting ------------------------------------------------------------------------
    async def connect(self, timeout: float = CONNECT_TIMEOUT) -> aio_pika.RobustConnection:  # noqa: ASYNC109
        """Connect unless connected; raise ``AmqpConnectionException`` (one line) on failure.

        Only the first connection is made here; after that the robust connection reconnects
        by itself and this returns at once, also during an outage.
        """
        connection = self._connection
        if connection is not None:
            return connection
        async with self._connect_lock:
            if self._connection is not None:
                return self._connection
            if self._closed:
                raise AmqpConnectionException(
                    f"Unable to connect [amqp] to {self.params.address} (connection closed)"
                )
            install_log_filter()
            params = self.params
            url = make_url(
                host=params.host,
                port=params.port,
                login=params.login,
                password=params.password,
                virtualhost=params.virtualhost,
                ssl=params.ssl,
                heartbeat=params.heartbeat,
            )
            connection = aio_pika.RobustConnection(
                url,
                client_properties={"connection_name": "tomodachi"},
                reconnect_interval=RECONNECT_INTERVAL_MIN,
            )
            try:
                # aio-pika bounds the TCP connect and handshake by `timeout`; the outer bound
                # also covers the channel set-up that follows.
                await asyncio.wait_for(connection.connect(timeout=timeout), timeout + 1.0)
            except asyncio.CancelledError:
                await _close_quietly(connection)
                raise
            except Exception as exc:
                await _close_quietly(connection)
                reason = "timed out" if isinstance(exc, TimeoutError) else self.describe(exc)
                self._last_error = reason
                raise AmqpConnectionException(
                    f"Unable to connect [amqp] to {params.address} ({reason})"
                ) from None
            connection.close_callbacks.add(self._on_lost)
            connection.reconnect_callbacks.add(self._on_reconnected)
            self._connection = connection
            self._up.set()
            return connection

    async def open_channel(self, *, publisher_confirms: bool = False) -> AbstractRobustChannel:
        """A new robust channel (re-opened with its topology and consumers after a reconnect)."""
        connection = await self.connect()
        channel = connection.channel(publisher_confirms=publisher_confirms)
        await channel.initialize(timeout=CONNECT_TIMEOUT)
        return channel

    def describe(self, exc: BaseException) -> str:
        """A one-line reason for *exc*, with the password masked should a library include it."""
        text = str(exc) or type(exc).__name__
        text = " ".join(text.split())
        password = self.params.password
        if password:  # as given, and as it is written in a URL
            for form in sorted({password, quote(password, safe=""), quote(password)}, key=len, reverse=True):
                text = text.replace(form, "******")
        return mask_url_credentials(text)

    # -- outage and recovery -------------------------------------------------------------
    def _on_lost(self, _sender: Any, exc: BaseException | None) -> None:
        if self._closed or not self._up.is_set():
            return  # our own close, or a failed restore during the same outage
        self._up.clear()
        self._lost_at = asyncio.get_running_loop().time()
        reason = self.describe(exc) if exc is not None else "closed"
        self._last_error = f"connection lost: {reason}"
        self._log.warning(f"connection lost [amqp] to {self.params.address}: reconnecting", reason=reason)
        connection = self._connection
        if connection is not None and self._backoff is None:
            self._backoff = asyncio.get_running_loop().create_task(self._grow_interval(connection))

    def _on_reconnected(self, _sender: Any) -> None:
        if self._closed:
            return
        self._stop_backoff()
        outage = asyncio.get_running_loop().time() - self._lost_at if self._lost_at else 0.0
        self._up.set()
        self._log.info(f"reconnected [amqp] to {self.params.address}", outage_seconds=round(outage, 2))

    async def _grow_interval(self, connection: aio_pika.RobustConnection) -> None:
        """Back off: the pause between reconnection attempts doubles while the outage lasts.

        A long outage is reported again every :data:`STILL_DOWN_INTERVAL` seconds, with the
        error of the latest attempt (a changed password, say, never heals by itself).
        """
        loop = asyncio.get_running_loop()
        interval = RECONNECT_INTERVAL_MIN
        next_report = loop.time() + STILL_DOWN_INTERVAL
        reset_last_attempt_error()
        try:
            while True:
                connection.reconnect_interval = interval
                await asyncio.sleep(interval)
                interval = min(interval * 2, RECONNECT_INTERVAL_MAX)
                if loop.time() >= next_report:
                    next_report += STILL_DOWN_INTERVAL
                    error = last_attempt_error()
                    self._log.warning(
                        f"still reconnecting [amqp] to {self.params.address}",
                        down_seconds=round(loop.time() - self._lost_at),
                        last_error=self.describe(error) if error is not None else "-",
                    )
        finally:
            connection.reconnect_interval = RECONNECT_INTERVAL_MIN

    def _stop_backoff(self) -> None:
        if self._backoff is not None:
            self._backoff.cancel()
            self._backoff = None

    async def wait_ready(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait up to *timeout* seconds for the connection to be (back) up."""
        if self._up.is_set():
            return True
        try:
            await asyncio.wait_for(self._up.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # -- publishing ----------------------------------------------------------------------
    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        timeout: float,  # noqa: ASYNC109
        properties: Basic.Properties | None = None,
    ) -> None:
        """Publish with a broker confirm; wait for reconnection at most *timeout* seconds in all.

        Properties are minimal: ``message_id`` and ``delivery_mode=2`` (persistent), unless
        *properties* are given (a retried or dead-lettered copy keeps the original's). The frame
        is sent on the publish channel's aiormq channel directly: building an aio-pika
        ``Message`` per publish would cost more than the rest of this method.

        A publish that was sent but whose confirm was lost with the connection is sent again
        after the reconnection, so a consumer may see it twice (at-least-once delivery).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if properties is None:
            properties = Basic.Properties(message_id=message_id, delivery_mode=_PERSISTENT)
        reason = "timed out"
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    channel = self._publish_channel
                    if channel is None or exchange not in self._exchanges or not self._up.is_set():
                        channel = await self._prepare(exchange, deadline - loop.time())
                    underlay = await channel.get_underlay_channel()
                    await underlay.basic_publish(
                        body,
                        exchange=exchange,
                        routing_key=routing_key,
                        properties=properties,
                        mandatory=False,
                    )
                return
            except TimeoutError:
                if not self.ready and self._last_error:
                    reason = self._last_error
                break
            except DeliveryError:
                raise AmqpPublishError(
                    f"Unable to publish [amqp] to {self.params.address} (exchange {exchange!r}, "
                    f"routing key {routing_key!r}): the broker refused the message"
                ) from None
            except AmqpConnectionException:
                reason = self._last_error
            except (aio_pika.exceptions.AMQPError, ConnectionError, OSError, RuntimeError) as exc:
                # RuntimeError covers aiormq's ChannelInvalidStateError and aio-pika's "connection
                # was not opened", both seen while the robust connection is reconnecting.
                reason = self.describe(exc) if self.ready or not self._last_error else self._last_error
            if loop.time() >= deadline:
                break
            await self._pause_for_reconnect(deadline)
        raise AmqpPublishError(
            f"Unable to publish [amqp] to {self.params.address} (exchange {exchange!r}, routing key "
            f"{routing_key!r}): broker unavailable for {timeout:g} s ({reason})"
        )

    async def _pause_for_reconnect(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        # Let the connection notice the loss (its close callbacks clear `ready`) before waiting.
        await asyncio.sleep(min(0.1, max(deadline - loop.time(), 0)))
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        if self._connection is None:  # never connected yet: try again after a pause
            await asyncio.sleep(min(RECONNECT_INTERVAL_MIN, remaining))
            return
        await self.wait_ready(remaining)

    async def _prepare(self, exchange: str, timeout: float) -> AbstractRobustChannel:  # noqa: ASYNC109
        """Connect, open the publish channel and declare *exchange*, as far as not done yet."""
        await self.connect(min(timeout, CONNECT_TIMEOUT))
        async with self._publish_lock:
            channel = self._publish_channel
            if channel is None:
                channel = await self.open_channel(publisher_confirms=True)
                self._publish_channel = channel
            if exchange not in self._exchanges:
                if exchange not in PREDECLARED_EXCHANGES:
                    # Declared like the consumers declare it; the robust channel re-declares it
                    # after a reconnection.
                    await channel.declare_exchange(
                        exchange, ExchangeType.TOPIC, durable=True, auto_delete=False
                    )
                self._exchanges.add(exchange)
            return channel

    # -- closing -------------------------------------------------------------------------
    async def close(self) -> None:
        """Close the publish channel and the connection (called once the run has stopped)."""
        self._closed = True
        backoff, self._backoff = self._backoff, None
        if backoff is not None:
            backoff.cancel()
            await asyncio.gather(backoff, return_exceptions=True)
        self._up.clear()
        connection, self._connection = self._connection, None
        channel, self._publish_channel = self._publish_channel, None
        self._exchanges.clear()
        if channel is not None:
            await _close_quietly(channel)
        if connection is not None:
            await _close_quietly(connection)


async def _close_quietly(closable: aio_pika.abc.AbstractRobustConnection | AbstractRobustChannel) -> None:
    try:
        await asyncio.wait_for(closable.close(), CLOSE_TIMEOUT)
    except (Exception, asyncio.CancelledError) as exc:
        if isinstance(exc, asyncio.CancelledError) and _cancelling():
            raise
        get_logger("tomodachi.amqp").debug("error while closing", error=f"{type(exc).__name__}: {exc}")


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0

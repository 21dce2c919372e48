"""The ``/metrics`` endpoint (``ops.metrics``): tomodachi's metrics in Prometheus naming.

Needs ``prometheus-client`` (``pip install "tomodachi[prometheus]"``), imported only when a
service sets ``ops.metrics``. While such a service runs, a :class:`PrometheusInstrumentation`
is plugged into ``tomodachi.observability`` (next to OpenTelemetry's, if that is on too) and
records into ``prometheus_client``'s default registry, which the endpoint serves:

==============================================  =========  ===========================================
metric                                          type       labels
==============================================  =========  ===========================================
``tomodachi_http_server_request_duration_seconds``  histogram  ``method``, ``route``, ``status``
``tomodachi_http_server_active_requests``       gauge      ``method``, ``route``
``tomodachi_messaging_process_duration_seconds``  histogram  ``system``, ``destination``, ``handler``
``tomodachi_messaging_active_messages``         gauge      ``system``, ``handler``
``tomodachi_messaging_messages_total``          counter    ``system``, ``handler``, ``result``
``tomodachi_messaging_published_total``         counter    ``system``, ``destination``
``tomodachi_schedule_duration_seconds``         histogram  ``function``
``tomodachi_schedule_runs_total``               counter    ``function``, ``result``
``tomodachi_schedule_skipped_total``            counter    ``function``
``tomodachi_schedule_lateness_seconds``         histogram  ``function``
``tomodachi_transport_ready``                   gauge      ``service``, ``transport``
==============================================  =========  ===========================================

``result`` is ``handled``, ``retry``, ``dead_lettered`` or ``dropped``; ``tomodachi_transport_ready``
(1 or 0: a broker connection up or reconnecting) is read at each scrape.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from tomodachi.errors import ConfigurationError
from tomodachi.observability import Instrumentation, install, uninstall

if TYPE_CHECKING:
    from aiohttp import web

    from tomodachi.messaging.pipeline import MessageHandler, Outcome
    from tomodachi.messaging.retry import Decision
    from tomodachi.service import Service

__all__ = ["PrometheusInstrumentation", "acquire", "check_available", "release", "render"]

T = TypeVar("T")

_SYSTEMS = {"amqp": "rabbitmq", "aws_sns_sqs": "aws_sqs", "sqs": "aws_sqs", "redis_queue": "redis"}


def check_available() -> None:
    """Raise ``ConfigurationError`` naming the extra when ``prometheus_client`` is missing."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            "option 'ops.metrics' needs prometheus-client: pip install \"tomodachi[prometheus]\""
        ) from exc


class PrometheusInstrumentation(Instrumentation):
    """Records tomodachi's metrics with ``prometheus_client`` (no OpenTelemetry needed)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.http_duration = Histogram(
            "tomodachi_http_server_request_duration_seconds",
            "Duration of HTTP server requests.",
            ["method", "route", "status"],
        )
        self.http_active = Gauge(
            "tomodachi_http_server_active_requests", "HTTP server requests in flight.", ["method", "route"]
        )
        self.message_duration = Histogram(
            "tomodachi_messaging_process_duration_seconds",
            "Duration of handling one message.",
            ["system", "destination", "handler"],
        )
        self.message_active = Gauge(
            "tomodachi_messaging_active_messages", "Messages being handled.", ["system", "handler"]
        )
        self.messages = Counter(
            "tomodachi_messaging_messages",
            "Deliveries settled, by result: handled, retry, dead_lettered, dropped.",
            ["system", "handler", "result"],
        )
        self.published = Counter(
            "tomodachi_messaging_published", "Messages published or sent.", ["system", "destination"]
        )
        self.schedule_duration = Histogram(
            "tomodachi_schedule_duration_seconds", "Duration of scheduled function runs.", ["function"]
        )
        self.schedule_runs = Counter(
            "tomodachi_schedule_runs", "Scheduled function runs, by result.", ["function", "result"]
        )
        self.schedule_skips = Counter(
            "tomodachi_schedule_skipped",
            "Scheduled runs skipped because the previous ones were still running.",
            ["function"],
        )
        self.schedule_lateness = Histogram(
            "tomodachi_schedule_lateness_seconds", "How late a scheduled run started.", ["function"]
        )
        self.transport_ready = Gauge(
            "tomodachi_transport_ready",
            "1 while a transport is ready (a broker connection up), else 0.",
            ["service", "transport"],
        )
        self._routes: dict[int, str] = {}

    async def http(
        self, endpoint: Any, request: web.BaseRequest, groups: Mapping[str, str | None], transport: Any
    ) -> web.StreamResponse:
        key = id(endpoint)
        route = self._routes.get(key)
        if route is None:
            found = transport.route_of(endpoint) if hasattr(transport, "route_of") else None
            route = self._routes[key] = str(found or "").removeprefix("^").removesuffix("$")
        method = request.method
        active = self.http_active.labels(method, route)
        active.inc()
        started = time.perf_counter()
        status = 500
        try:
            response: web.StreamResponse = await endpoint(request, groups)
            status = response.status
            return response
        finally:
            active.dec()
            self.http_duration.labels(method, route, str(status)).observe(time.perf_counter() - started)

    async def message(
        self, handler: MessageHandler, payload: str, values: dict[str, Any], message_id: str
    ) -> Outcome:
        system = _SYSTEMS.get(handler.kind, handler.kind)
        key = getattr(handler, "positional_key", None)
        destination = str(values.get(key, "") if key else "") or handler.name
        active = self.message_active.labels(system, handler.name)
        active.inc()
        started = time.perf_counter()
        try:
            outcome = await handler.deliver(payload, values, message_id=message_id)
        finally:
            active.dec()
            self.message_duration.labels(system, destination, handler.name).observe(
                time.perf_counter() - started
            )
        from tomodachi.messaging.pipeline import Settle

        if outcome.settle is Settle.ACK:
            self.messages.labels(system, handler.name, "handled").inc()
        return outcome

    def decided(
        self, handler: MessageHandler, outcome: Outcome, decision: Decision, message_id: str | None
    ) -> None:
        from tomodachi.messaging.retry import Verdict

        verdict = decision.verdict
        if verdict is Verdict.ACK:
            return
        results = {Verdict.RETRY: "retry", Verdict.DEAD_LETTER: "dead_lettered", Verdict.DROP: "dropped"}
        result = results[verdict]
        self.messages.labels(_SYSTEMS.get(handler.kind, handler.kind), handler.name, result).inc()

    async def publish(
        self, send: Callable[[dict[str, str]], Awaitable[T]], kind: str, service: Any, destination: str
    ) -> T:
        result = await send({})
        self.published.labels(_SYSTEMS.get(kind, kind), destination).inc()
        return result

    async def scheduled(
        self,
        call: Callable[[dict[str, Any]], Awaitable[Any]],
        values: dict[str, Any],
        service: Any,
        handler: str,
    ) -> Any:
        due = values.get("scheduled_time")
        if isinstance(due, datetime):
            lateness = max(0.0, (datetime.now(UTC) - due).total_seconds())
            self.schedule_lateness.labels(handler).observe(lateness)
        started = time.perf_counter()
        result = "ok"
        try:
            return await call(values)
        except BaseException:
            result = "error"
            raise
        finally:
            self.schedule_runs.labels(handler, result).inc()
            self.schedule_duration.labels(handler).observe(time.perf_counter() - started)

    def schedule_skipped(self, service: Any, handler: str) -> None:
        self.schedule_skips.labels(handler).inc()

    def observe_readiness(self, services: list[Service]) -> None:
        from tomodachi.ops import readiness_report

        _ready, body = readiness_report(services)
        for name, report in body["services"].items():
            for transport, ready in report["transports"].items():
                self.transport_ready.labels(name, transport).set(1 if ready else 0)


# The metrics are registered once per process (prometheus_client's registry is global);
# the instrumentation is plugged in while at least one service with ops.metrics runs.
_instance: PrometheusInstrumentation | None = None
_users = 0


def acquire() -> PrometheusInstrumentation:
    """Plug the Prometheus instrumentation in (counted: one per running ``ops.metrics`` service)."""
    global _instance, _users
    if _instance is None:
        _instance = PrometheusInstrumentation()
    _users += 1
    install(_instance)
    return _instance


def release() -> None:
    """The counterpart of :func:`acquire`; the last one takes the instrumentation out."""
    global _users
    _users = max(0, _users - 1)
    if _users == 0 and _instance is not None:
        uninstall(_instance)


def render(services: list[Service] | None = None) -> tuple[bytes, str]:
    """``(body, content type)`` of the Prometheus text exposition of the default registry."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    if services and _instance is not None:
        _instance.observe_readiness(services)
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

"""The OpenTelemetry side of ``tomodachi.observability``: spans, metrics and trace context.

Plugged into the shared layers by :class:`~tomodachi.opentelemetry.TomodachiInstrumentor`; no
transport carries OpenTelemetry code of its own.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.metrics import Meter
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer

from tomodachi.messaging.pipeline import Settle
from tomodachi.messaging.retry import Verdict
from tomodachi.observability import Instrumentation, message_headers

if TYPE_CHECKING:
    from aiohttp import web

    from tomodachi.messaging.pipeline import MessageHandler, Outcome
    from tomodachi.messaging.retry import Decision

T = TypeVar("T")

#: ``messaging.system`` of the built-in kinds (a custom transport's kind is used as it is).
MESSAGING_SYSTEMS = {"amqp": "rabbitmq", "aws_sns_sqs": "aws_sqs", "sqs": "aws_sqs", "redis_queue": "redis"}
#: Spans of unfinished deliveries waiting for their retry policy's decision, at most.
_PENDING_LIMIT = 10_000


class _HeaderGetter(Getter[Mapping[str, Any]]):
    """Reads W3C headers from message metadata (values may be bytes, lists, or SNS dicts)."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            return None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, Mapping):  # an undecoded SNS/SQS attribute
            value = value.get("StringValue") or value.get("Value")
        if isinstance(value, list | tuple):
            return [str(v) for v in value]
        return None if value is None else [str(value)]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return list(carrier)


_GETTER = _HeaderGetter()


def excluded_urls_pattern(excluded: str | Iterable[str] | None) -> re.Pattern[str] | None:
    """A regex matching any of the comma-separated *excluded* URL patterns (searched in the URL)."""
    if excluded is None:
        return None
    items = [p.strip() for p in (excluded.split(",") if isinstance(excluded, str) else excluded)]
    items = [p for p in items if p]
    return re.compile("|".join(f"(?:{p})" for p in items)) if items else None


def _key(handler: MessageHandler, message_id: str) -> tuple[int, str, str]:
    """A delivery of a handler (the same through a chain of instrumentations, which wraps it)."""
    return (id(handler.service), handler.name, message_id)


class OpenTelemetryInstrumentation(Instrumentation):
    """Spans and metrics for HTTP requests, messages, publishes and scheduled runs."""

    def __init__(self, tracer: Tracer, meter: Meter, excluded_urls: re.Pattern[str] | None) -> None:
        self.tracer = tracer
        self.excluded_urls = excluded_urls
        self._pending: OrderedDict[tuple[int, str, str], Span] = OrderedDict()
        self._route_cache: dict[int, str] = {}
        self.http_duration = meter.create_histogram(
            "http.server.request.duration", unit="s", description="Duration of HTTP server requests."
        )
        self.http_active = meter.create_up_down_counter(
            "http.server.active_requests", unit="{request}", description="HTTP server requests in flight."
        )
        self.message_duration = meter.create_histogram(
            "messaging.process.duration", unit="s", description="Duration of handling one message."
        )
        self.message_active = meter.create_up_down_counter(
            "tomodachi.messaging.active_messages", unit="{message}", description="Messages being handled."
        )
        self.messages = meter.create_counter(
            "tomodachi.messaging.messages",
            unit="{message}",
            description="Deliveries settled, by result: handled, retry, dead_lettered, dropped.",
        )
        self.published = meter.create_counter(
            "tomodachi.messaging.published", unit="{message}", description="Messages published or sent."
        )
        self.schedule_duration = meter.create_histogram(
            "tomodachi.schedule.duration", unit="s", description="Duration of scheduled function runs."
        )
        self.schedule_runs = meter.create_counter(
            "tomodachi.schedule.runs", unit="{run}", description="Scheduled function runs, by result."
        )
        self.schedule_skips = meter.create_counter(
            "tomodachi.schedule.skipped",
            unit="{run}",
            description="Scheduled runs skipped because the previous ones were still running.",
        )
        self.schedule_lateness = meter.create_histogram(
            "tomodachi.schedule.lateness", unit="s", description="How late a scheduled run started."
        )

    # -- HTTP ----------------------------------------------------------------------------
    def _route(self, endpoint: Any, transport: Any) -> str:
        key = id(endpoint)
        route = self._route_cache.get(key)
        if route is None:
            found = transport.route_of(endpoint) if hasattr(transport, "route_of") else None
            route = self._route_cache[key] = str(found or "").removeprefix("^").removesuffix("$")
        return route

    async def http(
        self, endpoint: Any, request: web.BaseRequest, groups: Mapping[str, str | None], transport: Any
    ) -> web.StreamResponse:
        excluded = self.excluded_urls
        if excluded is not None and excluded.search(str(request.url)):
            response: web.StreamResponse = await endpoint(request, groups)
            return response
        route = self._route(endpoint, transport)
        method = request.method
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "http.route": route,
            "url.path": request.path,
            "url.scheme": request.scheme,
        }
        if request.query_string:
            attributes["url.query"] = request.query_string
        peer = request.remote
        if peer:
            attributes["client.address"] = peer
        agent = request.headers.get("User-Agent")
        if agent:
            attributes["user_agent.original"] = agent
        service = getattr(transport, "service", None)
        metric_attributes = {"http.request.method": method, "http.route": route}
        self.http_active.add(1, metric_attributes)
        started = time.perf_counter()
        span = self.tracer.start_span(
            f"{method} {route}" if route else method,
            context=propagate.extract(request.headers),
            kind=SpanKind.SERVER,
            attributes=attributes,
        )
        if service is not None:
            span.set_attribute("tomodachi.service", str(getattr(service, "name", "")))
        status = 500
        try:
            with trace.use_span(span, end_on_exit=False, record_exception=True, set_status_on_exception=True):
                response = await endpoint(request, groups)
            status = response.status
            return response
        finally:
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
            self.http_active.add(-1, metric_attributes)
            self.http_duration.record(
                time.perf_counter() - started, {**metric_attributes, "http.response.status_code": status}
            )

    def exception(self, exc: BaseException) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))

    # -- messages ------------------------------------------------------------------------
    async def message(
        self, handler: MessageHandler, payload: str, values: dict[str, Any], message_id: str
    ) -> Outcome:
        kind = handler.kind
        system = MESSAGING_SYSTEMS.get(kind, kind)
        key = getattr(handler, "positional_key", None)
        destination = str(values.get(key, "") if key else "") or handler.name
        parent = propagate.extract(message_headers(values), getter=_GETTER)
        producer = trace.get_current_span(parent).get_span_context()
        span = self.tracer.start_span(
            f"{destination} process",
            context=parent,
            kind=SpanKind.CONSUMER,
            links=[Link(producer)] if producer.is_valid else None,
            attributes={
                "messaging.system": system,
                "messaging.operation.type": "process",
                "messaging.operation.name": "process",
                "messaging.destination.name": destination,
                "messaging.message.id": message_id,
                "code.function": handler.name,
                "tomodachi.service": str(getattr(handler.service, "name", "")),
            },
        )
        metric_attributes = {
            "messaging.system": system,
            "messaging.destination.name": destination,
            "tomodachi.handler": handler.name,
        }
        self.message_active.add(1, metric_attributes)
        started = time.perf_counter()
        outcome: Outcome | None = None
        try:
            with trace.use_span(span, end_on_exit=False, record_exception=True, set_status_on_exception=True):
                outcome = await handler.deliver(payload, values, message_id=message_id)
            return outcome
        finally:
            self.message_active.add(-1, metric_attributes)
            reason = outcome.reason if outcome is not None else "cancelled"
            elapsed = time.perf_counter() - started
            self.message_duration.record(elapsed, {**metric_attributes, "outcome": reason})
            if outcome is None:
                span.end()
            else:
                span.set_attribute("tomodachi.outcome", reason)
                if outcome.error is not None and outcome.settle is not Settle.RETRY:
                    span.record_exception(outcome.error)
                    span.set_status(Status(StatusCode.ERROR, reason))
                if outcome.settle is Settle.ACK:
                    span.end()
                    self.messages.add(1, {**metric_attributes, "result": "handled"})
                else:  # ended by decided(), with the retry or dead-letter event
                    self._hold(_key(handler, message_id), span)

    def _hold(self, key: tuple[int, str, str], span: Span) -> None:
        pending = self._pending
        pending[key] = span
        while len(pending) > _PENDING_LIMIT:  # a transport that never asks decide(): end them
            pending.popitem(last=False)[1].end()

    def decided(
        self, handler: MessageHandler, outcome: Outcome, decision: Decision, message_id: str | None
    ) -> None:
        verdict = decision.verdict
        result = {
            Verdict.ACK: "handled",
            Verdict.RETRY: "retry",
            Verdict.DEAD_LETTER: "dead_lettered",
            Verdict.DROP: "dropped",
        }[verdict]
        span = self._pending.pop(_key(handler, message_id or ""), None)
        if span is not None:
            attributes: dict[str, Any] = {"attempt": decision.attempt, "reason": decision.reason}
            if verdict is Verdict.RETRY:
                attributes["delay"] = float(decision.delay or 0.0)
                span.add_event("retry", attributes)
            elif verdict is Verdict.DEAD_LETTER:
                span.add_event("dead_letter", attributes)
            elif verdict is Verdict.DROP:
                span.add_event("drop", attributes)
            span.end()
        if verdict is not Verdict.ACK or span is not None:
            kind = handler.kind
            self.messages.add(
                1,
                {
                    "messaging.system": MESSAGING_SYSTEMS.get(kind, kind),
                    "tomodachi.handler": handler.name,
                    "result": result,
                },
            )

    async def publish(
        self, send: Callable[[dict[str, str]], Awaitable[T]], kind: str, service: Any, destination: str
    ) -> T:
        system = MESSAGING_SYSTEMS.get(kind, kind)
        with self.tracer.start_as_current_span(
            f"{destination} publish",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": system,
                "messaging.operation.type": "send",
                "messaging.operation.name": "publish",
                "messaging.destination.name": destination,
                "tomodachi.service": str(getattr(service, "name", "")),
            },
        ):
            headers: dict[str, str] = {}
            propagate.inject(headers)
            result = await send(headers)
        self.published.add(1, {"messaging.system": system, "messaging.destination.name": destination})
        return result

    # -- schedules -----------------------------------------------------------------------
    async def scheduled(
        self,
        call: Callable[[dict[str, Any]], Awaitable[Any]],
        values: dict[str, Any],
        service: Any,
        handler: str,
    ) -> Any:
        attributes = {"code.function": handler, "tomodachi.service": str(getattr(service, "name", ""))}
        due = values.get("scheduled_time")
        if isinstance(due, datetime):
            self.schedule_lateness.record(
                max(0.0, (datetime.now(UTC) - due).total_seconds()), {"code.function": handler}
            )
        started = time.perf_counter()
        result = "ok"
        # A scheduled run starts a trace of its own (it is not caused by what ran before it).
        token = otel_context.attach(otel_context.Context())
        try:
            with self.tracer.start_as_current_span(handler, kind=SpanKind.INTERNAL, attributes=attributes):
                return await call(values)
        except BaseException:
            result = "error"
            raise
        finally:
            otel_context.detach(token)
            metric = {"code.function": handler, "result": result}
            self.schedule_runs.add(1, metric)
            self.schedule_duration.record(time.perf_counter() - started, {"code.function": handler})

    def schedule_skipped(self, service: Any, handler: str) -> None:
        self.schedule_skips.add(1, {"code.function": handler})

"""OpenTelemetry through the kit's hooks: HTTP spans, traces across services, logs, metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.trace import SpanKind, StatusCode

import tomodachi
from tests._support import wait_until
from tomodachi.testing import run_services

from .conftest import Telemetry


class Api(tomodachi.Service):
    name = "api"
    message_envelope = tomodachi.envelope.JsonBase

    @tomodachi.http("GET", r"/orders/(?P<order_id>[0-9]+)")
    async def order(self, request: Any, order_id: str) -> str:
        tomodachi.get_logger().info("looking up the order", order_id=order_id)
        await tomodachi.amqp_publish(self, {"order_id": order_id}, "orders.looked-up")
        return f"order {order_id}"

    @tomodachi.http("GET", r"/broken")
    async def broken(self) -> str:
        raise RuntimeError("it broke")

    @tomodachi.http("GET", r"/health")
    async def health(self) -> str:
        return "ok"


class Worker(tomodachi.Service):
    name = "worker"
    message_envelope = tomodachi.envelope.JsonBase
    seen: list[str]

    def __init__(self) -> None:
        self.seen = []

    @tomodachi.amqp("orders.#")
    async def handle(self, data: Any) -> None:
        self.seen.append(data["order_id"])
        if data["order_id"] == "13" and len(self.seen) == 1:
            raise tomodachi.RetryMessage("try again")


def by_name(telemetry: Telemetry) -> dict[str, Any]:
    return {span.name: span for span in telemetry.spans.get_finished_spans()}


async def test_http_server_spans(telemetry: Telemetry) -> None:
    class Plain(tomodachi.Service):
        name = "plain"

        @tomodachi.http("GET", r"/hello/(?P<who>\w+)")
        async def hello(self, who: str) -> str:
            return f"hello {who}"

        @tomodachi.http("GET", r"/broken")
        async def broken(self) -> str:
            raise RuntimeError("it broke")

        @tomodachi.http("GET", r"/health")
        async def health(self) -> str:
            return "ok"

    async with run_services(Plain) as app, app.client() as client:
        headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
        async with client.get("/hello/world?x=1", headers=headers) as response:
            assert response.status == 200
        async with client.get("/broken") as response:
            assert response.status == 500
        async with client.get("/health") as response:  # excluded
            assert response.status == 200
    spans = by_name(telemetry)
    assert set(spans) == {r"GET /hello/(?P<who>\w+)", "GET /broken"}
    hello = spans[r"GET /hello/(?P<who>\w+)"]
    assert hello.kind is SpanKind.SERVER
    assert hello.attributes["http.route"] == r"/hello/(?P<who>\w+)"
    assert hello.attributes["http.response.status_code"] == 200
    assert hello.attributes["url.path"] == "/hello/world"
    assert format(hello.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"  # the caller's trace
    broken = spans["GET /broken"]
    assert broken.status.status_code is StatusCode.ERROR
    assert [e.name for e in broken.events] == ["exception"]
    assert broken.events[0].attributes["exception.type"] == "RuntimeError"
    points = telemetry.metric_points("http.server.request.duration")
    assert {p.attributes["http.route"] for p in points} == {r"/hello/(?P<who>\w+)", "/broken"}


async def test_a_trace_crosses_two_services_in_memory_with_logs_and_retries(telemetry: Telemetry) -> None:
    async with run_services(Api, Worker) as app, app.client(Api) as client:
        async with client.get("/orders/13") as response:
            assert response.status == 200
        worker = app[Worker]
        await wait_until(lambda: len(worker.seen) == 2, within=10, what="handled after a retry")  # type: ignore[attr-defined]
        await asyncio.sleep(0.05)
        logs = [r for r in app.logs if r.get("message") == "looking up the order"]
    spans = telemetry.spans.get_finished_spans()
    server = next(s for s in spans if s.kind is SpanKind.SERVER)
    producer = next(s for s in spans if s.kind is SpanKind.PRODUCER)
    consumers = [s for s in spans if s.kind is SpanKind.CONSUMER]
    assert producer.name == "orders.looked-up publish"
    assert producer.parent is not None and producer.parent.span_id == server.context.span_id
    assert len(consumers) == 2
    first = consumers[0]
    assert first.name == "orders.looked-up process"
    assert first.attributes is not None and first.attributes["messaging.system"] == "rabbitmq"
    # One trace: the HTTP request, the publish, and each delivery of the message.
    assert {s.context.trace_id for s in spans} == {server.context.trace_id}
    assert first.parent is not None and first.parent.span_id == producer.context.span_id
    assert [link.context.span_id for link in first.links] == [producer.context.span_id]
    events = [e.name for c in consumers for e in c.events]
    assert events == ["retry"]
    # Log lines written inside the span carry its ids.
    assert logs and logs[0]["trace_id"] == format(server.context.trace_id, "032x")
    assert logs[0]["span_id"] == format(server.context.span_id, "016x")
    results = {
        p.attributes["result"]: p.value for p in telemetry.metric_points("tomodachi.messaging.messages")
    }
    assert results == {"retry": 1, "handled": 1}


async def test_dead_letters_and_scheduled_runs(telemetry: Telemetry) -> None:
    ran = asyncio.Event()

    class Jobs(tomodachi.Service):
        name = "jobs"
        options = tomodachi.Options(retry={"max_attempts": 1})

        @tomodachi.amqp("jobs.fail")
        async def fail(self, message: Any) -> None:
            raise ValueError("never works")

        @tomodachi.schedule(interval=1, immediately=True)
        async def tick(self) -> None:
            ran.set()

    async with run_services(Jobs) as app:
        await asyncio.wait_for(ran.wait(), 5)
        await app.publish_amqp("jobs.fail", "x")
        await wait_until(
            lambda: any(s.kind is SpanKind.CONSUMER for s in telemetry.spans.get_finished_spans()),
            within=5,
            what="the consumer span",
        )
    spans = by_name(telemetry)
    consumer = spans["jobs.fail process"]
    assert consumer.status.status_code is StatusCode.ERROR
    assert [e.name for e in consumer.events] == ["exception", "dead_letter"] or [
        e.name for e in consumer.events
    ] == ["exception", "drop"]
    tick = spans["tick"]
    assert tick.kind is SpanKind.INTERNAL and tick.attributes["code.function"] == "tick"
    assert telemetry.metric_points("tomodachi.schedule.runs")


@pytest.mark.parametrize("module", ["opentelemetry", "prometheus_client"])
def test_import_tomodachi_imports_no_instrumentation(module: str) -> None:
    import subprocess
    import sys

    code = (
        "import sys, tomodachi, tomodachi.transport.http, tomodachi.messaging.pipeline\n"
        f"loaded = [m for m in sys.modules if m == {module!r} or m.startswith({module!r} + '.')]\n"
        "assert not loaded, loaded\n"
        "from tomodachi.observability import hooks\n"
        "assert hooks.active is None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_instrumentation_off_uses_no_hook() -> None:
    from tomodachi.observability import hooks

    assert hooks.active is None
    async with run_services(Api) as app, aiohttp.ClientSession() as session:
        async with session.get(app.url("/health")) as response:
            assert response.status == 200


async def test_a_websocket_connection_is_one_server_span(telemetry: Telemetry) -> None:
    class Chat(tomodachi.Service):
        name = "chat"

        @tomodachi.websocket(r"/chat/(?P<room>\w+)")
        async def chat(self, websocket: Any, request: Any, room: str) -> Any:
            async def receive(data: str) -> None:
                await websocket.send_str(f"{room}: {data}")

            return receive

    async with run_services(Chat) as app, app.client() as client:
        async with client.ws_connect("/chat/lobby") as ws:
            await ws.send_str("hi")
            assert (await ws.receive_str()) == "lobby: hi"
        await wait_until(
            lambda: telemetry.spans.get_finished_spans(), within=5, what="the websocket connection's span"
        )
    (span,) = telemetry.spans.get_finished_spans()
    assert span.name == r"GET /chat/(?P<room>\w+)" and span.kind is SpanKind.SERVER
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 101

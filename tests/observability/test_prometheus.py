"""``ops.metrics``: the Prometheus endpoint, scraped with a real HTTP client and parsed."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families

import tomodachi
from tests._support import wait_until
from tomodachi.observability import hooks
from tomodachi.ops.transport import OpsTransport
from tomodachi.runtime import runtime_of
from tomodachi.testing import run_services


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= set(ls))


async def scrape(port: int, path: str = "/metrics") -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, response.headers["Content-Type"], await response.text()


@pytest.mark.parametrize("ops_port", [None, 0])
async def test_metrics_endpoint_exposes_requests_messages_and_schedules(ops_port: int | None) -> None:
    ticked = asyncio.Event()

    class Shop(tomodachi.Service):
        name = f"shop-{ops_port}"
        options = tomodachi.Options(ops={"metrics": True, "health": True, "port": ops_port})
        done: list[Any]

        def __init__(self) -> None:
            self.done = []

        @tomodachi.http("GET", r"/items/(?P<item>\w+)")
        async def item(self, item: str) -> str:
            await tomodachi.amqp_publish(self, item, "items.viewed")
            return item

        @tomodachi.amqp("items.viewed")
        async def viewed(self, message: str) -> None:
            self.done.append(message)
            if message == "bad":
                raise tomodachi.RetryMessage()

        @tomodachi.schedule(interval=60, immediately=True)
        async def tick(self) -> None:
            ticked.set()

    async with run_services(Shop, options={"retry.max_attempts": 2, "retry.initial_delay": 0}) as app:
        assert hooks.active is not None
        service = app.service
        shop_port = service.context["_http_port"]
        ops = runtime_of(service).transport(service, OpsTransport)
        assert ops is not None and ops.port is not None
        async with aiohttp.ClientSession() as session:
            for item in ("a", "b", "bad"):
                async with session.get(f"http://127.0.0.1:{shop_port}/items/{item}") as response:
                    assert response.status == 200
        await asyncio.wait_for(ticked.wait(), 5)
        await wait_until(lambda: len(service.done) == 4, within=5, what="messages")  # type: ignore[attr-defined]
        status, content_type, text = await scrape(ops.port)
    assert hooks.active is None  # released with the service
    assert status == 200 and content_type.startswith("text/plain")
    found = samples(text)
    route = r"/items/(?P<item>\w+)"
    requests = "tomodachi_http_server_request_duration_seconds_count"
    assert value(found, requests, route=route, status="200") >= 3
    assert value(found, "tomodachi_messaging_messages_total", handler="viewed", result="handled") >= 2
    assert value(found, "tomodachi_messaging_messages_total", handler="viewed", result="retry") >= 1
    assert value(found, "tomodachi_messaging_messages_total", handler="viewed", result="dead_lettered") >= 1
    assert value(found, "tomodachi_messaging_published_total", destination="items.viewed") >= 3
    assert value(found, "tomodachi_schedule_runs_total", function="tick", result="ok") >= 1
    assert value(found, "tomodachi_transport_ready", service=f"shop-{ops_port}", transport="amqp") == 1
    assert "tomodachi_http_server_active_requests" in text


async def test_metrics_without_prometheus_client_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from tomodachi.ops.prometheus import check_available

    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(tomodachi.ConfigurationError, match=r"tomodachi\[prometheus\]"):
        check_available()


def test_prometheus_settings_from_the_original_variables() -> None:
    from tomodachi.opentelemetry.prometheus import PrometheusSettings, prometheus_settings

    assert prometheus_settings({}) == PrometheusSettings()
    settings = prometheus_settings(
        {
            "OTEL_PYTHON_TOMODACHI_PROMETHEUS_ADDRESS": "0.0.0.0",
            "OTEL_TOMODACHI_PROMETHEUS_PORT": "9999",
            "OTEL_PYTHON_TOMODACHI_PROMETHEUS_NAMESPACE_PREFIX": "shop",
            "OTEL_PYTHON_TOMODACHI_PROMETHEUS_INCLUDE_TARGET_INFO": "false",
        }
    )
    assert (settings.address, settings.port, settings.namespace_prefix) == ("0.0.0.0", 9999, "shop_")
    assert settings.include_target_info is False and settings.include_scope_info is True
    assert prometheus_settings({"OTEL_EXPORTER_PROMETHEUS_PORT": "9465"}).port == 9465


SCRIPT = """
import asyncio, socket, urllib.request
from opentelemetry import metrics
from tomodachi.opentelemetry.configurator import TomodachiConfigurator
from tomodachi.opentelemetry import TomodachiInstrumentor
import tomodachi
from tomodachi.testing import run_services

TomodachiConfigurator().configure()
provider = metrics.get_meter_provider()
assert type(provider).__name__ == "TomodachiPrometheusMeterProvider", provider
TomodachiInstrumentor().instrument()

class Api(tomodachi.Service):
    name = "api"

    @tomodachi.http("GET", r"/ping")
    async def ping(self) -> str:
        return "pong"

async def main() -> None:
    async with run_services(Api) as app, app.client() as client:
        async with client.get("/ping") as response:
            assert response.status == 200

asyncio.run(main())
port = int(__import__("os").environ["OTEL_PYTHON_TOMODACHI_PROMETHEUS_PORT"])
print(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode())
"""


def test_tomodachi_prometheus_meter_provider_serves_opentelemetry_metrics() -> None:
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "OTEL_PYTHON_METER_PROVIDER": "tomodachi_prometheus",
        "OTEL_PYTHON_TOMODACHI_PROMETHEUS_ADDRESS": "127.0.0.1",
        "OTEL_PYTHON_TOMODACHI_PROMETHEUS_PORT": str(port),
        "OTEL_PYTHON_TOMODACHI_PROMETHEUS_NAMESPACE_PREFIX": "shop",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    names = {family.name for family in text_string_to_metric_families(result.stdout)}
    assert "shop_http_server_request_duration_seconds" in names, sorted(names)


async def test_opentelemetry_and_prometheus_at_once(telemetry: Any) -> None:
    from opentelemetry.trace import SpanKind

    class Both(tomodachi.Service):
        name = "both"
        options = tomodachi.Options(ops={"metrics": True})
        attempts = 0

        @tomodachi.amqp("both.x")
        async def handle(self, message: str) -> None:
            type(self).attempts += 1
            if type(self).attempts == 1:
                raise tomodachi.RetryMessage()

    async with run_services(Both, options={"retry.initial_delay": 0}) as app:
        await app.publish_amqp("both.x", "m")
        await wait_until(lambda: Both.attempts == 2, within=5, what="handled after a retry")
        await asyncio.sleep(0.05)
        port = runtime_of(app.service).transport(app.service, OpsTransport).port  # type: ignore[union-attr]
        assert port is not None
        _status, _type, text = await scrape(port)
    consumers = [s for s in telemetry.spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert [[e.name for e in s.events] for s in consumers] == [["retry"], []]
    assert value(samples(text), "tomodachi_messaging_messages_total", handler="handle", result="retry") >= 1

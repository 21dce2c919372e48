"""An instrumented process for a test: in-memory span exporter and metric reader.

OpenTelemetry is imported by the ``telemetry`` fixture only, so the health tests run without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class Telemetry:
    spans: Any
    """An ``InMemorySpanExporter``."""
    metrics: Any
    """An ``InMemoryMetricReader``."""

    def metric_points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        points: list[Any] = []
        if data is None:
            return points
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tomodachi.observability import hooks
    from tomodachi.opentelemetry import TomodachiInstrumentor

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentor = TomodachiInstrumentor()
    instrumentor.instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider, excluded_urls="/health"
    )
    try:
        yield Telemetry(exporter, reader)
    finally:
        instrumentor.uninstrument()
        assert hooks.active is None
        tracer_provider.shutdown()
        meter_provider.shutdown()

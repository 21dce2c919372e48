"""``TomodachiInstrumentor``: OpenTelemetry for every tomodachi service of the process."""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from tomodachi.__version__ import __version__
from tomodachi.observability import install, uninstall

from ._hooks import OpenTelemetryInstrumentation, excluded_urls_pattern
from .logs import add_trace_context

__all__ = ["TomodachiInstrumentor"]

#: Read in this order when ``instrument()`` gets no ``excluded_urls`` (the original's names).
EXCLUDED_URLS_VARIABLES = (
    "OTEL_PYTHON_TOMODACHI_EXCLUDED_URLS",
    "OTEL_PYTHON_AIOHTTP_EXCLUDED_URLS",
    "OTEL_PYTHON_EXCLUDED_URLS",
)


def _excluded_urls_from_environment() -> str | None:
    for name in EXCLUDED_URLS_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value
    return None


class TomodachiInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the HTTP endpoints, message handlers (every message transport, built-in or
    written on the kit), publishes and scheduled functions of the process, and adds
    ``trace_id`` / ``span_id`` to tomodachi's log lines while a span is active.

    ``TomodachiInstrumentor().instrument(tracer_provider=, meter_provider=, logger_provider=,
    excluded_urls="/health,/metrics")``; ``uninstrument()`` takes it all out again. Loaded by
    ``opentelemetry-instrument`` through the ``opentelemetry_instrumentor`` entry point, and by
    ``tomodachi run --opentelemetry-instrument``.
    """

    _instrumentation: OpenTelemetryInstrumentation | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        tracer_provider = kwargs.get("tracer_provider")
        meter_provider = kwargs.get("meter_provider")
        excluded = kwargs.get("excluded_urls")
        if excluded is None:
            excluded = _excluded_urls_from_environment()
        tracer = trace.get_tracer("tomodachi", __version__, tracer_provider)
        meter = metrics.get_meter("tomodachi", __version__, meter_provider)
        instrumentation = OpenTelemetryInstrumentation(tracer, meter, excluded_urls_pattern(excluded))
        TomodachiInstrumentor._instrumentation = instrumentation
        install(instrumentation)
        _add_log_processor()

    def _uninstrument(self, **kwargs: Any) -> None:
        instrumentation = TomodachiInstrumentor._instrumentation
        TomodachiInstrumentor._instrumentation = None
        if instrumentation is not None:
            uninstall(instrumentation)
        _remove_log_processor()


def _add_log_processor() -> None:
    from tomodachi.logging.config import set_persistent_processor

    set_persistent_processor(add_trace_context)


def _remove_log_processor() -> None:
    from tomodachi.logging.config import set_persistent_processor

    set_persistent_processor(add_trace_context, enabled=False)

"""``tomodachi run --opentelemetry-instrument``: what ``opentelemetry-instrument`` would do."""

from __future__ import annotations

__all__ = ["instrument_from_environment"]


def instrument_from_environment() -> None:
    """Load the OpenTelemetry distro, configurator and instrumentors (entry points), as
    ``opentelemetry-instrument`` does, configured by the ``OTEL_*`` environment variables;
    then make sure tomodachi itself is instrumented (also when its entry points are not
    installed, e.g. running from a source tree)."""
    from opentelemetry.instrumentation.auto_instrumentation import initialize

    from .instrumentor import TomodachiInstrumentor

    initialize()
    instrumentor = TomodachiInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()

"""OpenTelemetry for tomodachi services (``pip install "tomodachi[opentelemetry]"``).

``from tomodachi.opentelemetry import TomodachiInstrumentor`` then
``TomodachiInstrumentor().instrument(tracer_provider=..., meter_provider=...)``; or run with
``tomodachi run --opentelemetry-instrument`` / ``TOMODACHI_OPENTELEMETRY_INSTRUMENT=1`` /
``opentelemetry-instrument tomodachi run``. See docs/observability.md.

Nothing imports this package unless you do: with instrumentation off, the framework's hot
paths pay one attribute check (``tomodachi.observability``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .distro import TomodachiDistro
    from .instrumentor import TomodachiInstrumentor

__all__ = ["MISSING_EXTRA", "TomodachiDistro", "TomodachiInstrumentor", "missing_extra"]

MISSING_EXTRA = (
    'OpenTelemetry instrumentation needs the opentelemetry extra: pip install "tomodachi[opentelemetry]"'
)


def missing_extra() -> str | None:
    """``None`` when the OpenTelemetry packages are importable, else the message to show."""
    try:
        import opentelemetry.instrumentation.instrumentor
        import opentelemetry.sdk  # noqa: F401
    except ImportError as exc:
        return f"{MISSING_EXTRA} ({exc})"
    return None


def __getattr__(name: str) -> Any:
    if name in ("TomodachiInstrumentor", "TomodachiDistro", "TomodachiConfigurator"):
        problem = missing_extra()
        if problem is not None:
            raise ImportError(problem)
        if name == "TomodachiInstrumentor":
            from .instrumentor import TomodachiInstrumentor

            return TomodachiInstrumentor
        if name == "TomodachiDistro":
            from .distro import TomodachiDistro

            return TomodachiDistro
        from .configurator import TomodachiConfigurator

        return TomodachiConfigurator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Log correlation: ``trace_id`` and ``span_id`` on tomodachi's log lines while a span is active."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace

__all__ = ["add_trace_context"]


def add_trace_context(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A tomodachi logging processor (console, JSON and python loggers alike): adds the active
    span's ``trace_id`` and ``span_id`` (hex, as in OpenTelemetry's exporters)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict

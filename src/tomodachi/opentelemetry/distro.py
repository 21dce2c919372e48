"""The ``opentelemetry_distro`` entry point: quiet defaults for ``opentelemetry-instrument``."""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.environment_variables import (
    OTEL_LOGS_EXPORTER,
    OTEL_METRICS_EXPORTER,
    OTEL_TRACES_EXPORTER,
)
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]

__all__ = ["TomodachiDistro"]


class TomodachiDistro(BaseDistro):  # type: ignore[misc]
    """Sets ``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER`` and ``OTEL_LOGS_EXPORTER`` to
    ``none`` unless they are set: nothing is exported until you say where to (``otlp``,
    ``console``), as the original does."""

    def _configure(self, **kwargs: Any) -> None:
        for name in (OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_LOGS_EXPORTER):
            os.environ.setdefault(name, "none")

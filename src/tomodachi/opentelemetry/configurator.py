"""The ``opentelemetry_configurator`` entry point: the SDK's providers from ``OTEL_*`` variables."""

from __future__ import annotations

import logging
import os
from typing import Any

# The SDK's configurator is what every distribution subclasses (opentelemetry-distro does too):
# it reads the OTEL_* environment and sets the global tracer, meter and logger providers.
from opentelemetry.sdk._configuration import _OTelSDKConfigurator

__all__ = ["TomodachiConfigurator"]

PROMETHEUS_METER_PROVIDER = "tomodachi_prometheus"


class TomodachiConfigurator(_OTelSDKConfigurator):
    """Configures the OpenTelemetry SDK from the environment (``OTEL_SERVICE_NAME``,
    ``OTEL_TRACES_EXPORTER=otlp``, ...). With ``OTEL_PYTHON_METER_PROVIDER=tomodachi_prometheus``
    the global meter provider is :class:`~tomodachi.opentelemetry.prometheus.TomodachiPrometheusMeterProvider`
    (the SDK's own set-up would otherwise replace it with one that exports nowhere)."""

    def _configure(self, **kwargs: Any) -> None:
        if os.environ.get("OTEL_PYTHON_METER_PROVIDER", "").strip() != PROMETHEUS_METER_PROVIDER:
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
            return
        from opentelemetry import metrics

        from .prometheus import TomodachiPrometheusMeterProvider

        metrics.set_meter_provider(TomodachiPrometheusMeterProvider())
        # The SDK then tries to set its own: refused (ours stays), without the warning line.
        quiet = logging.getLogger("opentelemetry.metrics._internal")
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
        finally:
            quiet.setLevel(level)

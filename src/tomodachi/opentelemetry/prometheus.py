"""``OTEL_PYTHON_METER_PROVIDER=tomodachi_prometheus``: OpenTelemetry metrics served to Prometheus.

Experimental, as in the original. A meter provider whose ``PrometheusMetricReader`` is scraped
from a ``prometheus_client`` HTTP server of its own, configured by (the first one set wins):

- ``OTEL_PYTHON_TOMODACHI_PROMETHEUS_ADDRESS`` (``localhost``; also ``OTEL_EXPORTER_PROMETHEUS_HOST``);
- ``..._PORT`` (``9464``; also ``OTEL_EXPORTER_PROMETHEUS_PORT``);
- ``..._NAMESPACE_PREFIX`` (``""``; an underscore is appended);
- ``..._INCLUDE_SCOPE_INFO`` (true), ``..._INCLUDE_TARGET_INFO`` (true);
- ``..._EXEMPLARS_ENABLED`` (false; read but not supported by the reader: ignored).

Each is also read as ``OTEL_TOMODACHI_PROMETHEUS_*``, and the host and port as
``OTEL_PYTHON_EXPORTER_PROMETHEUS_*``.

Needs ``pip install "tomodachi[opentelemetry-exporter-prometheus]"``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider

__all__ = ["PrometheusSettings", "TomodachiPrometheusMeterProvider", "prometheus_settings"]

_FALSE = ("", "0", "false", "no", "off", "none")


def _read(environ: Mapping[str, str], name: str, *aliases: str) -> str | None:
    for key in (f"OTEL_PYTHON_TOMODACHI_PROMETHEUS_{name}", f"OTEL_TOMODACHI_PROMETHEUS_{name}", *aliases):
        value = environ.get(key)
        if value is not None and value.strip():
            return value.strip()
    return None


def _flag(value: str | None, default: bool) -> bool:
    return default if value is None else value.lower() not in _FALSE


@dataclass(frozen=True)
class PrometheusSettings:
    address: str = "localhost"
    port: int = 9464
    namespace_prefix: str = ""
    include_scope_info: bool = True
    include_target_info: bool = True
    exemplars_enabled: bool = False


def prometheus_settings(environ: Mapping[str, str] | None = None) -> PrometheusSettings:
    """The settings from the environment variables above."""
    env = os.environ if environ is None else environ
    address = _read(env, "ADDRESS", "OTEL_PYTHON_EXPORTER_PROMETHEUS_HOST", "OTEL_EXPORTER_PROMETHEUS_HOST")
    port = _read(env, "PORT", "OTEL_PYTHON_EXPORTER_PROMETHEUS_PORT", "OTEL_EXPORTER_PROMETHEUS_PORT")
    prefix = _read(env, "NAMESPACE_PREFIX") or ""
    return PrometheusSettings(
        address=address or "localhost",
        port=int(port) if port else 9464,
        namespace_prefix=f"{prefix.rstrip('_')}_" if prefix else "",
        include_scope_info=_flag(_read(env, "INCLUDE_SCOPE_INFO"), True),
        include_target_info=_flag(_read(env, "INCLUDE_TARGET_INFO"), True),
        exemplars_enabled=_flag(_read(env, "EXEMPLARS_ENABLED"), False),
    )


class TomodachiPrometheusMeterProvider(MeterProvider):
    """An SDK ``MeterProvider`` read by Prometheus: starts a ``prometheus_client`` HTTP server on
    the configured address and port (``start_server=False`` for none: serve the default registry
    yourself, e.g. with ``ops.metrics``)."""

    def __init__(self, *, start_server: bool = True, **kwargs: Any) -> None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader

        settings = prometheus_settings()
        reader = PrometheusMetricReader(
            disable_target_info=not settings.include_target_info,
            prefix=settings.namespace_prefix.rstrip("_"),
            scope_info_enabled=settings.include_scope_info,
        )
        readers = [reader, *kwargs.pop("metric_readers", ())]
        super().__init__(metric_readers=readers, **kwargs)
        self.settings = settings
        if start_server:
            from prometheus_client import start_http_server

            start_http_server(settings.port, addr=settings.address)
